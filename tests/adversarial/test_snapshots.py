"""Snapshots: malformed files are refused with one sentence; well-formed ones set only their page's own controls,
each value type-checked and clamped by the same Param as a link (lone surrogates become "?")."""

import json

import pytest

from core import PlaygroundError
from playground.navigation import PAGE_NAMES
from playground.share import SNAPSHOT_LIMIT, Param, read_snapshot
from tests.support.app import assert_clean, open_page

PAGES = set(PAGE_NAMES)


def snapshot(page="sampling", widgets=None, **extra) -> bytes:
    return json.dumps({"format": "llm-playground-snapshot", "version": 1, "page": page,
                       "widgets": {} if widgets is None else widgets, **extra}).encode()


FILES = {
    "empty": b"",
    "not json": b"hello",
    "utf-16": '{"format": "llm-playground-snapshot"}'.encode("utf-16"),
    "latin-1": '{"page": "sampling", "x": "\xe9"}'.encode("latin-1"),
    "nul": b"\x00" * 100,
    "deep list": b"[" * 50_000 + b"]" * 50_000,
    "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "list": b"[1, 2, 3]",
    "string": b'"snapshot"',
    "number": b"42",
    "null": b"null",
    "no format": json.dumps({"page": "sampling", "widgets": {}}).encode(),
    "other format": snapshot(format="something-else"),
    "no page": json.dumps({"format": "llm-playground-snapshot", "widgets": {}}).encode(),
    "unknown page": snapshot(page="admin"),
    "page path": snapshot(page="../../etc/passwd"),
    "page number": snapshot(page=3),
    "page list": snapshot(page=["sampling"]),
    "page null": snapshot(page=None),
    "widgets list": snapshot(widgets=[1, 2]),
    "widgets string": snapshot(widgets="sampling.temperature=3"),
    "widget list value": snapshot(widgets={"sampling.temperature": [1, 2]}),
    "widget dict value": snapshot(widgets={"sampling.temperature": {"v": 1}}),
    "too large": snapshot(widgets={"sampling.prompt": "x" * (SNAPSHOT_LIMIT + 1)}),
    "bom": b"\xef\xbb\xbf" + snapshot(),
    "trailing garbage": snapshot() + b"}}}",
    "lone surrogate escaped": b'{"format": "llm-playground-snapshot", "page": "sampling", "widgets": '
                              b'{"sampling.prompt": "\\ud800"}}',
    "nan token": b'{"format": "llm-playground-snapshot", "page": "sampling", "widgets": '
                 b'{"sampling.temperature": NaN}}',
    "infinity": b'{"format": "llm-playground-snapshot", "page": "sampling", "widgets": '
                b'{"sampling.temperature": 1e400}}',
    "huge integer": b'{"format": "llm-playground-snapshot", "page": "sampling", "widgets": '
                    b'{"sampling.top_k": 1' + b"0" * 4000 + b"}}",
    "version string": snapshot(version="two"),
    "key not text": b'{"format": "llm-playground-snapshot", "page": "sampling", "widgets": {"1": 2}}',
}


@pytest.mark.parametrize("name", list(FILES))
def test_snapshot_files_are_refused_or_read_in_their_form(name):
    try:
        read = read_snapshot(FILES[name], PAGES)
    except PlaygroundError:
        return
    assert read["page"] in PAGES and isinstance(read["widgets"], dict)
    assert all(isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in read["widgets"].items())


PARAMS_SEEN = {  # (key, kind, lo, hi) of the sampling page's controls, as share.sampling_params declares them
    "sampling.prompt": (str, None, None), "sampling.temperature": (float, 0, 3), "sampling.top_k": (int, 0, 50257),
    "sampling.top_p": (float, 0.01, 1), "sampling.seed": (int, 0, 2**31 - 1),
}
WIDGETS = [
    {"sampling.temperature": "hot"}, {"sampling.temperature": 1e308}, {"sampling.temperature": -1e308},
    {"sampling.temperature": float("nan")}, {"sampling.temperature": float("inf")}, {"sampling.temperature": True},
    {"sampling.temperature": "2.5"}, {"sampling.temperature": " 0.5 "}, {"sampling.temperature": ""},
    {"sampling.top_k": 3.5}, {"sampling.top_k": 1e20}, {"sampling.top_k": 10**30}, {"sampling.top_k": -7},
    {"sampling.top_k": "0x10"}, {"sampling.top_k": "12"}, {"sampling.top_k": False},
    {"sampling.top_p": 0}, {"sampling.top_p": 7}, {"sampling.top_p": "1e-9"},
    {"sampling.seed": -5}, {"sampling.seed": 2**70}, {"sampling.seed": "1e99"},
    {"sampling.prompt": 5}, {"sampling.prompt": "\ud800 lone surrogate"}, {"sampling.prompt": "x" * 6000},
    {"sampling.prompt": "\x00\x01\x02"}, {"sampling.prompt": "<script>alert(1)</script>"},
    {"sampling.prompt": "🙂" * 300}, {"sampling.prompt": ""}, {"sampling.prompt": "\u202eRTL override"},
    {"user.instructor": True}, {"user.id": "0" * 32}, {"app.model": "/etc"}, {"app.presenter": "yes"},
    {"training.steps": 10**9}, {"sampling.__class__": 1}, {"sampling.temperature_extra": 2.0},
    {"share.restored.sampling": False}, {"sampling.temperature": 0.7, "sampling.top_k": 3, "sampling.seed": 9},
    {f"sampling.k{i}": i for i in range(300)},
]


@pytest.fixture(scope="module")
def sampling_page():
    at = open_page("sampling")
    assert_clean(at)
    return at


@pytest.mark.parametrize("widgets", WIDGETS, ids=[str(w)[:50] for w in WIDGETS])
def test_snapshot_values_are_checked_like_links(sampling_page, widgets):
    at = sampling_page
    before = {k: at.session_state[k] for k in ("user.id", "app.model") if k in at.session_state}
    at.session_state["share.pending.sampling"] = widgets
    at.run()
    assert_clean(at)
    assert "user.instructor" not in at.session_state or not at.session_state["user.instructor"]
    assert {k: at.session_state[k] for k in before} == before  # identity and model never come from a snapshot
    assert "training.steps" not in at.session_state and "sampling.__class__" not in at.session_state
    for key, (kind, lo, hi) in PARAMS_SEEN.items():
        value = at.session_state[key] if key in at.session_state else None
        if value is None:
            continue
        assert isinstance(value, kind) and not isinstance(value, bool), (key, value)
        if lo is not None:
            assert lo <= value <= hi, (key, value)
        if kind is str:
            value.encode("utf-8")  # encodable: no lone surrogate reaches a widget
            assert len(value) <= 5000


@pytest.mark.parametrize("raw,kind,expected", [
    ("3", int, 3), (3.0, int, 3), (3.5, int, None), (True, int, None), ("nan", float, None), ("inf", float, None),
    ("-0", float, 0.0), ("1_000", int, 1000), ("\u0663", int, 3), ("true", bool, True), (1, bool, None),
    ("\ud800", str, "?"), (None, str, None), ([1], float, None),
], ids=lambda v: repr(v)[:20])
def test_param_types(raw, kind, expected):
    assert Param("k", kind).parse(raw) == expected
