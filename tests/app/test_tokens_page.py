"""The Tokens page, driven like a user, with its numbers checked against tiktoken from the same rank files."""

import gzip
import json

import pytest
import tiktoken
from tiktoken.load import load_tiktoken_bpe

from core.tokens.encodings import SPECS
from core.tokens.encodings import TOKENIZER_FILES as ASSETS
from tests.support.app import assert_clean, open_page


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ranks")
    encodings = {}
    for name, spec in SPECS.items():
        plain = folder / spec.rank_file.removesuffix(".gz")
        plain.write_bytes(gzip.decompress((ASSETS / spec.rank_file).read_bytes()))
        encodings[name] = tiktoken.Encoding(name, pat_str=spec.pattern, special_tokens=spec.special_tokens,
                                            mergeable_ranks=load_tiktoken_bpe(str(plain), expected_hash=spec.sha256))
    return encodings


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def shown_ids(at):
    return json.loads(next(c.value for c in at.code if c.language == "json"))


@pytest.fixture
def page():
    at = open_page("tokens")
    assert_clean(at)
    return at


def test_text_and_encoding_switch(page, reference):
    text = "Grüße aus Köln! def f(x): return x**2  # 🤖"
    page.text_area(key="tokens.text").set_value(text).run()
    assert_clean(page)
    for name in ("gpt2", "cl100k_base", "o200k_base"):
        page.radio(key="tokens.encoding").set_value(name).run()
        expected = reference[name].encode(text, disallowed_special=())
        assert shown_ids(page) == expected
        assert metric(page, "Tokens") == f"{len(expected):,}"
        assert metric(page, "Characters per token") == f"{len(text) / len(expected):.2f}"


def test_compare_table_matches_tiktoken(page, reference):
    text = page.text_area(key="tokens.text").value
    page.segmented_control(key="tokens.view").set_value("compare").run()
    table = next(df.value for df in page.dataframe if "characters per token" in df.value.columns)
    for name, row in zip(("gpt2", "cl100k_base", "o200k_base"), table.itertuples()):
        assert row.tokens == f"{len(reference[name].encode(text)):,}"  # as shown, in the English session


def test_special_token_switch(page):
    page.text_area(key="tokens.text").set_value("a<|endoftext|>b").run()
    plain = shown_ids(page)
    page.toggle(key="tokens.special").set_value(True).run()
    assert_clean(page)
    special = shown_ids(page)
    assert 50256 in special and 50256 not in plain and len(plain) > len(special)


def test_decode_good_and_bad(page):
    page.segmented_control(key="tokens.view").set_value("decode").run()
    page.text_input(key="tokens.decode_ids").set_value("[15496, 995]").run()
    assert any(c.value == "Hello world" for c in page.code)
    page.text_input(key="tokens.decode_ids").set_value("15496, 99999999").run()
    assert_clean(page)
    assert any("not in the gpt2 vocabulary" in e.value for e in page.error)
    page.text_input(key="tokens.decode_ids").set_value("12, banana").run()
    assert any("'banana' is not a token id" in e.value for e in page.error)


def test_bpe_steps(page):
    page.segmented_control(key="tokens.view").set_value("bpe").run()
    page.selectbox(key="tokens.bpe_source").set_value("the-verdict").run()
    page.slider(key="tokens.bpe_merges").set_value(30).run()
    page.slider(key="tokens.bpe_step").set_value(5).run()
    assert_clean(page)
    table = next(df.value for df in page.dataframe if "new token" in df.value.columns)
    assert len(table) == 5 and list(table["new id"]) == [256, 257, 258, 259, 260]
    page.slider(key="tokens.bpe_step").set_value(30).run()
    table = next(df.value for df in page.dataframe if "new token" in df.value.columns)
    assert len(table) == 30 and table["count"].is_monotonic_decreasing  # the best pair never gets more frequent


def test_empty_and_hostile_text(page):
    page.text_area(key="tokens.text").set_value("").run()
    assert_clean(page)
    assert any("Type or choose some text" in i.value for i in page.info)
    page.text_area(key="tokens.text").set_value("<script>alert(1)</script><img src=x onerror=alert(1)> &amp;").run()
    assert_clean(page)


def test_chips_escape_html():
    from playground.tokens_view import chips_html
    html = chips_html(["<script>", "alert(1)", "</script>", " &amp;"], [1, 2, 3, 4])
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;amp;" in html
    colours = [part.split("'")[0] for part in html.split("background:")[1:]]
    assert all(a != b for a, b in zip(colours, colours[1:]))  # neighbours never share a colour


def test_emoji_bytes_are_one_chip_and_encodings_side_by_side(page, reference):
    text = "Robots 🤖 and 🧪!"
    page.text_area(key="tokens.text").set_value(text).run()
    chips = " ".join(h.proto.body for h in page.get("html") if "pg-chips" in h.proto.body)
    ids = reference["gpt2"].encode(text)
    split = [i for i in ids if not _whole(reference["gpt2"].decode_single_token_bytes(i))]
    assert split and chips.count("pg-joined") == 2  # each emoji, cut into byte tokens, is one chip again
    assert "🤖" in chips and "🧪" in chips
    page.segmented_control(key="tokens.view").set_value("compare").run()
    assert_clean(page)
    blocks = [h.proto.body for h in page.get("html") if "pg-chips" in h.proto.body]
    assert len(blocks) == 3  # one row of chips per encoding
    for name, block in zip(("gpt2", "cl100k_base", "o200k_base"), blocks):
        n = len(reference[name].encode(text))
        assert block.count("pg-chip") - block.count("pg-chips") >= n - 2 * block.count("pg-joined")


def _whole(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_chat_template_view(page):
    page.radio(key="tokens.encoding").set_value("cl100k_base").run()
    page.segmented_control(key="tokens.view").set_value("chat").run()
    assert_clean(page)
    ids = shown_ids(page)
    assert ids[0] == 100264 and ids.count(100265) == 2  # <|im_start|> ... <|im_end|> twice (system, user)
    assert any("cl100k_im" in m.value for m in page.markdown)
    page.radio(key="tokens.encoding").set_value("o200k_base").run()
    assert shown_ids(page)[0] == 200006 and any("o200k_harmony" in i.value for i in page.info)
    page.radio(key="tokens.encoding").set_value("gpt2").run()
    assert_clean(page)
    assert not any(i > 50256 for i in shown_ids(page))  # no chat tokens: the markers are text
