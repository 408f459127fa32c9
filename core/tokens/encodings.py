"""Offline tiktoken encodings: the shipped ones by name, and tokenizers trained with core.tokens.bpe from their files.

`tiktoken.get_encoding` downloads its rank files, which fails offline, so we
build each `tiktoken.Encoding` ourselves from the gzip-compressed rank files in
core/assets/tokenizers (sha256 of the uncompressed file checked at load). The
split patterns and special tokens are those of tiktoken's `openai_public.py`.

A trained tokenizer is two files in a folder (a run's or a model's), and this module owns them:
    bpe.tiktoken   tiktoken's rank file: `base64(token) rank` per line, the 256 bytes first (rank = byte),
                   then one line per merge (rank = its new id)
    bpe.json       {"format": "llm-playground-bpe", "version": 1, "name", "pattern", "special_tokens",
                    "sha256" (of bpe.tiktoken), "merges" ([left id, right id] per merge, in rank order),
                    "trained_on"}
tiktoken encodes with it (fast); the merges let core.tokens.bpe encode the same text step by step,
and `tests/core/tokens/test_trained.py` proves both give the same ids.

`load_tokenizer` also opens a Hugging Face tokenizer.json (core.tokens.hf_tokenizer).

Left out: training (core.tokens.bpe does it) and any encoding we do not ship.

Example:
    >>> tok = load_tokenizer("gpt2")
    >>> tok.encode("Hello world")
    [15496, 995]
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import tiktoken

from core.assets import ASSETS as ASSETS_ROOT
from core.errors import PlaygroundError
from core.tokens.hf_tokenizer import TOKENIZER_FILE, HFTokenizer, eos_beside

TOKENIZER_FILES = ASSETS_ROOT / "tokenizers"
BPE_RANKS, BPE_META = "bpe.tiktoken", "bpe.json"  # a trained tokenizer's two files
BPE_FORMAT, BPE_VERSION = "llm-playground-bpe", 1

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

_R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True)
class _Spec:
    rank_file: str
    sha256: str
    pattern: str
    special_tokens: dict
    description: str


SPECS: dict[str, _Spec] = {
    "gpt2": _Spec(
        "r50k_base.tiktoken.gz",
        "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
        _R50K_PATTERN,
        {ENDOFTEXT: 50256},
        "GPT-2 / GPT-3 (r50k_base), 50,257 tokens",
    ),
    "cl100k_base": _Spec(
        "cl100k_base.tiktoken.gz",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PATTERN,
        {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260, ENDOFPROMPT: 100276},
        "GPT-3.5 / GPT-4 (cl100k_base), about 100k tokens",
    ),
    "o200k_base": _Spec(
        "o200k_base.tiktoken.gz",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PATTERN,
        {ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
        "GPT-4o (o200k_base), about 200k tokens",
    ),
}
ALIASES = {"r50k_base": "gpt2"}
TOKENIZER_NAMES = tuple(SPECS)


def read_rank_file(path: Path, expected_sha256: str) -> dict[bytes, int]:
    """Parse a tiktoken rank file (`base64(token) rank` per line; gzip-compressed if it ends in .gz), hash-checked."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise PlaygroundError(
            "Tokenizer file {name} is damaged (sha256 {digest}… does not match).",
            name=path.name, digest=digest[:12])
    ranks = {}
    try:
        for line in raw.splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
    except ValueError:
        raise PlaygroundError("Tokenizer file {name} has a line that is not `base64 rank`.", name=path.name) from None
    return ranks


def rank_file_text(tokens: list[bytes]) -> bytes:
    """The rank file of tokens whose rank is their position in the list."""
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in enumerate(tokens))


