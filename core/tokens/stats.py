"""Numbers about a tokenization: counts and ratios, per-token rows, parsing pasted id lists.

    >>> s = text_stats("Hello world", [15496, 995])
    >>> s.chars, s.words, s.tokens, s.chars_per_token
    (11, 2, 2, 5.5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import PlaygroundError

WORD = re.compile(r"\S+")
MAX_IDS = 100_000


@dataclass(frozen=True)
class TextStats:
    chars: int
    words: int
    tokens: int

    @property
    def chars_per_token(self) -> float:
        return self.chars / self.tokens if self.tokens else 0.0

    @property
    def words_per_token(self) -> float:
        return self.words / self.tokens if self.tokens else 0.0


def text_stats(text: str, ids) -> TextStats:
    """Characters (Unicode code points), words (runs of non-space), tokens."""
    return TextStats(len(text), len(WORD.findall(text)), len(ids))


def token_rows(tokenizer, ids) -> list[dict]:
    """One row per token: position, id, text (\\xNN for partial UTF-8), bytes in hex, byte length."""
    rows = []
    for pos, token_id in enumerate(ids):
        raw = tokenizer.token_bytes(token_id)
        rows.append({"position": pos, "id": int(token_id), "text": tokenizer.token_text(token_id),
                     "bytes": raw.hex(" "), "byte_length": len(raw)})
    return rows


def parse_id_list(text: str) -> list[int]:
    """'[15496, 995]' or '15496 995' -> [15496, 995]; anything else is a clear error.

    >>> parse_id_list("[15496, 995]")
    [15496, 995]
    """
    cleaned = text.strip().strip("[]()")
    if not cleaned:
        raise PlaygroundError("Paste some token ids, e.g. 15496, 995.")
    parts = [p for p in re.split(r"[\s,;]+", cleaned) if p]
    if len(parts) > MAX_IDS:
        raise PlaygroundError(
            "That is {count:,} ids; decode at most {limit:,} at a time.",
            count=len(parts), limit=MAX_IDS)
    ids = []
    for p in parts:
        if not re.fullmatch(r"-?\d+", p):
            raise PlaygroundError(
                "'{part}' is not a token id: use whole numbers separated by commas or spaces.",
                part=p[:20])
        ids.append(int(p))
    return ids


def cap_tokens(ids: list[int], limit: int, keep: str = "start") -> tuple[list[int], int]:
    """At most `limit` ids, keeping the start or the end; returns (ids, how many were dropped).

    >>> cap_tokens([1, 2, 3, 4], 3, keep="end")
    ([2, 3, 4], 1)
    """
    if len(ids) <= limit:
        return list(ids), 0
    kept = ids[:limit] if keep == "start" else ids[-limit:]
    return list(kept), len(ids) - limit


def utf8_groups(byte_strings: list[bytes], longest: int = 8) -> list[tuple[int, int]]:
    """Runs of neighbouring tokens that only together make whole UTF-8 characters (an emoji cut into two or
    three byte-level tokens), as (start, end) index ranges covering every token in order; a token that is whole
    text by itself is a run of one. A run never grows past `longest` tokens (bytes that never complete a
    character end it).

    >>> utf8_groups(["🤖".encode()[:2], "🤖".encode()[2:], b" ok"])
    [(0, 2), (2, 3)]
    """
    groups: list[tuple[int, int]] = []
    start, pending = 0, b""
    for i, data in enumerate(byte_strings):
        pending += data
        try:
            pending.decode("utf-8")
        except UnicodeDecodeError:
            if i + 1 - start < longest and i + 1 < len(byte_strings):
                continue
        groups.append((start, i + 1))
        start, pending = i + 1, b""
    return groups
