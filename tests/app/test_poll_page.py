"""Guess the next token, in AppTest: the instructor opens a poll, participants answer (one answer each, the last
one counts), the projected view shows the class beside the model, with the model's probabilities computed here
independently from the bundled model."""

import pytest
import torch

from playground import keys
from playground.hall import get_hall
from tests.support.app import assert_clean, open_page

PROMPT = "ROMEO:\nI love thee, my"


@pytest.fixture
def hall(tmp_path, monkeypatch):
    """A hall of its own for each test (the pages ask get_hall(), one per server process)."""
    monkeypatch.setattr("playground.hall.RUNS_DIR", tmp_path)
    get_hall.clear()
    yield get_hall()
    get_hall.clear()


def send(at) -> None:
    next(b for b in at.button if b.key.startswith("FormSubmitter:poll.answer")).click()
    at.run()


def instructor_page(lang: str = "en"):
    from streamlit.testing.v1 import AppTest

    from tests.support.app import APP
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[keys.INSTRUCTOR] = True
    at.session_state[keys.LANG] = lang
    at.run()
    at.switch_page("../pages/poll.py").run()
    return at


def probabilities(bundled) -> torch.Tensor:
    ids = bundled.tokenizer.encode(PROMPT)
    with torch.no_grad():
        return torch.softmax(bundled(torch.tensor([ids]))[0, -1].float(), -1)


def test_a_participant_waits_then_answers_and_may_change_the_answer(hall):
    at = open_page("poll")
    assert_clean(at)
    assert any("No poll is open" in i.value for i in at.info)
    poll = hall.open_poll(PROMPT, "shakespeare", space=True)
    at.run()
    assert at.code[0].value == PROMPT
    at.text_input(key=keys.POLL_GUESS).set_value("love")
    send(at)
    assert_clean(at)
    assert any("`love`" in s.value for s in at.success)
    at.text_input(key=keys.POLL_GUESS).set_value("heart")
    send(at)
    answers = hall.answers(poll.id)
    assert [a.guess for a in answers] == ["heart"]  # one answer per participant: the last one counts


def test_the_projected_view_sets_the_class_beside_the_model(hall, bundled):
    at = instructor_page()
    at.text_area(key="poll.prompt").set_value(PROMPT)
    at.button(key="poll.open").click()
    at.run()
    assert_clean(at)
    poll = hall.latest_poll()
    assert poll.open and poll.prompt == PROMPT and poll.space
    for i, guess in enumerate(["love", "love", "love", "heart", "life", "Lovelace"]):
        hall.answer(poll.id, f"p{i}", guess)
    at.run()
    assert_clean(at)
    probs = probabilities(bundled)
    top = int(torch.argmax(probs))
    assert bundled.tokenizer.token_text(top) == " love"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Answers"] == "6" and metrics["Guessed the model's top token ·love"] == "3 of 6"
    table = at.dataframe[0].value
    shown = dict(zip(table["Guess (as read)"], table["Model's probability"]))
    heart = bundled.tokenizer.encode(" heart")
    assert len(heart) == 1 and shown["·heart"] == f"{float(probs[heart[0]]):.4%}"
    assert shown["·love"] == f"{float(probs[top]):.4%}"
    lovelace = bundled.tokenizer.encode(" Lovelace")
    assert len(lovelace) > 1 and shown["·Lovelace"] == f"{float(probs[lovelace[0]]):.4%} *"
    assert any("several tokens" in c.value for c in at.caption)
    assert at.get("plotly_chart")
    at.button(key="poll.close").click()
    at.run()
    assert not hall.latest_poll().open
    assert any("(closed)" in s.value for s in at.subheader)


def test_the_poll_page_in_german(hall):
    poll = hall.open_poll(PROMPT, "shakespeare", space=True)
    hall.answer(poll.id, "p1", "Lovelace")
    at = instructor_page("de")
    assert_clean(at)
    assert at.title[0].value == "Das nächste Token raten"
    assert {m.label for m in at.metric} >= {"Antworten"}
    assert "Vermutung (wie gelesen)" in at.dataframe[0].value.columns