class Tokenizer:
    """A tiktoken encoding plus the views the pages need (token text and raw bytes).

    A trained tokenizer also has `merges` ([left id, right id] per merge, rank order) and `meta` (its bpe.json);
    `save(folder)` writes its two files there."""

    def __init__(self, name: str, encoding: tiktoken.Encoding, description: str = "",
                 merges: list[tuple[int, int]] | None = None, meta: dict | None = None):
        self.name = name
        self.label = name  # what a page shows (a tokenizer.json's name is its path)
        self.encoding = encoding
        self.description = description
        self.n_vocab = encoding.n_vocab
        self.eot_id = encoding.eot_token
        self.special_tokens = dict(encoding._special_tokens)
        self.merges = merges
        self.meta = meta or {}
        self.source: str | None = None  # the folder a trained tokenizer was loaded from

    @property
    def key(self) -> str:
        """What load_tokenizer takes to load this tokenizer again: its name, or a trained one's folder."""
        return self.source or self.name

    @property
    def trained(self) -> bool:
        """Trained with core.tokens.bpe (its files travel with the model), not one of the shipped encodings."""
        return self.merges is not None

    def save(self, folder) -> None:
        """Write bpe.tiktoken and bpe.json into folder (trained tokenizers only)."""
        if not self.trained:
            raise ValueError(f"{self.name} is a shipped encoding; only trained tokenizers are saved")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tokens = [self.encoding.decode_single_token_bytes(i) for i in range(256 + len(self.merges))]
        ranks = rank_file_text(tokens)
        meta = {**self.meta, "sha256": hashlib.sha256(ranks).hexdigest()}
        _write_atomic(folder / BPE_RANKS, ranks)
        _write_atomic(folder / BPE_META, json.dumps(meta, indent=1, ensure_ascii=False).encode())

    def encode(self, text: str, allow_special: bool = False) -> list[int]:
        """Text to ids. Special tokens typed in the text stay plain text unless allow_special."""
        if allow_special:
            return self.encoding.encode(text, allowed_special="all")
        return self.encoding.encode(text, disallowed_special=())

    def encode_piece(self, text: str) -> list[int]:
        """Ids of a piece of text on its own (a word to look up); tiktoken adds nothing around a text."""
        return self.encode(text)

    def decode(self, ids) -> str:
        self.check_ids(ids)
        return self.encoding.decode(list(ids))

    def check_ids(self, ids) -> None:
        """Raise a clear error for ids the vocabulary does not have."""
        bad = [i for i in ids if not (0 <= int(i) < self.n_vocab) or not self.is_valid_id(int(i))]
        if bad:
            raise PlaygroundError(
                "Token id {bad} is not in the {name} vocabulary (valid ids: 0 to {last}).",
                bad=bad[0], name=self.name, last=self.n_vocab - 1)

    def is_valid_id(self, token_id: int) -> bool:
        # Some encodings have holes between the ranks and the special tokens.
        try:
            self.encoding.decode_single_token_bytes(token_id)
            return True
        except KeyError:
            return False

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes of one token; may be part of a UTF-8 character (e.g. b'\\xc3')."""
        self.check_ids([token_id])
        return self.encoding.decode_single_token_bytes(int(token_id))

    def token_text(self, token_id: int) -> str:
        """One token as text; bytes that are not whole UTF-8 characters shown as \\xNN."""
        return bytes_to_display(self.token_bytes(token_id))

    def pieces(self, ids) -> list[str]:
        return [self.token_text(i) for i in ids]


def bytes_to_display(data: bytes) -> str:
    """Decode UTF-8, writing bytes that are not whole characters as \\xNN.

    >>> bytes_to_display("é".encode()[:1])
    '\\\\xc3'
    """
    return data.decode("utf-8", errors="backslashreplace")


@cache
def _hf(path: Path) -> HFTokenizer:
    return HFTokenizer(path, eos_beside(path))


def load_tokenizer(name: str = "gpt2") -> Tokenizer | HFTokenizer:
    """One of the shipped encodings by name: gpt2 (= r50k_base), cl100k_base, o200k_base; a trained tokenizer:
    a folder that holds bpe.json and bpe.tiktoken (a run's or a model's), or the path of either file; or a Hugging
    Face tokenizer.json (its path, or the folder that holds it)."""
    key = ALIASES.get(str(name), str(name))
    if key in SPECS:
        return _shipped(key)
    path = Path(key).expanduser()
    folder = path.parent if path.name in (BPE_META, BPE_RANKS) else path
    hf_file = path / TOKENIZER_FILE if path.is_dir() else path
    if not (folder / BPE_META).is_file() and hf_file.name.endswith(".json") and hf_file.is_file():
        return _hf(hf_file)
    if not (folder / BPE_META).is_file():
        raise PlaygroundError(
            "Unknown tokenizer '{name}'; choose one of {options}, or give a folder with a trained tokenizer "
            "(bpe.json and bpe.tiktoken).",
            name=name, options=', '.join(TOKENIZER_NAMES))
    meta_file = folder.resolve() / BPE_META
    stat = meta_file.stat()
    return _trained(meta_file, stat.st_mtime_ns, stat.st_size)


def has_trained_tokenizer(folder) -> bool:
    return (Path(folder) / BPE_META).is_file()


@lru_cache(maxsize=32)
def _trained(meta_file: Path, _mtime_ns: int, _size: int) -> Tokenizer:
    """A trained tokenizer from its folder (cached per file version)."""
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("format") != BPE_FORMAT:
            raise ValueError("format")
        if int(meta.get("version", 0)) > BPE_VERSION:
            raise PlaygroundError("{path} was written by a newer llm-playground.", path=meta_file)
        merges = [(int(a), int(b)) for a, b in meta["merges"]]
        specials = {str(k): int(v) for k, v in meta["special_tokens"].items()}
        pattern, sha, name = str(meta["pattern"]), str(meta["sha256"]), str(meta["name"])
    except (OSError, ValueError, KeyError, TypeError):
        raise PlaygroundError("{path} is not a readable tokenizer description.", path=meta_file) from None
    if ENDOFTEXT not in specials:
        raise PlaygroundError("{path} names no {token} token.", path=meta_file, token=ENDOFTEXT)
    ranks = read_rank_file(meta_file.with_name(BPE_RANKS), sha)
    by_rank = {rank: token for token, rank in ranks.items()}
    consistent = len(by_rank) == 256 + len(merges) and all(by_rank.get(b) == bytes([b]) for b in range(256))
    for rank, (a, b) in enumerate(merges, start=256):
        consistent = consistent and a < rank and b < rank and by_rank.get(rank) == by_rank.get(a, b"") + by_rank.get(b, b"")
    if not consistent:
        raise PlaygroundError("{path} does not match its rank file (the 256 bytes, then one token per merge).",
                              path=meta_file)
    encoding = tiktoken.Encoding(name=name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
    description = f"{name}: byte-level BPE, {len(merges):,} merges, {encoding.n_vocab:,} tokens"
    tokenizer = Tokenizer(name, encoding, description, merges, {k: v for k, v in meta.items() if k != "sha256"})
    tokenizer.source = str(meta_file.parent)
    return tokenizer


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@cache
def _shipped(key: str) -> Tokenizer:
    spec = SPECS[key]
    ranks = read_rank_file(TOKENIZER_FILES / spec.rank_file, spec.sha256)
    encoding = tiktoken.Encoding(
        name=key, pat_str=spec.pattern, mergeable_ranks=ranks, special_tokens=dict(spec.special_tokens)
    )
    return Tokenizer(key, encoding, spec.description)
