"""Byte-level BPE for teaching (like minbpe), with every merge kept so a page can step through them.

Text is split into chunks by GPT-2's regex (merges never cross a chunk), each chunk becomes its UTF-8
bytes (ids 0–255), and each round merges the most frequent adjacent pair into a new id (256, 257, …).

The rule, as minbpe's: the pair with the highest count wins (overlapping occurrences such as the two
(a, a) in "aaa" both count); a tie goes to the pair whose first occurrence in the current text comes
first (chunks in text order, then left to right). `reference_merges` in the tests recounts everything
from scratch each round and picks exactly so.

Training is incremental, so 2,000 merges on 1 MB take seconds: identical chunks are counted once
(with their frequency); after a merge only the chunks that contained the pair are recounted; the
candidates wait in a heap keyed by (count, first occurrence). A first occurrence is kept as
(chunk index, byte offset), which merges never move; it can only move later when occurrences
vanish (a pair gains occurrences only in the merge that creates its newer token), so a heap entry
whose occurrence is gone is corrected when it reaches the top.

    >>> merges = train_bpe("aaabdaaabac", 3, split=False)  # Wikipedia's example
    >>> [(m.token, m.count) for m in merges]  # after aa, the tie (aa)a vs ab goes to (aa)a, seen first
    [(b'aa', 4), (b'aaa', 2), (b'aaab', 2)]

`build_tokenizer` turns merges into a tiktoken encoding (ranks = ids, <|endoftext|> after the last merge)
that core.tokens.encodings saves and loads as bpe.tiktoken + bpe.json.

Left out: other special tokens, GPT-2's byte-to-unicode remapping (we show raw bytes).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass

import regex
import tiktoken

from core.errors import PlaygroundError
from core.tokens.encodings import BPE_FORMAT, BPE_VERSION, ENDOFTEXT, SPECS, Tokenizer, bytes_to_display

GPT2_SPLIT = regex.compile(SPECS["gpt2"].pattern)
MAX_MERGES = 20_000
SPEC = regex.compile(r"bpe-(\d+)")  # a tokenizer to learn: "bpe-2000" is 2,000 merges


def merges_in_spec(name: str) -> int | None:
    """2000 for "bpe-2000"; None for anything else (a shipped encoding or a folder).

    >>> merges_in_spec("bpe-2000"), merges_in_spec("gpt2")
    (2000, None)
    """
    match = SPEC.fullmatch(str(name))
    if match is None:
        return None
    merges = int(match.group(1))
    if not 1 <= merges <= MAX_MERGES:
        raise PlaygroundError("A tokenizer to learn needs between 1 and 20,000 merges, not {merges}.", merges=merges)
    return merges


def vocab_size(n_merges: int) -> int:
    """The 256 bytes, one token per merge, and <|endoftext|>."""
    return 256 + n_merges + 1


@dataclass(frozen=True)
class Merge:
    rank: int  # 0 for the first merge
    pair: tuple[int, int]
    new_id: int
    count: int  # how often the pair occurred when it was merged
    token: bytes  # the bytes the new id stands for

    @property
    def text(self) -> str:
        return bytes_to_display(self.token)


def chunks_of(text: str, split: bool = True) -> list[str]:
    return GPT2_SPLIT.findall(text) if split else [text]


def _pairs(seq):
    return zip(seq, seq[1:])


def train_bpe(text: str, n_merges: int, split: bool = True, progress=None) -> list[Merge]:
    """Learn up to n_merges merges (fewer when no pair is left). progress(done, n_merges) is called now and then."""
    if not text:
        raise PlaygroundError("BPE needs some text to learn from.")
    if n_merges < 0 or n_merges > MAX_MERGES:
        raise PlaygroundError("The number of merges must be between 0 and 20,000, not {n_merges}.", n_merges=n_merges)
    freq = Counter(chunks_of(text, split))  # keeps the order of first occurrence
    words = [list(w.encode("utf-8")) for w in freq]
    counts = list(freq.values())
    vocab = {i: bytes([i]) for i in range(256)}
    pair_count: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks that contain it
    first: dict[tuple[int, int], tuple[int, int]] = {}  # pair -> (chunk, byte offset), never later than the truth
    for wi, word in enumerate(words):
        offset = 0
        for pair in _pairs(word):
            pair_count[pair] += counts[wi]
            where[pair].add(wi)
            first.setdefault(pair, (wi, offset))
            offset += 1
    heap = [(-count, first[pair], pair) for pair, count in pair_count.items()]
    heapq.heapify(heap)

    def occurs_at(pair, wi, offset) -> bool:
        at = 0
        for a, b in _pairs(words[wi]):
            if at == offset:
                return (a, b) == pair
            if at > offset:
                return False
            at += len(vocab[a])
        return False

    def true_first(pair) -> tuple[int, int]:
        wi = min(where[pair])
        at = 0
        for p in _pairs(words[wi]):
            if p == pair:
                return wi, at
            at += len(vocab[p[0]])
        raise AssertionError("where[] lists a chunk without the pair")

    def pop_best():
        while heap:
            neg_count, stamp, pair = heap[0]
            if pair_count.get(pair, 0) != -neg_count or first.get(pair) != stamp:
                heapq.heappop(heap)  # an older entry of this pair
            elif not occurs_at(pair, *stamp):
                first[pair] = true_first(pair)  # its first occurrence was merged away
                heapq.heapreplace(heap, (neg_count, first[pair], pair))
            else:
                return pair
        return None

    merges = []
    for rank in range(n_merges):
        if progress is not None and rank % 100 == 0:
            progress(rank, n_merges)
        best = pop_best()
        if best is None:
            break
        new_id = 256 + rank
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        merges.append(Merge(rank, best, new_id, pair_count[best], vocab[new_id]))
        touched = set()
        for wi in sorted(where.pop(best)):  # in text order, so a new pair's first stamp is its true first
            word, count = words[wi], counts[wi]
            for pair in _pairs(word):  # take the old pairs out...
                pair_count[pair] -= count
                where[pair].discard(wi)
                touched.add(pair)
            word = merge_pair(word, best, new_id)
            words[wi] = word
            offset = 0
            for pair in _pairs(word):  # ...and the new ones in
                pair_count[pair] += count
                where[pair].add(wi)
                first.setdefault(pair, (wi, offset))
                touched.add(pair)
                offset += len(vocab[pair[0]])
        for pair in touched:
            if pair_count[pair] > 0:
                heapq.heappush(heap, (-pair_count[pair], first[pair], pair))
            else:  # gone for good: a pair never comes back once its last occurrence is merged
                del pair_count[pair], first[pair]
                where.pop(pair, None)
    if progress is not None:
        progress(len(merges), n_merges)
    return merges


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of pair, left to right.

    >>> merge_pair([1, 1, 1, 2], (1, 1), 9)
    [9, 1, 2]
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def encode(text: str, merges: list[Merge], split: bool = True) -> list[int]:
    """Apply the learned merges in the order they were learned, chunk by chunk.

    Done as minbpe does: merge the present pair with the lowest rank until none is left; that is the same
    as applying every merge in rank order, because a merge can never create the pair of an earlier one
    (an earlier pair does not contain the newer id). Identical chunks are encoded once.
    """
    by_pair = {m.pair: m for m in merges}
    done: dict[str, list[int]] = {}
    out = []
    for chunk in chunks_of(text, split):
        ids = done.get(chunk)
        if ids is None:
            ids = list(chunk.encode("utf-8"))
            while len(ids) >= 2:
                candidates = [by_pair[p] for p in _pairs(ids) if p in by_pair]
                if not candidates:
                    break
                m = min(candidates, key=lambda c: c.rank)
                ids = merge_pair(ids, m.pair, m.new_id)
            done[chunk] = ids
        out.extend(ids)
    return out


def apply_steps(word: str, merges: list[Merge]) -> list[tuple[Merge | None, list[int]]]:
    """A word's ids before any merge, then after each merge that changed it."""
    ids = list(word.encode("utf-8"))
    steps = [(None, ids)]
    for m in merges:
        new = merge_pair(ids, m.pair, m.new_id)
        if new != ids:
            steps.append((m, new))
            ids = new
    return steps


