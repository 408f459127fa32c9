"""A runs folder that cannot be written (read-only from the start, made read-only during the workshop, a full disk)
on the pages: the training pages and the poll say it in one sentence (SQLite cannot even open its files for reading on a full
disk), every other page works as before. The job
queue and the lecture hall keep their SQLite files there, and the hall is read on every page (following)."""

import pytest

from core.jobs.store import JobStore
from playground import follow, runs
from playground.hall import Hall, get_hall
from tests.support.app import assert_clean, open_page
from tests.support.disk import fill, remount_read_only, small_tmpfs

READ_ONLY = "The runs folder cannot be written (read-only)"
FULL = "The disk of the runs folder is full"
ALL_PAGES = ("home", "tokens", "attention", "training", "finetuning", "poll")


@pytest.fixture
def faulty_runs(request, monkeypatch):
    """The server's runs folder on a small tmpfs in the state the test asks for; the server's queue and hall
    (one per process, cached) start afresh on it."""
    fault = request.param
    with small_tmpfs("8m") as disk:
        folder = disk / "runs"
        monkeypatch.setattr("playground.runs.RUNS_DIR", folder)
        monkeypatch.setattr("playground.hall.RUNS_DIR", folder)
        runs.get_store.clear()
        get_hall.clear()
        monkeypatch.setattr(follow, "_read", (0.0, None))
        if fault == "read-only later":  # the server opened both while it could, then the folder became read-only
            runs.get_store(), get_hall()
            remount_read_only(disk)
        elif fault == "read-only from the start":
            remount_read_only(disk)
        else:
            JobStore(folder), Hall(folder)
            fill(disk)
        yield fault
        runs.get_store.clear()
        get_hall.clear()


def errors(at) -> list[str]:
    return [e.value for e in at.error]


@pytest.mark.parametrize("faulty_runs", ["read-only from the start", "read-only later", "full disk"], indirect=True)
def test_every_page_works_and_the_training_pages_say_why(faulty_runs):
    expected = FULL if faulty_runs == "full disk" else READ_ONLY
    for url in ALL_PAGES:
        at = open_page(url)
        assert_clean(at)
        if url in ("training", "finetuning", "poll"):
            assert any(e.startswith(expected) for e in errors(at)), (url, errors(at))
        else:
            assert not errors(at), (url, errors(at))  # nothing here needs the runs folder
