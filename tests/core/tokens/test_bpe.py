"""The teaching BPE against a from-scratch reference (recount every pair after each merge) and Wikipedia's example."""

from collections import Counter

import pytest

from core import PlaygroundError
from core.assets import ASSETS
from core.tokens.bpe import apply_steps, chunks_of, encode, merge_pair, pieces, train_bpe

CORPORA = ASSETS / "corpora"


def reference_bpe(text, n_merges, split=True):
    """The slow, obvious algorithm: recount all pairs from scratch each round."""
    words = [list(c.encode()) for c in chunks_of(text, split)]
    merges = []
    for rank in range(n_merges):
        counts = Counter()
        for w in words:
            counts.update(zip(w, w[1:]))
        if not counts:
            break
        top = max(counts.values())
        merges.append(top)
        best = next(p for w in words for p in zip(w, w[1:]) if counts[p] == top)  # first in text order
        words = [merge_pair(w, best, 256 + rank) for w in words]
    return merges, sum(len(w) for w in words)


def test_wikipedia_example():
    merges = train_bpe("aaabdaaabac", 3, split=False)
    assert [(m.pair, m.count, m.new_id) for m in merges] == [((97, 97), 4, 256), ((97, 98), 2, 257),
                                                             ((256, 257), 2, 258)]
    assert pieces(encode("aaabdaaabac", merges, split=False), merges) == ["aaab", "d", "aaab", "a", "c"]


@pytest.mark.parametrize("text", [
    "the cat sat on the mat with the other cat; the end",
    open(CORPORA / "the-verdict.txt").read()[:5000],
])
def test_counts_equal_the_from_scratch_reference(text):
    ours = train_bpe(text, 40)
    counts, total = reference_bpe(text, 40)
    assert [m.count for m in ours] == counts  # the count of every merge matches
    assert len(encode(text, ours)) == total  # and the text shrinks to the same length


def test_encode_round_trips_and_shrinks():
    text = open(CORPORA / "tinyshakespeare.txt").read()[:20000]
    merges = train_bpe(text, 100)
    ids = encode(text, merges)
    assert "".join(pieces(ids, merges)) == text
    assert len(ids) < len(text.encode()) * 0.7


def test_apply_steps_shows_each_change():
    merges = train_bpe("low lower lowest low low", 10)
    steps = apply_steps(" lowest", merges)
    assert steps[0][0] is None and steps[0][1] == list(b" lowest")
    assert all(len(b) < len(a) for (_, a), (_, b) in zip(steps, steps[1:]))


def test_bad_input():
    with pytest.raises(PlaygroundError):
        train_bpe("", 5)
    assert train_bpe("a", 5) == []  # nothing to merge is not an error
