"""Shareable views, snapshots and presenter mode."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from core import PlaygroundError
from playground.share import Param, read_snapshot
from tests.support.app import APP, assert_clean


def test_param_parsing_clamps_and_refuses():
    assert Param("k", float, 0, 3).parse("7.5") == 3.0
    assert Param("k", int, 0, 10).parse("-4") == 0
    assert Param("k", int).parse("abc") is None
    assert Param("k", choices=("gpt2",)).parse("llama") is None
    assert len(Param("k").parse("x" * 9000)) == 5000


def page_from_link(page: str, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(f"../pages/{page}.py")
    at.run()
    return at


def test_link_reopens_the_sampling_view():
    at = page_from_link("sampling", prompt="JULIET:\nO", temperature="0.3", top_k="5", top_p="0.5", seed="9")
    assert_clean(at)
    assert at.text_area(key="sampling.prompt").value == "JULIET:\nO"
    assert at.select_slider(key="sampling.temperature").value == 0.3
    assert at.number_input(key="sampling.top_k").value == 5
    assert at.query_params["temperature"] == ["0.3"] or at.query_params["temperature"] == "0.3"


def test_bad_link_values_are_clamped_not_crashing():
    at = page_from_link("generation", temperature="99", top_p="-1", top_k="abc", seed="1e99")
    assert_clean(at)
    assert at.select_slider(key="generation.temperature").value == 3.0
    assert at.select_slider(key="generation.top_p").value == 0.01


def test_link_reopens_tokens_and_tour_step():
    at = page_from_link("tokens", text="Hallo Welt", encoding="o200k_base")
    assert_clean(at)
    assert at.radio(key="tokens.encoding").value == "o200k_base"
    at = page_from_link("tour", step="5")
    assert at.subheader[0].value.startswith("Step 5 of 7")


def test_copy_link_never_contains_the_participant_key():
    at = page_from_link("sampling")
    links = [c.value for c in at.code if "?" in c.value and "temperature=" in c.value]
    assert links and all("me=" not in link for link in links)


def test_snapshot_checks():
    pages = {"sampling"}
    good = {"format": "llm-playground-snapshot", "version": 1, "page": "sampling",
            "widgets": {"sampling.temperature": 0.5}}
    assert read_snapshot(json.dumps(good).encode(), pages)["page"] == "sampling"
    with pytest.raises(PlaygroundError, match="not valid JSON"):
        read_snapshot(b"\xff\xfe", pages)
    with pytest.raises(PlaygroundError, match="not an llm-playground snapshot"):
        read_snapshot(b'{"a": 1}', pages)
    with pytest.raises(PlaygroundError, match="does not have"):
        read_snapshot(json.dumps({**good, "page": "admin"}).encode(), pages)
    with pytest.raises(PlaygroundError, match="damaged"):
        read_snapshot(json.dumps({**good, "widgets": {"x": [1, 2]}}).encode(), pages)


def test_presenter_mode_from_link_and_toggle():
    at = page_from_link("tour", presenter="1")
    assert_clean(at)
    assert at.toggle(key="app.presenter").value is True
    at.button(key="tour.next").click().run()  # step 2 has a figure
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert specs and all(s["layout"]["font"]["size"] == 22 for s in specs)  # figures grow for the back row
    at.toggle(key="app.presenter").set_value(False).run()
    assert_clean(at)
    assert "presenter" not in at.query_params
