"""The classroom filter: tokens a tokenizer must not sample in front of a class, from a maintained word list.

The words are LDNOOBW's English and German lists ("List of Dirty, Naughty, Obscene, and Otherwise Bad Words",
CC BY 4.0, core/assets/wordlists/), never typed by hand. For one tokenizer the filter bans

1. every token whose text, stripped of whitespace and lower-cased, is a listed word (" Fuck", "fuck", "\\nFUCK"
   alike): banned in every context;
2. the token that would complete a listed word or phrase written as several tokens (its usual spellings: as
   listed, Capitalised, UPPER, with and without a leading space), in the context that begins it: after " fu" the
   token "ck" is banned, while " fu" itself, the beginning, stays allowed. This is the rule of transformers'
   NoBadWordsLogitsProcessor, so innocent tokens that merely start a listed word (" c", " an") are never banned.

A token that only contains a listed word is not banned ("class", "assess", "button", "butter", "Scunthorpe":
the tokens of these are innocent); the lists' own inflected forms ("fucking") are listed words themselves.

    >>> from core.tokens.encodings import load_tokenizer
    >>> words = classroom_filter(load_tokenizer("gpt2"))
    >>> words.banned_after([]) >= {5089, 25617}  # ' fuck' and ' Fuck' in any context
    True
    >>> 1398 in words.banned_after([])  # ' class' is innocent
    False

Left out: spellings the tokenizer would not produce by itself (a word forced through an unusual split of tokens),
words in other languages, and anything that is offensive only in context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

WORDLISTS = Path(__file__).resolve().parents[1] / "assets" / "wordlists"
LANGUAGES = ("en", "de")


@cache
def listed_words() -> frozenset[str]:
    """The entries of the word lists, lower-cased (single words and phrases)."""
    words = set()
    for lang in LANGUAGES:
        for line in (WORDLISTS / f"ldnoobw-{lang}.txt").read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.add(line.strip().lower())
    return frozenset(words)


@dataclass(frozen=True)
class ClassroomFilter:
    """The banned ids of one tokenizer: `always` in every context; `after[prefix]` when the context ends with
    the ids of `prefix`."""
    tokenizer_name: str
    always: frozenset[int]
    after: dict[tuple[int, ...], frozenset[int]] = field(default_factory=dict)
    lengths: tuple[int, ...] = ()  # the lengths of the prefixes in `after`, to look each up once

    def banned_after(self, context_ids) -> set[int]:
        """Every id that may not come next after this context."""
        banned = set(self.always)
        context = tuple(int(i) for i in context_ids[-max(self.lengths, default=0):]) if self.lengths else ()
        for n in self.lengths:
            if n <= len(context):
                banned |= self.after.get(context[len(context) - n:], frozenset())
        return banned

    def masked(self, ids) -> list[bool]:
        """For a text's ids: which tokens belong to a banned word (a banned token and the beginning it completes),
        so a page can hide them in text it shows."""
        ids = [int(i) for i in ids]
        hidden = [False] * len(ids)
        for i, token in enumerate(ids):
            if token in self.always:
                hidden[i] = True
                continue
            for prefix, last in self.after.items():
                start = i - len(prefix)
                if token in last and start >= 0 and tuple(ids[start:i]) == prefix:
                    hidden[start:i + 1] = [True] * (len(prefix) + 1)
        return hidden


    def hide(self, text: str, tokenizer, mark: str = "▒▒▒") -> str:
        """The text with each banned word (its tokens, as `masked` finds them) replaced by `mark`."""
        ids = tokenizer.encode(text)
        hidden = self.masked(ids)
        pieces = []
        for i, (token, h) in enumerate(zip(ids, hidden)):
            raw = tokenizer.token_bytes(token)
            if not h:
                pieces.append(raw)
            elif not (i and hidden[i - 1]):  # the first token of a hidden word keeps its leading space
                pieces.append(raw[:len(raw) - len(raw.lstrip())] + mark.encode())
        return b"".join(pieces).decode("utf-8", errors="replace")


def spellings(entry: str) -> set[str]:
    """How a listed entry is usually written in running text."""
    forms = {entry, entry.capitalize(), entry.title(), entry.upper()}
    return forms | {" " + form for form in forms}


_FILTERS: dict[tuple[str, int], ClassroomFilter] = {}


def classroom_filter(tokenizer) -> ClassroomFilter:
    """The filter for one tokenizer, built once per process (a pass over its vocabulary: ~0.1-0.5 s)."""
    key = (tokenizer.key, tokenizer.n_vocab)  # a trained tokenizer's folder: two bpe-2000 differ
    if key not in _FILTERS:
        _FILTERS[key] = build_filter(tokenizer)
    return _FILTERS[key]


def build_filter(tokenizer) -> ClassroomFilter:
    words = listed_words()
    always = set()
    for token_id in range(tokenizer.n_vocab):
        try:
            text = tokenizer.token_bytes(token_id).decode("utf-8")
        except Exception:  # noqa: BLE001 - ids without bytes (holes, special tokens) or partial UTF-8: no word
            continue
        if text.strip().lower() in words:
            always.add(token_id)
    after: dict[tuple[int, ...], set[int]] = {}
    for entry in words:
        for form in spellings(entry):
            ids = tokenizer.encode(form)
            if len(ids) > 1:
                after.setdefault(tuple(ids[:-1]), set()).add(ids[-1])
    return ClassroomFilter(tokenizer.name, frozenset(always), {k: frozenset(v) for k, v in after.items()},
                           tuple(sorted({len(k) for k in after})))
