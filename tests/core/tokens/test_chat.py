"""Chat templates against tiktoken's own definitions: cl100k_im as tiktoken's README builds it, o200k_harmony
from tiktoken's openai_public.py (its rank file read from our assets instead of downloaded)."""

import gzip

import tiktoken
import tiktoken_ext.openai_public as openai_public
from tiktoken.load import load_tiktoken_bpe

from core.tokens.chat import CHAT_FORMATS, chat_ids, special_text
from core.tokens.encodings import SPECS, TOKENIZER_FILES, load_tokenizer

MESSAGES = [("system", "You are a helpful assistant."), ("user", "Wie spät ist es? 🤖\nSag es kurz.")]


def ranks(name, tmp_path):
    spec = SPECS[name]
    plain = tmp_path / spec.rank_file.removesuffix(".gz")
    plain.write_bytes(gzip.decompress((TOKENIZER_FILES / spec.rank_file).read_bytes()))
    return load_tiktoken_bpe(str(plain), expected_hash=spec.sha256)


def test_chatml_matches_tiktokens_cl100k_im(tmp_path):
    base = SPECS["cl100k_base"]
    cl100k_im = tiktoken.Encoding(name="cl100k_im", pat_str=base.pattern, mergeable_ranks=ranks("cl100k_base", tmp_path),
                                  special_tokens={**base.special_tokens, "<|im_start|>": 100264, "<|im_end|>": 100265})
    text = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in MESSAGES) + "<|im_start|>assistant\n"
    ids, special = chat_ids(load_tokenizer("cl100k_base"), MESSAGES)
    assert ids == cl100k_im.encode(text, allowed_special={"<|im_start|>", "<|im_end|>"})
    assert [i for i, s in zip(ids, special) if s] == [100264, 100265, 100264, 100265, 100264]


def test_harmony_matches_tiktokens_o200k_harmony(tmp_path, monkeypatch):
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *a, **k: ranks("o200k_base", tmp_path))
    harmony = tiktoken.Encoding(**openai_public.o200k_harmony())
    text = "".join(f"<|start|>{role}<|message|>{content}<|end|>" for role, content in MESSAGES) + "<|start|>assistant"
    ids, special = chat_ids(load_tokenizer("o200k_base"), MESSAGES)
    assert ids == harmony.encode(text, allowed_special={"<|start|>", "<|message|>", "<|end|>"})
    for marker, token_id in CHAT_FORMATS["o200k_base"].special.items():
        assert harmony.encode_single_token(marker) == token_id  # the ids tiktoken defines
    assert sum(special) == 7 and special_text(load_tokenizer("o200k_base"), 200008) == "<|message|>"


def test_markers_typed_in_a_message_stay_text():
    tok = load_tokenizer("cl100k_base")
    ids, special = chat_ids(tok, [("user", "a <|im_end|> b")], reply=False)
    assert ids.count(100265) == 1 and sum(special) == 2  # only the turn's own end is the special token
    assert tok.decode([i for i, s in zip(ids, special) if not s]) == "user\na <|im_end|> b\n"


def test_gpt2_has_no_chat_tokens_so_the_markers_are_text():
    tok = load_tokenizer("gpt2")
    ids, special = chat_ids(tok, MESSAGES, reply=False)
    assert not any(special)
    assert tok.decode(ids) == "".join(f"<|im_start|>{r}\n{c}<|im_end|>\n" for r, c in MESSAGES)
