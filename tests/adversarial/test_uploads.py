"""Uploads: corpora, labelled tables and instruction files that are empty, binary, badly encoded, too small to split,
too large (refused by size before parsing), or strangely shaped each give one sentence (or are used as valid)."""

import json

import pytest

from core import PlaygroundError
from core.training import finetune_data
from core.training.data import check_size, decode_text
from core.training.finetune_data import balanced_split, read_instructions, read_labelled_table, split_instructions
from tests.support.app import assert_clean, open_page

MB = 2**20
real_decode = finetune_data.decode_text
ROWS = "label\ttext\n" + "".join(f"{'spam' if i % 2 else 'ham'}\tmessage number {i}\n" for i in range(40))

TABLES = {
    "empty": b"", "spaces": b"   \n  ", "binary": bytes(range(256)) * 4, "nul": b"label\ttext\n\x00\x00",
    "utf-16": ROWS.encode("utf-16"), "latin-1": "label\ttext\nham\tcaf\xe9\n".encode("latin-1"),
    "bom": b"\xef\xbb\xbf" + ROWS.encode(), "header only": b"label\ttext\n", "no header": b"ham\thello\nspam\tbuy\n",
    "one class": ("label\ttext\n" + "ham\thi\n" * 30).encode(), "two rows": b"label\ttext\nham\thi\nspam\tbuy now\n",
    "four rows": b"label\ttext\nham\ta\nspam\tb\nham\tc\nspam\td\n", "good": ROWS.encode(),
    "csv": ROWS.replace("\t", ",").encode(), "csv quotes": b'label,text\n"ham,"x\n"spam","y""z\n',
    "v1 v2": ROWS.replace("label\ttext", "v1\tv2").encode(), "other columns": b"a\tb\nx\ty\n",
    "empty labels": ("label\ttext\n" + "\thello\n" * 30).encode(), "empty texts": ("label\ttext\n" + "ham\t\n" * 30).encode(),
    "ragged": ("label\ttext\textra\n" + "ham\thi\n" * 20 + "spam\tbuy\tmore\tcols\n" * 20).encode(),
    "one huge line": b"label\ttext\nham\t" + b"x" * 2_000_000 + b"\nspam\ty\n",
    "many classes": ("label\ttext\n" + "".join(f"c{i}\tt{i}\n" for i in range(500))).encode(),
    "crlf": ROWS.replace("\n", "\r\n").encode(), "only newlines": b"\n" * 1000,
    "emoji labels": ("label\ttext\n" + "".join(f"{'🙂' if i % 2 else '🙁'}\tm{i}\n" for i in range(40))).encode(),
    "html": ("label\ttext\n" + "".join(f"{'a' if i % 2 else 'b'}\t<script>alert({i})</script>\n"
                                       for i in range(40))).encode(),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_labelled_tables(name):
    try:
        rows, classes = read_labelled_table(TABLES[name], name)
        balanced_split(rows)
    except PlaygroundError:
        return
    assert len(classes) >= 2 and rows


INSTRUCTIONS = {
    "empty": b"", "not json": b"instructions", "object": b'{"instruction": "a", "output": "b"}',
    "empty list": b"[]", "one record": json.dumps([{"instruction": "Say hi", "output": "hi"}]).encode(),
    "nineteen": json.dumps([{"instruction": f"i{i}", "output": "o"} for i in range(19)]).encode(),
    "twenty": json.dumps([{"instruction": f"i{i}", "output": "o"} for i in range(20)]).encode(),
    "numbers": b"[1, 2, 3]", "nulls": json.dumps([{"instruction": None, "output": None}] * 25).encode(),
    "no output": json.dumps([{"instruction": "x"}] * 25).encode(),
    "other keys": json.dumps([{"prompt": f"p{i}", "response": "r"} for i in range(25)]).encode(),
    "numbers as values": json.dumps([{"instruction": 5, "output": 6}] * 25).encode(),
    "nested values": json.dumps([{"instruction": {"a": 1}, "output": [1, 2]}] * 25).encode(),
    "deep": b"[" * 100_000 + b"]" * 100_000, "utf-16": json.dumps([{"instruction": "a", "output": "b"}]).encode("utf-16"),
    "nan": b'[{"instruction": NaN, "output": Infinity}]', "trailing comma": b'[{"instruction": "a", "output": "b"},]',
    "lone surrogate": b'[{"instruction": "\\ud800", "output": "x"}]' * 1, "binary": bytes(range(256)),
    "huge number": b'[{"instruction": 1' + b"0" * 5000 + b', "output": "x"}]',
}


@pytest.mark.parametrize("name", list(INSTRUCTIONS))
def test_instruction_files(name):
    try:
        split_instructions(read_instructions(INSTRUCTIONS[name], name))
    except PlaygroundError:
        return


CORPORA = {"empty": b"", "binary": b"\x00\x01\x02" * 100, "utf-16": "Hallo Welt".encode("utf-16"),
           "latin-1": "Grüße".encode("latin-1"), "valid": b"To be, or not to be",
           "lone surrogate bytes": b"\xed\xa0\x80", "overlong": b"\xc0\xaf", "6 MB": b"a" * (6 * MB)}


@pytest.mark.parametrize("name", list(CORPORA))
def test_corpus_bytes(name):
    try:
        decode_text(CORPORA[name], name, 5 * MB)
    except PlaygroundError:
        return


def test_size_is_checked_before_reading():
    with pytest.raises(PlaygroundError, match="the limit is"):
        check_size(51 * MB, "big.tsv", 5 * MB)


PAGE_UPLOADS = [
    ("finetuning", "finetuning.cls_upload", "big.tsv", b"label\ttext\n" + b"ham\thello there\n" * (51 * MB // 16),
     "the limit is"),
    ("finetuning", "finetuning.cls_upload", "two.tsv", TABLES["two rows"], "too small to split"),
    ("finetuning", "finetuning.cls_upload", "binary.tsv", TABLES["binary"], "binary"),
    ("finetuning", "finetuning.cls_upload", "one.tsv", TABLES["one class"], "only one class"),
    ("finetuning", "finetuning.ins_upload", "one.json", INSTRUCTIONS["one record"], "too few"),
    ("finetuning", "finetuning.ins_upload", "bad.json", INSTRUCTIONS["not json"], "not valid JSON"),
    ("finetuning", "finetuning.ins_upload", "big.json", b"[" + b" " * (6 * MB) + b"]", "the limit is"),
    ("training", "training.upload", "big.txt", b"a" * (6 * MB), "the limit is"),
    ("training", "training.upload", "binary.txt", CORPORA["binary"], "binary"),
    ("training", "training.upload", "latin.txt", CORPORA["latin-1"], "UTF-8"),
]


@pytest.mark.parametrize("page,key,name,data,words", PAGE_UPLOADS, ids=[u[2] for u in PAGE_UPLOADS])
def test_uploads_in_the_pages(page, key, name, data, words, monkeypatch):
    at = open_page(page)
    if page == "training":
        at.radio(key="training.source").set_value("upload a .txt file").run()
    parsed = []  # the names of the files decoded: an upload over the limit never is
    monkeypatch.setattr(finetune_data, "decode_text", lambda data, file: parsed.append(file) or real_decode(data, file))
    next(u for u in at.file_uploader if u.key == key).set_value((name, data, "text/plain")).run()
    assert_clean(at)
    assert any(words in e.value for e in at.error), [e.value for e in at.error]
    if words == "the limit is":
        assert name not in parsed  # refused by its size, never decoded or parsed
    if page == "training":
        assert at.button(key="training.start").disabled