def vocabulary(merges: list[Merge]) -> dict[int, bytes]:
    vocab = {i: bytes([i]) for i in range(256)}
    vocab.update({m.new_id: m.token for m in merges})
    return vocab


def pieces(ids: list[int], merges: list[Merge]) -> list[str]:
    vocab = vocabulary(merges)
    return [bytes_to_display(vocab[i]) for i in ids]


def build_tokenizer(merges: list[Merge], name: str, trained_on: str = "") -> Tokenizer:
    """A tiktoken encoding of these merges: rank = id (bytes 0–255, then one per merge), <|endoftext|> last.

    tiktoken merges by rank the adjacent pieces whose joined bytes form a token; that gives the same ids as
    `encode` (tests/core/tokens/test_trained.py checks it on whole corpora), because every token's bytes come
    from exactly one merge (checked here) and a lower rank is always an earlier merge.
    """
    vocab = vocabulary(merges)
    ranks = {token: i for i, token in vocab.items()}
    if len(ranks) != len(vocab):
        raise PlaygroundError("Two merges of tokenizer {name} made the same token; it cannot be saved as ranks.",
                              name=name)
    eot = 256 + len(merges)
    encoding = tiktoken.Encoding(name=name, pat_str=SPECS["gpt2"].pattern, mergeable_ranks=ranks,
                                 special_tokens={ENDOFTEXT: eot})
    meta = {"format": BPE_FORMAT, "version": BPE_VERSION, "name": name, "pattern": SPECS["gpt2"].pattern,
            "special_tokens": {ENDOFTEXT: eot}, "merges": [list(m.pair) for m in merges], "trained_on": trained_on}
    return Tokenizer(name, encoding, f"{name}: byte-level BPE, {len(merges):,} merges, {eot + 1:,} tokens",
                     [m.pair for m in merges], meta)


def merges_of(tokenizer: Tokenizer) -> list[Merge]:
    """A trained tokenizer's merges as Merge records (counts are not stored: 0)."""
    vocab = {i: bytes([i]) for i in range(256)}
    merges = []
    for rank, (a, b) in enumerate(tokenizer.merges):
        vocab[256 + rank] = vocab[a] + vocab[b]
        merges.append(Merge(rank, (a, b), 256 + rank, 0, vocab[256 + rank]))
    return merges
