"""Offline tiktoken encodings, built from rank files shipped in core/assets.

`tiktoken.get_encoding` downloads its rank files, which fails offline, so we
build each `tiktoken.Encoding` ourselves from the gzip-compressed rank files in
core/assets/tokenizers (sha256 of the uncompressed file checked at load). The
split patterns and special tokens are those of tiktoken's `openai_public.py`.

`load_tokenizer` also opens a Hugging Face tokenizer.json (core.tokens.hf_tokenizer).

Left out: training tokenizers (see core.bpe for the teaching BPE) and any
encoding we do not ship.

Example:
    >>> tok = load_tokenizer("gpt2")
    >>> tok.encode("Hello world")
    [15496, 995]
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tiktoken

from core.assets import ASSETS as ASSETS_ROOT
from core.errors import PlaygroundError
from core.tokens.hf_tokenizer import TOKENIZER_FILE, HFTokenizer, eos_beside

TOKENIZER_FILES = ASSETS_ROOT / "tokenizers"

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
    """Parse a gzip-compressed tiktoken rank file (`base64(token) rank` per line), hash-checked."""
    raw = gzip.decompress(path.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise PlaygroundError(
            "Tokenizer file {name} is damaged (sha256 {digest}… does not match).",
            name=path.name, digest=digest[:12])
    ranks = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


class Tokenizer:
    """A tiktoken encoding plus the views the pages need (token text and raw bytes)."""

    def __init__(self, name: str, encoding: tiktoken.Encoding, description: str = ""):
        self.name = name
        self.label = name  # what a page shows (a tokenizer.json's name is its path)
        self.encoding = encoding
        self.description = description
        self.n_vocab = encoding.n_vocab
        self.eot_id = encoding.eot_token
        self.special_tokens = dict(encoding._special_tokens)

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
def load_tokenizer(name: str = "gpt2") -> Tokenizer | HFTokenizer:
    """One of the shipped encodings by name: gpt2 (= r50k_base), cl100k_base, o200k_base; or a Hugging Face
    tokenizer.json (its path, or the folder that holds it)."""
    key = ALIASES.get(str(name), str(name))
    if key not in SPECS:
        path = Path(key).expanduser()
        path = path / TOKENIZER_FILE if path.is_dir() else path
        if path.name.endswith(".json") and path.is_file():
            return HFTokenizer(path, eos_beside(path))
        raise PlaygroundError(
            "Unknown tokenizer '{name}'; choose one of {options}.",
            name=name, options=', '.join(TOKENIZER_NAMES))
    spec = SPECS[key]
    ranks = read_rank_file(TOKENIZER_FILES / spec.rank_file, spec.sha256)
    encoding = tiktoken.Encoding(
        name=key, pat_str=spec.pattern, mergeable_ranks=ranks, special_tokens=dict(spec.special_tokens)
    )
    return Tokenizer(key, encoding, spec.description)
