"""A Hugging Face tokenizer.json gives Hugging Face's ids, and its pieces read like the tiktoken ones."""

import json

import pytest

from core import PlaygroundError, load_tokenizer
from core.tokens.hf_tokenizer import HFTokenizer, byte_level_alphabet
from tests.support.llama import EOS, train_tokenizer

transformers = pytest.importorskip("transformers")

TEXTS = [
    "I had always thought Jack Gisburn rather a cheap genius--though a good fellow enough.",
    "Grüße aus München: Übermäßig schöne Straßen, 3.14159 und 42!",
    "  leading spaces,\ttabs\nand\n\nnew lines   ",
    "emoji 🙂🚀 and 漢字 and العربية",
    "",
]


@pytest.fixture(scope="module", params=["byte_level", "byte_level+bos", "sentencepiece"])
def tokenizer_file(request, tmp_path_factory):
    style, _, bos = request.param.partition("+")
    return train_tokenizer(tmp_path_factory.mktemp(request.param) / "tokenizer.json", style=style,
                           bos="<|begin_of_text|>" if bos else None)


def test_same_ids_as_transformers(tokenizer_file):
    ours = load_tokenizer(str(tokenizer_file))
    theirs = transformers.PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_file))
    for text in TEXTS:
        assert ours.encode(text) == theirs.encode(text), text
        assert ours.encode(text, allow_special=True) == theirs.encode(text)
        assert ours.decode(ours.encode(text)) == theirs.decode(theirs.encode(text))


def test_a_piece_on_its_own_has_no_start_token(tokenizer_file):
    """encode_piece (a word to look up) is Hugging Face's add_special_tokens=False; tiktoken's is its encode."""
    ours = load_tokenizer(str(tokenizer_file))
    theirs = transformers.PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_file))
    for text in TEXTS + [" king"]:
        assert ours.encode_piece(text) == theirs.encode(text, add_special_tokens=False), text
    gpt2 = load_tokenizer("gpt2")
    assert gpt2.encode_piece(" king") == gpt2.encode(" king") == [5822]


def test_pieces_are_the_bytes_of_the_text(tokenizer_file):
    tok = load_tokenizer(tokenizer_file.parent)  # the folder works too
    for text in TEXTS:
        ids = tok.encode(text)
        start = 1 if tok.special_tokens.get("<|begin_of_text|>") == (ids[:1] or [None])[0] else 0
        raw = b"".join(tok.token_bytes(i) for i in ids[start:])
        if tokenizer_file.parent.name.startswith("sentencepiece"):  # "▁" is a space; one may be put in front
            raw, text = raw.lstrip(b" "), text.lstrip(" ")
        assert raw == text.encode(), text
    assert " had" in tok.pieces(tok.encode("I had"))  # a space, not "Ġ" or "▁"
    assert all("Ġ" not in p and "▁" not in p for p in tok.pieces(tok.encode(TEXTS[0])))


def test_interface_like_the_tiktoken_one(tokenizer_file):
    tok = load_tokenizer(str(tokenizer_file))
    assert isinstance(tok, HFTokenizer) and tok.name == str(tokenizer_file) and tok.label
    assert tok.eot_id == tok.special_tokens[EOS] and tok.n_vocab > 300
    assert tok.decode([tok.eot_id]) == EOS
    assert tok.encode(EOS) != [tok.eot_id]  # typed in the text it stays text ...
    assert tok.encode(EOS, allow_special=True)[-1] == tok.eot_id  # ... unless asked
    with pytest.raises(PlaygroundError, match="not in the"):
        tok.decode([tok.n_vocab + 5])
    assert tok.token_text(tok.eot_id) == EOS


def test_multi_byte_characters_split_show_as_hex(tmp_path):
    tok = load_tokenizer(str(train_tokenizer(tmp_path / "tokenizer.json", vocab_size=260)))
    pieces = tok.pieces(tok.encode("漢"))  # three bytes, no merge learned for them
    assert len(pieces) == 3 and all(p.startswith("\\x") for p in pieces)
    assert len(byte_level_alphabet()) == 256 and byte_level_alphabet()["Ġ"] == ord(" ")


def test_end_of_text_from_the_files_beside(tmp_path):
    path = train_tokenizer(tmp_path / "tokenizer.json", bos="<s>")
    (tmp_path / "config.json").write_text(json.dumps({"eos_token_id": [1, 0]}))
    assert load_tokenizer(str(path)).eot_id == 1  # <s>, the first listed
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": EOS}}))
    assert HFTokenizer(path, EOS).eot_id == 0


def test_bad_files_are_one_sentence(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(PlaygroundError, match="not a tokenizer.json"):
        load_tokenizer(str(tmp_path / "tokenizer.json"))
    with pytest.raises(PlaygroundError, match="Unknown tokenizer"):
        load_tokenizer(str(tmp_path / "missing.json"))
