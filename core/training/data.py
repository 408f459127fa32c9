"""Corpora and data sets shipped in core/assets, and the sliding-window loader.

`TokenWindows` is the book's data loader without materialising the windows:
window i is ids[i·stride : i·stride + context] and its targets are the same
window shifted by one token.

    >>> w = TokenWindows(torch.arange(10), context=4, stride=4)
    >>> len(w), w[1]
    (2, (tensor([4, 5, 6, 7]), tensor([5, 6, 7, 8])))

Left out: streaming corpora bigger than memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from core.assets import ASSETS
from core.errors import PlaygroundError


@dataclass(frozen=True)
class Corpus:
    name: str
    file: str
    title: str
    language: str
    licence: str


CORPORA = {
    c.name: c
    for c in (
        Corpus("tinyshakespeare", "tinyshakespeare.txt", "Tiny Shakespeare (40,000 lines of the plays)", "en", "public domain"),
        Corpus("the-verdict", "the-verdict.txt", "Edith Wharton, The Verdict (1908)", "en", "public domain"),
        Corpus("goethe-faust-1", "goethe-faust-1.txt", "Goethe, Faust. Eine Tragödie (part one)", "de", "public domain"),
    )
}


def corpus_path(name: str) -> Path:
    if name not in CORPORA:
        raise PlaygroundError(
            "Unknown corpus '{name}'; choose one of {options}.",
            name=name, options=', '.join(CORPORA))
    return ASSETS / "corpora" / CORPORA[name].file


def read_text_file(path, limit_bytes: int | None = None) -> str:
    """A UTF-8 text file, with clear errors for binary files, bad encodings and oversize files."""
    path = Path(path)
    if not path.is_file():
        raise PlaygroundError("There is no text file at {path}.", path=path)
    return decode_text(path.read_bytes(), path.name, limit_bytes)


def check_size(size: int, name: str, limit_bytes: int | None) -> None:
    """Refuse a file by its size before it is read or parsed."""
    if limit_bytes is not None and size > limit_bytes:
        raise PlaygroundError(
            "{name} has {size:,} bytes; the limit is {limit_bytes:,}.",
            name=name, size=size, limit_bytes=limit_bytes)


def decode_text(data: bytes, name: str = "the upload", limit_bytes: int | None = None) -> str:
    check_size(len(data), name, limit_bytes)
    if b"\x00" in data[:4096]:
        raise PlaygroundError("{name} looks like a binary file, not text.", name=name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PlaygroundError(
            "{name} is not valid UTF-8 text (bad byte at position {start}).",
            name=name, start=e.start) from None


def load_corpus(name_or_path: str) -> str:
    """A shipped corpus by name, or a UTF-8 text file by path."""
    text = read_text_file(corpus_file(name_or_path))
    if not text.strip():
        raise PlaygroundError("The corpus {name_or_path} is empty.", name_or_path=name_or_path)
    return text


def corpus_names(spec: str) -> list[str]:
    """The corpora of "a+b+…" (shipped names or paths); one corpus without a +."""
    names = [part for part in spec.split("+")] if "+" in spec and not Path(spec).exists() else [spec]
    if any(not name for name in names) or len(set(names)) != len(names):
        raise PlaygroundError("Join different corpora with +, like tinyshakespeare+goethe-faust-1, not {spec}.",
                              spec=spec)
    return names


def corpus_file(name_or_path: str) -> Path:
    """A shipped corpus's file by name, or the path as given."""
    return corpus_path(name_or_path) if name_or_path in CORPORA else Path(name_or_path)


def load_corpora(spec: str) -> list[tuple[str, str]]:
    """(name, text) of each corpus in "a+b+…" (shipped names or paths); one corpus without a +."""
    return [(name, load_corpus(name)) for name in corpus_names(spec)]


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """The first characters for training, the last val_fraction of the characters held out (so the held-out
    part is the same text whatever the tokenizer)."""
    if not 0 < val_fraction < 1:
        raise PlaygroundError(
            "The validation fraction must be between 0 and 1, not {val_fraction}.",
            val_fraction=val_fraction)
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


class TokenWindows:
    """Input/target windows over one token sequence (sliding, with a stride)."""

    def __init__(self, ids: torch.Tensor, context: int, stride: int | None = None, label: str = "text"):
        self.ids = torch.as_tensor(ids, dtype=torch.long)
        self.context = int(context)
        self.stride = int(stride or context)
        if self.context < 1 or self.stride < 1:
            raise PlaygroundError("Context length and stride must be at least 1.")
        if len(self.ids) < self.context + 1:
            raise PlaygroundError(
                "The {label} has {n_ids} tokens, too short for a context of {context} (needs at least {needed}); "
                "use more text or a shorter context.",
                label=label, n_ids=len(self.ids), context=self.context, needed=self.context + 1)

    def __len__(self) -> int:
        return (len(self.ids) - self.context - 1) // self.stride + 1

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = int(i) * self.stride
        chunk = self.ids[start:start + self.context + 1]
        return chunk[:-1], chunk[1:]

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = zip(*(self[i] for i in indices))
        return torch.stack(xs), torch.stack(ys)

    def random_batch(self, batch_size: int, generator: torch.Generator,
                     repeats: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Random windows; with repeats > 0 that fraction of them (on average) holds a passage of random tokens
        drawn from the corpus (each token as often as in it) twice, the second copy later in the window: text that
        only an induction head predicts. Natural passages would not do here: a small model learns a small corpus
        by heart and then predicts a copied passage from memory, without looking back. Length and distance vary
        (4 tokens up to half the window), so a fixed distance learnt from the positions alone does not help."""
        x, y = self.batch(torch.randint(len(self), (batch_size,), generator=generator).tolist())
        if repeats > 0:
            n = self.context + 1
            for row in torch.nonzero(torch.rand(batch_size, generator=generator) < repeats).flatten().tolist():
                length = _randint(min(4, n // 2), n // 2, generator)
                source = _randint(0, n - 2 * length, generator)
                target = _randint(source + length, n - length, generator)
                passage = self.ids[torch.randint(len(self.ids), (length,), generator=generator)]
                text = torch.cat([x[row], y[row, -1:]])
                text[source:source + length] = passage
                text[target:target + length] = passage
                x[row], y[row] = text[:-1], text[1:]
        return x, y


def _randint(low: int, high: int, generator: torch.Generator) -> int:
    """A whole number in [low, high], both ends included."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))
