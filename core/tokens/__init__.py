"""Text to token ids: the shipped tiktoken encodings, the teaching BPE, and numbers about a tokenization."""

from core.tokens.encodings import TOKENIZER_NAMES, Tokenizer, load_tokenizer

__all__ = ["TOKENIZER_NAMES", "Tokenizer", "load_tokenizer"]
