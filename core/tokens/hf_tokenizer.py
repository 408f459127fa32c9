"""A Hugging Face tokenizer.json (Llama, Mistral, Qwen, SmolLM2 ...) through the `tokenizers` library, with the
interface of core.tokens.encodings.Tokenizer (encode, decode, pieces, token_bytes, token_text, n_vocab, eot_id,
special_tokens), so every page shows it like the tiktoken encodings.

Ids are Hugging Face's: `encode` runs the file's whole pipeline, including the special tokens its
post-processor adds (Llama 3's <|begin_of_text|>), as `PreTrainedTokenizerFast.encode` does; a test proves
it. Special tokens typed in the text stay plain text unless allow_special, as with tiktoken. A piece's bytes
come from the file's own alphabet: byte-level BPE (GPT-2's byte-to-character table: "Ġ" is a space) or
SentencePiece style ("▁" is a space, <0x0A> one byte).

The end-of-text token comes from tokenizer_config.json beside the file (eos_token), else config.json's
eos_token_id, else a well-known name in the vocabulary.

Left out: chat templates, tokenizers that are not in tokenizer.json form (tokenizer.model alone).
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path

from core.errors import PlaygroundError

TOKENIZER_FILE = "tokenizer.json"
# our tokenizer's name in an exported config.json when no tokenizer.json goes along (transformers keeps the key)
TOKENIZER_KEY = "llm_playground_tokenizer"
MAX_FILE_BYTES = 64 * 1024 * 1024  # the largest tokenizer.json files in use are about 20 MB
EOS_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<|im_end|>", "<eos>")
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def byte_level_alphabet() -> dict[str, int]:
    """GPT-2's table: each of the 256 bytes written as one printable character (printable ASCII and Latin-1
    stay themselves; the others, e.g. the space, move to U+0100 onwards: " " is "Ġ")."""
    kept = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in kept:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def _uses(component: dict | None, kind: str) -> bool:
    """Whether a tokenizer.json pipeline component (or a Sequence of them) has a step of this type."""
    if not component:
        return False
    if component.get("type") == kind:
        return True
    return any(_uses(step, kind) for key in ("decoders", "pretokenizers", "processors") for step in component.get(key, []))


class HFTokenizer:
    """A tokenizer.json file. `name` is the file's path (what load_tokenizer takes); `label` is short."""

    def __init__(self, path: Path, eos: str | int | None = None):
        from tokenizers import Tokenizer as _Backend  # imported here: the tiktoken pages never need it

        path = Path(path)
        size = path.stat().st_size if path.is_file() else None
        if size is None:
            raise PlaygroundError("{path} does not exist; a Hugging Face model folder needs its tokenizer.json.",
                                  path=path)
        if size > MAX_FILE_BYTES:
            raise PlaygroundError("{path} has {mb} MB; a tokenizer.json larger than {limit} MB is refused.",
                                  path=path, mb=size // 2**20, limit=MAX_FILE_BYTES // 2**20)
        try:
            text = path.read_text(encoding="utf-8")
            spec = json.loads(text)
            self._special = _Backend.from_str(text)  # special tokens in the text are special tokens
            self._plain = _Backend.from_str(text)  # ... are plain text
        except (OSError, ValueError, Exception) as e:  # tokenizers raises its own Exception subclass
            raise PlaygroundError("{path} is not a tokenizer.json the tokenizers library can read ({problem}).",
                                  path=path, problem=str(e)[:80]) from None
        self._plain.encode_special_tokens = True
        self.name = str(path)
        self.label = path.parent.name or path.name
        vocab = self._special.get_vocab(with_added_tokens=True)
        self.n_vocab = max(vocab.values()) + 1
        self._added = {i: t.content for i, t in self._special.get_added_tokens_decoder().items()}
        self.special_tokens = {t.content: i for i, t in self._special.get_added_tokens_decoder().items() if t.special}
        self._byte_level = _uses(spec.get("decoder"), "ByteLevel") or _uses(spec.get("pre_tokenizer"), "ByteLevel")
        if isinstance(eos, int) and 0 <= eos < self.n_vocab:
            self.eot_id = eos
        else:
            name = eos if eos in vocab else next((n for n in EOS_NAMES if n in vocab), None)
            if name is None:
                raise PlaygroundError("{path} has no end-of-text token the playground knows ({names}).",
                                      path=path, names=", ".join(EOS_NAMES))
            self.eot_id = vocab[name]
        self.description = f"{self.label} (tokenizer.json), {self.n_vocab:,} tokens"

    @property
    def key(self) -> str:
        """What load_tokenizer takes to load it again (as core.tokens.encodings.Tokenizer.key): its path."""
        return self.name

    @property
    def trained(self) -> bool:
        """Not one trained with core.tokens.bpe (as core.tokens.encodings.Tokenizer.trained)."""
        return False

    def encode(self, text: str, allow_special: bool = False) -> list[int]:
        """Text to ids. Special tokens typed in the text stay plain text unless allow_special."""
        return (self._special if allow_special else self._plain).encode(text).ids

    def encode_piece(self, text: str) -> list[int]:
        """Ids of a piece of text on its own (a word to look up), without what the post-processor adds around
        every text (Llama 3's <|begin_of_text|>): Hugging Face's add_special_tokens=False."""
        return self._plain.encode(text, add_special_tokens=False).ids

    def decode(self, ids) -> str:
        self.check_ids(ids)
        return self._special.decode([int(i) for i in ids], skip_special_tokens=False)

    def check_ids(self, ids) -> None:
        """Raise a clear error for ids the vocabulary does not have."""
        bad = [i for i in ids if not (0 <= int(i) < self.n_vocab) or self._special.id_to_token(int(i)) is None]
        if bad:
            raise PlaygroundError(
                "Token id {bad} is not in the {name} vocabulary (valid ids: 0 to {last}).",
                bad=bad[0], name=self.label, last=self.n_vocab - 1)

    @cached_property
    def _alphabet(self) -> dict[str, int]:
        return byte_level_alphabet()

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes of one token; may be part of a UTF-8 character (e.g. b'\\xc3')."""
        self.check_ids([token_id])
        token_id = int(token_id)
        piece = self._special.id_to_token(token_id)
        byte = None if self._byte_level else _BYTE_PIECE.fullmatch(piece)
        if byte:  # SentencePiece's byte fallback: <0xC3> is the byte 0xC3
            return bytes([int(byte.group(1), 16)])
        if token_id in self._added:
            return self._added[token_id].encode()
        if self._byte_level:
            alphabet = self._alphabet
            return bytes(alphabet[c] for c in piece) if all(c in alphabet for c in piece) else piece.encode()
        return piece.replace("▁", " ").encode()

    def token_text(self, token_id: int) -> str:
        """One token as text; bytes that are not whole UTF-8 characters shown as \\xNN."""
        return self.token_bytes(token_id).decode("utf-8", errors="backslashreplace")

    def pieces(self, ids) -> list[str]:
        return [self.token_text(i) for i in ids]


def eos_beside(path: Path) -> str | int | None:
    """The end-of-text token (or its id) named by the files beside a tokenizer.json: tokenizer_config.json's
    eos_token, else config.json's eos_token_id (the first, when it lists several)."""
    folder = Path(path).parent
    for name, key in (("tokenizer_config.json", "eos_token"), ("config.json", "eos_token_id")):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        eos = data.get(key) if isinstance(data, dict) else None
        eos = eos[0] if isinstance(eos, list) and eos else eos
        eos = eos.get("content") if isinstance(eos, dict) else eos
        if isinstance(eos, (str, int)) and not isinstance(eos, bool):
            return eos
    return None
