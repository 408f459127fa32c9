"""Tokenizers against tiktoken's own ids and known references."""

import pytest
import tiktoken
from tiktoken.load import load_tiktoken_bpe

from core import PlaygroundError, load_tokenizer
from core.tokens.encodings import SPECS, _shipped, bytes_to_display
from core.tokens.encodings import TOKENIZER_FILES as ASSETS

SAMPLES = ["", "Hello world", "Grüße aus Köln, schöne Äpfel!", "日本語のテキスト", "emoji 🤖🎉 ok",
           "def f(x):\n    return x ** 2  # square\n", "  multiple   spaces\t\ttabs\n\n", "1234567 3.14159 2026-11-25"]


def test_gpt2_reference_ids():
    tok = load_tokenizer("gpt2")
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.encode("<|endoftext|>", allow_special=True) == [50256]
    assert tok.n_vocab == 50257 and tok.name == "gpt2"


def test_special_token_is_plain_text_by_default():
    tok = load_tokenizer("gpt2")
    plain = tok.encode("<|endoftext|>")
    assert 50256 not in plain and len(plain) > 1
    assert tok.decode(plain) == "<|endoftext|>"


@pytest.mark.parametrize("name,reference", [
    ("cl100k_base", {"Hello world": [9906, 1917], "<|endoftext|>": [100257]}),
    ("o200k_base", {"Hello world": [13225, 2375], "<|endoftext|>": [199999]}),
])
def test_other_encodings_reference_ids(name, reference):
    tok = load_tokenizer(name)
    assert tok.encode("Hello world") == reference["Hello world"]
    assert tok.encode("<|endoftext|>", allow_special=True) == reference["<|endoftext|>"]


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_same_ids_as_tiktoken_from_the_same_rank_file(name, tmp_path):
    """Ours against a tiktoken.Encoding built the documented way (load_tiktoken_bpe on the plain file)."""
    import gzip
    spec = SPECS[name]
    plain = tmp_path / spec.rank_file.removesuffix(".gz")
    plain.write_bytes(gzip.decompress((ASSETS / spec.rank_file).read_bytes()))
    reference = tiktoken.Encoding(name + "-ref", pat_str=spec.pattern,
                                  mergeable_ranks=load_tiktoken_bpe(str(plain), expected_hash=spec.sha256),
                                  special_tokens=spec.special_tokens)
    tok = load_tokenizer(name)
    for text in SAMPLES:
        assert tok.encode(text) == reference.encode(text, disallowed_special=())


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip(name, text):
    tok = load_tokenizer(name)
    assert tok.decode(tok.encode(text)) == text


def test_token_bytes_show_partial_utf8():
    tok = load_tokenizer("gpt2")
    ids = tok.encode("日")
    assert b"".join(tok.token_bytes(i) for i in ids) == "日".encode()
    assert any("\\x" in tok.token_text(i) for i in ids)
    assert bytes_to_display(b"\xc3") == "\\xc3"


def test_bad_ids_and_names():
    tok = load_tokenizer("gpt2")
    with pytest.raises(PlaygroundError, match="not in the gpt2 vocabulary"):
        tok.decode([50257])
    with pytest.raises(PlaygroundError, match="not in the gpt2 vocabulary"):
        tok.decode([-1])
    with pytest.raises(PlaygroundError, match="Unknown tokenizer"):
        load_tokenizer("llama")


def test_never_downloads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tiktoken.get_encoding must not be called: it downloads")
    monkeypatch.setattr(tiktoken, "get_encoding", refuse)
    _shipped.cache_clear()
    assert load_tokenizer("gpt2").encode("Hello world") == [15496, 995]


def test_utf8_groups_put_characters_cut_into_several_tokens_back_together():
    from core.tokens.encodings import TOKENIZER_NAMES
    from core.tokens.stats import utf8_groups
    merged = 0
    for name in TOKENIZER_NAMES:
        tok = load_tokenizer(name)
        for text in SAMPLES + ["🤖🎉🧪 👩‍🔬 ∑ ∞ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]:
            data = [tok.token_bytes(i) for i in tok.encode(text)]
            groups = utf8_groups(data)
            assert [i for a, b in groups for i in range(a, b)] == list(range(len(data)))  # every token, in order
            assert "".join(b"".join(data[a:b]).decode("utf-8") for a, b in groups) == text  # each run is whole text
            for a, b in groups:
                if b - a > 1:
                    merged += 1
                    with pytest.raises(UnicodeDecodeError):
                        data[a].decode("utf-8")  # a run starts with a token that is not whole text by itself
    assert merged > 5  # the emoji are cut into several tokens in every encoding
