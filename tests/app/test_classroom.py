"""The classroom filter in the app: a visible stage of the sampling pipeline, on by default, off from the
sidebar, always on in presenter mode; the Generation page and the tour never draw a listed word."""

import json

from tests.support.app import assert_clean, open_page

PUSH = '" fuck": 30'  # a logit bias that makes a listed word (GPT-2 id 5089) all but certain


def pipeline(at) -> dict:
    return next(s for s in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
                if s["layout"]["xaxis"]["title"]["text"] == "stage of the pipeline")


def test_the_filter_is_a_stage_of_the_pipeline_and_can_be_switched_off():
    at = open_page("sampling")
    assert at.toggle(key="app.classroom").value is True
    at.text_area(key="sampling.bias").set_value(PUSH).run()
    assert_clean(at)
    figure = pipeline(at)["data"][0]
    stages = figure["x"]
    assert stages[1:3] == ["logit bias", "classroom filter"]
    row = figure["y"].index("▒▒▒")  # its text is hidden while the filter is on
    assert figure["text"][row][1] != "✗" and figure["text"][row][2] == "✗" and figure["text"][row][-1] == "✗"
    assert "'▒▒▒'" not in " ".join(str(m.value) for m in at.metric)
    at.toggle(key="app.classroom").set_value(False).run()
    assert_clean(at)
    figure = pipeline(at)["data"][0]
    assert "·fuck" in figure["y"] and figure["text"][figure["y"].index("·fuck")][-1] != "✗"


def test_presenter_mode_keeps_the_filter_on():
    at = open_page("sampling", presenter="1", classroom="0")
    assert_clean(at)
    toggle = at.toggle(key="app.classroom")
    assert toggle.value is True and toggle.disabled


def test_link_can_carry_the_filter_off():
    at = open_page("sampling", classroom="0")
    assert at.toggle(key="app.classroom").value is False


def test_generation_never_takes_a_listed_word():
    at = open_page("generation")
    at.text_area(key="generation.bias").set_value(PUSH).run()
    assert_clean(at)
    at.button(key="generation.take_greedy").click().run()
    at.button(key="generation.take_sample").click().run()
    tree = at.session_state["generation.tree"]
    assert 5089 not in tree.path and len(tree.path) == 2
    at.segmented_control(key="generation.view").set_value("compare").run()
    at.slider(key="generation.compare_n").set_value(10).run()
    at.button(key="generation.compare").click().run()
    assert_clean(at)
    assert not any(" fuck" in text for text in at.session_state["generation.compare_result"].values())


def test_the_tour_rolls_the_filtered_die():
    at = open_page("tour")
    at.selectbox(key="tour.jump").set_value("Sampling").run()
    assert_clean(at)
    dice = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert all(p > 0 for p in dice["data"][0]["y"])
