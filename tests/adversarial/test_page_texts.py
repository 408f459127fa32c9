"""Texts typed into every page that reads one: empty, control characters, NUL, emoji sequences, right-to-left
overrides, combining marks, special tokens, very long, markup. Each page shows its views or one sentence."""

import pytest

from tests.support.app import assert_clean, open_page

FIELDS = {"tokens": "tokens.text", "embeddings": "embeddings.text", "attention": "attention.text",
          "sampling": "sampling.prompt", "generation": "generation.prompt", "anatomy": "anatomy.text",
          "tour": "tour.text"}
TEXTS = {
    "empty": "", "spaces": "   \n\t ", "nul": "a\x00b\x00" * 20, "controls": "".join(map(chr, range(1, 32))),
    "emoji": "👩‍👩‍👧🏳️‍🌈🙂" * 40, "rtl": "\u202eabc\u202c שלום مرحبا", "combining": "e\u0301\u0302\u0303" * 100,
    "special": "<|endoftext|>" * 30, "long": "To be, or not to be. " * 1500, "markup": "<script>alert(1)</script> **x** $y$",
}


@pytest.fixture(scope="module")
def pages():
    opened = {}

    def page(name):
        if name not in opened:
            opened[name] = open_page(name)
        return opened[name]
    return page


def field(at, key):
    for widgets in (at.text_area, at.text_input):
        found = [w for w in widgets if w.key == key]
        if found:
            return found[0]
    raise AssertionError(f"no text field {key}")


@pytest.mark.parametrize("text", list(TEXTS))
@pytest.mark.parametrize("page", list(FIELDS))
def test_a_strange_text_on_every_page(pages, page, text):
    at = pages(page)
    field(at, FIELDS[page]).set_value(TEXTS[text]).run()
    assert_clean(at)
