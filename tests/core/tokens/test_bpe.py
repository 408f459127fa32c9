"""The teaching BPE against a from-scratch reference (recount every pair after each merge, pick as minbpe does)
and Wikipedia's example."""

from collections import Counter

import pytest

from core import PlaygroundError
from core.assets import ASSETS
from core.tokens.bpe import apply_steps, chunks_of, encode, merge_pair, merges_in_spec, pieces, train_bpe

CORPORA = ASSETS / "corpora"


def reference_merges(text, n_merges, split=True):
    """The slow, obvious algorithm, written like minbpe's RegexTokenizer.train: all pairs recounted each round;
    the highest count wins and `max` over the counts in the order the pairs were first met takes the pair seen
    first in the current text. Repeated chunks are counted once with their frequency, in the order of their first
    occurrence (a pair is first met in the first occurrence of a chunk, so the order is the same)."""
    chunks = Counter(chunks_of(text, split))
    words, freq = [list(c.encode()) for c in chunks], list(chunks.values())
    merges = []
    for rank in range(n_merges):
        counts = {}
        for w, n in zip(words, freq):
            for pair in zip(w, w[1:]):
                counts[pair] = counts.get(pair, 0) + n
        if not counts:
            break
        best = max(counts, key=counts.get)
        merges.append((best, counts[best]))
        words = [merge_pair(w, best, 256 + rank) for w in words]
    return merges, sum(len(w) * n for w, n in zip(words, freq))


def test_wikipedia_example():
    merges = train_bpe("aaabdaaabac", 3, split=False)
    # Wikipedia merges ab second; by the rule (the pair seen first wins a tie) (aa)a comes before ab.
    assert [(m.pair, m.count, m.new_id) for m in merges] == [((97, 97), 4, 256), ((256, 97), 2, 257),
                                                             ((257, 98), 2, 258)]
    assert pieces(encode("aaabdaaabac", merges, split=False), merges) == ["aaab", "d", "aaab", "a", "c"]


@pytest.mark.parametrize("text,n_merges", [
    ("the cat sat on the mat with the other cat; the end", 40),
    ("aaaa aaa aa a baaab " * 3, 10),  # overlapping pairs
    (open(CORPORA / "the-verdict.txt").read()[:5000], 60),
    (open(CORPORA / "goethe-faust-1.txt").read()[:8000], 80),  # umlauts: merges inside UTF-8 characters
], ids=["sentence", "overlaps", "verdict", "faust"])
def test_merges_equal_the_from_scratch_reference(text, n_merges):
    ours = train_bpe(text, n_merges)
    merges, total = reference_merges(text, n_merges)
    assert [(m.pair, m.count) for m in ours] == merges  # every pair, in order, with its count
    assert len(encode(text, ours)) == total  # and the text shrinks to the same length


def test_ties_go_to_the_pair_seen_first_on_shakespeare():
    """Issue 15.8: on the first 100,000 characters, merges 162-168 are all ties at 77; the earlier code stamped
    pairs made by a merge in set order and learned 'est' before 'ess'."""
    text = open(CORPORA / "tinyshakespeare.txt").read()[:100_000]
    ours = train_bpe(text, 168)
    merges, _ = reference_merges(text, 168)
    assert [m.pair for m in ours] == [pair for pair, _ in merges]
    tokens = [m.token for m in ours]
    assert tokens.index(b"ess") < tokens.index(b"est")
    assert [m.count for m in ours[161:168]] == [77] * 7


def test_encode_round_trips_and_shrinks():
    text = open(CORPORA / "tinyshakespeare.txt").read()[:20000]
    merges = train_bpe(text, 100)
    ids = encode(text, merges)
    assert "".join(pieces(ids, merges)) == text
    assert len(ids) < len(text.encode()) * 0.7


def test_encode_applies_merges_in_rank_order():
    """encode (lowest-rank pair first) equals applying every merge in turn, the definition."""
    text = open(CORPORA / "goethe-faust-1.txt").read()[:3000]
    merges = train_bpe(text, 120)
    for chunk in chunks_of(text)[:400]:
        ids = list(chunk.encode())
        for m in merges:
            ids = merge_pair(ids, m.pair, m.new_id)
        assert encode(chunk, merges) == ids


def test_apply_steps_shows_each_change():
    merges = train_bpe("low lower lowest low low", 10)
    steps = apply_steps(" lowest", merges)
    assert steps[0][0] is None and steps[0][1] == list(b" lowest")
    assert all(len(b) < len(a) for (_, a), (_, b) in zip(steps, steps[1:]))


def test_progress_is_reported():
    seen = []
    train_bpe(open(CORPORA / "the-verdict.txt").read(), 250, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 250) and seen[-1] == (250, 250) and (200, 250) in seen


def test_bad_input():
    with pytest.raises(PlaygroundError):
        train_bpe("", 5)
    with pytest.raises(PlaygroundError):
        train_bpe("abc", 20_001)
    assert train_bpe("a", 5) == []  # nothing to merge is not an error
    assert train_bpe("abab", 5)[-1].count == 1  # it merges until no pair is left
    assert merges_in_spec("bpe-2000") == 2000 and merges_in_spec("gpt2") is None
    with pytest.raises(PlaygroundError):
        merges_in_spec("bpe-0")
