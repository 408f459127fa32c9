"""Byte-level BPE for teaching (like minbpe), with every merge kept so a page can step through them.

Text is split into chunks by GPT-2's regex (merges never cross a chunk), each chunk becomes its UTF-8
bytes (ids 0–255), and each round merges the most frequent adjacent pair into a new id (256, 257, …).
Pair counts are kept incrementally: after a merge only the chunks that contained the pair are
recounted, so 200 merges on 100 KB take a fraction of a second instead of recounting everything.
Ties go to the pair seen first in the text, so training is deterministic.

    >>> merges = train_bpe("aaabdaaabac", 3, split=False)
    >>> [(m.pair, m.count) for m in merges]
    [((97, 97), 4), ((97, 98), 2), ((256, 257), 2)]

Left out: special tokens, saving a vocabulary file, GPT-2's byte-to-unicode remapping (we show raw bytes).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import regex

from core.errors import PlaygroundError
from core.tokens.encodings import SPECS, bytes_to_display

GPT2_SPLIT = regex.compile(SPECS["gpt2"].pattern)


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


def train_bpe(text: str, n_merges: int, split: bool = True) -> list[Merge]:
    """Learn up to n_merges merges (fewer if no pair occurs twice... or at all)."""
    if not text:
        raise PlaygroundError("BPE needs some text to learn from.")
    if n_merges < 0 or n_merges > 20_000:
        raise PlaygroundError("The number of merges must be between 0 and 20,000, not {n_merges}.", n_merges=n_merges)
    freq = Counter(chunks_of(text, split))
    words = [list(w.encode("utf-8")) for w in freq]
    counts = list(freq.values())
    vocab = {i: bytes([i]) for i in range(256)}
    pair_count: Counter = Counter()
    where = defaultdict(set)  # pair -> indices of words that contain it
    first_seen: dict = {}
    for wi, word in enumerate(words):
        for pos, pair in enumerate(_pairs(word)):
            pair_count[pair] += counts[wi]
            where[pair].add(wi)
            first_seen.setdefault(pair, (wi, pos))
    merges = []
    for rank in range(n_merges):
        if not pair_count:
            break
        best = max(pair_count, key=lambda p: (pair_count[p], _neg(first_seen[p])))
        count = pair_count[best]
        if count < 1:
            break
        new_id = 256 + rank
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        merges.append(Merge(rank, best, new_id, count, vocab[new_id]))
        for wi in list(where.pop(best, ())):
            word = words[wi]
            for pair in _pairs(word):  # take the old pairs out...
                pair_count[pair] -= counts[wi]
                if pair_count[pair] <= 0:
                    del pair_count[pair]
                where[pair].discard(wi)
            word = merge_pair(word, best, new_id)
            words[wi] = word
            for pos, pair in enumerate(_pairs(word)):  # ...and the new ones in
                pair_count[pair] += counts[wi]
                where[pair].add(wi)
                first_seen.setdefault(pair, (len(first_seen) + 10**9, pos))
    return merges


def _neg(t):
    return tuple(-x for x in t)


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
    """Apply learned merges in the order they were learned (rank order), chunk by chunk."""
    out = []
    for chunk in chunks_of(text, split):
        ids = list(chunk.encode("utf-8"))
        for m in merges:
            if len(ids) < 2:
                break
            ids = merge_pair(ids, m.pair, m.new_id)
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
