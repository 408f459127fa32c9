"""The hall's shared state: several server processes agree on the lead and on polls; one answer per participant
and poll; sizes limited before they are stored."""

import multiprocessing

import pytest

from core.errors import PlaygroundError
from playground.hall import GUESS_CHARS, PROMPT_CHARS, Hall


def answer_many(root: str, poll_id: int, first: int, n: int) -> None:
    hall = Hall(root)
    for i in range(first, first + n):
        hall.answer(poll_id, f"participant-{i}", f"guess {i % 3}")
        hall.answer(poll_id, f"participant-{i}", f"word {i % 5}")  # answering again replaces the first guess


def show_from_another_process(root: str, page: str) -> None:
    Hall(root).show(page, {"text": "from elsewhere"}, "shakespeare")


def test_processes_agree_on_answers(tmp_path):
    hall = Hall(tmp_path)
    poll = hall.open_poll("ROMEO:\nI love thee, my", "shakespeare", space=True)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=answer_many, args=(str(tmp_path), poll.id, k * 25, 25)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    answers = hall.answers(poll.id)
    assert len(answers) == 100 and len({a.participant for a in answers}) == 100
    by_participant = {a.participant: a.guess for a in answers}
    assert all(by_participant[f"participant-{i}"] == f"word {i % 5}" for i in range(100))


def test_processes_agree_on_the_lead(tmp_path):
    hall = Hall(tmp_path)
    assert hall.lead() is None
    first = hall.show("sampling", {"temperature": 0.5}, "shakespeare")
    assert hall.show("sampling", {"temperature": "0.5"}, "shakespeare") == first  # nothing changed, same version
    process = multiprocessing.get_context("fork").Process(target=show_from_another_process,
                                                           args=(str(tmp_path), "tokens"))
    process.start()
    process.join(120)
    lead = hall.lead()
    assert (lead.active, lead.page, lead.values, lead.version) == (True, "tokens", {"text": "from elsewhere"}, first + 1)
    hall.stop_leading()
    assert not hall.lead().active and hall.lead().version == first + 2


def test_one_poll_open_at_a_time_and_closed_polls_refuse(tmp_path):
    hall = Hall(tmp_path)
    old = hall.open_poll("To be, or not to be", "shakespeare", space=True)
    new = hall.open_poll("ROMEO:\n", "shakespeare", space=False)
    assert not hall.poll(old.id).open and hall.latest_poll() == new
    with pytest.raises(PlaygroundError, match="closed"):
        hall.answer(old.id, "p1", "that")
    hall.answer(new.id, "p1", "  But ")
    assert hall.my_answer(new.id, "p1") == "But"  # blanks around a guess are dropped
    hall.close_poll(new.id)
    assert hall.latest_poll().id == new.id and not hall.latest_poll().open
    with pytest.raises(PlaygroundError, match="closed"):
        hall.answer(new.id, "p2", "Nay")


def test_sizes_are_limited(tmp_path, monkeypatch):
    hall = Hall(tmp_path)
    with pytest.raises(PlaygroundError, match="at most"):
        hall.open_poll("x" * (PROMPT_CHARS + 1), "shakespeare", True)
    with pytest.raises(PlaygroundError, match="Write a prompt"):
        hall.open_poll("   ", "shakespeare", True)
    poll = hall.open_poll("ROMEO:", "shakespeare", True)
    with pytest.raises(PlaygroundError, match="at most 60"):
        hall.answer(poll.id, "p1", "y" * (GUESS_CHARS + 1))
    with pytest.raises(PlaygroundError, match="Type a guess"):
        hall.answer(poll.id, "p1", " \n")
    with pytest.raises(PlaygroundError, match="too large"):
        hall.show("tokens", {"text": "z" * 70_000}, "shakespeare")
    monkeypatch.setattr("playground.hall.ANSWERS_PER_POLL", 2)
    hall.answer(poll.id, "p1", "a")
    hall.answer(poll.id, "p2", "b")
    hall.answer(poll.id, "p2", "c")  # replacing an answer is always allowed
    with pytest.raises(PlaygroundError, match="2 answers"):
        hall.answer(poll.id, "p3", "d")
