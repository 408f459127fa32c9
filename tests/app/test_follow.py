"""Follow the presenter, in AppTest (two sessions in one process: an instructor and a participant): the
participant who opts in gets the instructor's page and link values, checked and clamped like a link's, their
controls locked and pinned; stopping brings their own page and settings back."""

import time

import pytest
from streamlit.testing.v1 import AppTest

from playground import follow, keys
from playground.hall import get_hall
from tests.support.app import APP, assert_clean


@pytest.fixture
def hall(tmp_path, monkeypatch):
    """A hall of its own for each test (the app asks get_hall(), one per server process)."""
    monkeypatch.setattr("playground.hall.RUNS_DIR", tmp_path)
    get_hall.clear()
    yield get_hall()
    get_hall.clear()
    fresh()


def session(instructor: bool = False) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if instructor:
        at.session_state[keys.INSTRUCTOR] = True
    at.run()
    return at


def fresh() -> None:
    """The next read sees the hall now (a server process reads it at most every FRESH_S)."""
    time.sleep(follow.FRESH_S + 0.05)


TITLES = {"sampling": "Logits & sampling", "attention": "Attention", "tokens": "Tokens", "anatomy": "Model anatomy",
          "tour": "Guided tour: from text to the next token"}


def current_page(at: AppTest) -> str:
    return {title: page for page, title in TITLES.items()}.get(at.title[0].value, at.title[0].value)


def test_the_instructor_leads_and_the_participant_follows(hall):
    lecturer = session(instructor=True)
    lecturer.switch_page("../pages/sampling.py").run()
    lecturer.toggle(key=keys.LEAD).set_value(True).run()
    lecturer.select_slider(key="sampling.temperature").set_value(0.3).run()
    lecturer.text_area(key="sampling.prompt").set_value("JULIET:\nO Romeo").run()
    assert_clean(lecturer)
    lead = hall.lead()
    assert lead.active and lead.page == "sampling"
    assert lead.values["temperature"] == "0.3" and lead.values["prompt"] == "JULIET:\nO Romeo"

    me = session()
    me.switch_page("../pages/tokens.py").run()
    me.text_area(key="tokens.text").set_value("my own text").run()
    fresh()
    me.run()
    me.toggle(key=keys.FOLLOW).set_value(True).run()
    assert_clean(me)
    assert current_page(me) == "sampling"
    assert me.select_slider(key="sampling.temperature").value == 0.3
    assert me.text_area(key="sampling.prompt").value == "JULIET:\nO Romeo"
    assert any("controls are locked" in i.value for i in me.info)

    me.select_slider(key="sampling.temperature").set_value(2.0).run()  # a follower's change is set back
    assert me.select_slider(key="sampling.temperature").value == 0.3

    lecturer.select_slider(key="sampling.temperature").set_value(1.5).run()
    fresh()
    me.run()  # what the follower's fragment does within a second: the whole app runs again
    assert me.select_slider(key="sampling.temperature").value == 1.5

    lecturer.switch_page("../pages/attention.py").run()
    fresh()
    me.run()
    assert current_page(me) == "attention"

    me.button(key="follow.stop").click().run()
    assert_clean(me)
    assert current_page(me) == "tokens" and me.text_area(key="tokens.text").value == "my own text"
    assert not any("controls are locked" in i.value for i in me.info)


def test_values_from_the_lead_pass_the_link_checks(hall):
    hall.show("sampling", {"temperature": "9", "top_k": "-3", "prompt": "ROMEO:"}, "shakespeare")
    fresh()
    me = session()
    me.toggle(key=keys.FOLLOW).set_value(True).run()
    assert current_page(me) == "sampling"
    assert me.select_slider(key="sampling.temperature").value == 3.0 and me.number_input(key="sampling.top_k").value == 0
    assert any("temperature" in w.value for w in me.warning)  # clamped, and said so


def test_when_the_lecture_ends_the_participant_gets_their_view_back(hall):
    hall.show("anatomy", {"text": "the lecturer's text"}, "shakespeare")
    fresh()
    me = session()
    me.switch_page("../pages/tour.py").run()
    me.toggle(key=keys.FOLLOW).set_value(True).run()
    assert current_page(me) == "anatomy" and me.text_input(key="anatomy.text").value == "the lecturer's text"
    hall.stop_leading()
    fresh()
    me.run()
    assert_clean(me)
    assert current_page(me) == "tour"
    assert any("not sharing" in c.value for c in me.sidebar.caption)


def test_no_lecture_no_switch(hall):
    hall.stop_leading()
    fresh()
    me = session()
    assert_clean(me)
    assert not [w for w in me.sidebar.toggle if w.key == keys.FOLLOW]
