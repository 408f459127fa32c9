"""The training pages stay true and light: a live view polls only while its run is queued or running; a finished run
shows as finished with Delete and downloads enabled (no reload needed); no empty perplexity frame before the first
evaluation; progress reaches the last step; a new run is the one selected; finetuning's answers are computed once per
model and input."""

import time

import pytest
import streamlit

from core.jobs.store import JobStore
from core.training.runfolder import RunFolder
from playground import run_view, runs
from tests.core.jobs.test_placement import Recorder
from tests.core.jobs.test_store import tiny
from tests.support.app import assert_clean, open_page


@pytest.fixture
def polls(monkeypatch):
    """Every fragment the pages make, with its run_every."""
    seen = []
    real = streamlit.fragment

    def recording(func=None, *, run_every=None, **kwargs):
        seen.append((getattr(func, "__name__", "?"), run_every))
        return real(func, run_every=run_every, **kwargs)
    monkeypatch.setattr(streamlit, "fragment", recording)
    return seen


def as_participant(key: str, page: str = "training"):
    at = open_page("home")
    at.session_state["user.id"] = key
    at.switch_page(f"../pages/{page}.py")
    at.run()
    return at


def test_a_finished_run_is_drawn_once_and_shows_its_buttons(polls):
    store = runs.get_store()
    key = "a" * 32
    run = store.submit(tiny(steps=6, eval_interval=3), owner=key, name="six steps")
    store.tick()
    at = as_participant(key)
    assert_clean(at)
    assert at.selectbox(key="training.run_select").value == run.id
    assert ("_live_body", 1.0) in polls  # queued or running: polled every second
    deadline = time.time() + 400
    while store.get(run.id).state not in ("finished", "failed") and time.time() < deadline:
        time.sleep(1)
        store.tick()
    assert store.get(run.id).state == "finished"
    polls.clear()
    at.run()
    assert_clean(at)
    assert polls == [("_live_body", None)]  # ended: drawn once, no more polling
    assert next(m.value for m in at.metric if m.label == "State") == "finished"
    assert next(m.value for m in at.metric if m.label == "Step") == "6 / 6"
    assert at.get("progress")[0].proto.value == 100  # progress reaches the last step
    assert not at.button(key="training.delete").disabled and at.button(key="training.cancel").disabled
    zip_button = next(d for d in at.get("download_button") if d.key == "training.zip")
    assert not zip_button.proto.disabled  # the checkpoint zip, made only when clicked


def test_no_perplexity_frame_before_the_first_evaluation():
    store: JobStore = runs.get_store()
    key = "b" * 32
    run = store.submit(tiny(steps=100, eval_interval=50), owner=key)  # queued, never ticked here
    files = RunFolder(store.get(run.id).folder)
    for step in range(1, 6):
        files.log("train", step=step, train_loss=10.0 - step, lr=1e-3, grad_norm=1.0, tokens_per_s=100.0, time=step)
    at = as_participant(key)
    assert_clean(at)
    assert any("Perplexity appears after the first evaluation" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 4  # loss, learning rate, gradient norm, speed: no empty perplexity
    store.cancel(run.id, key)


def test_a_new_run_is_the_one_selected():
    at = open_page("training")
    at.selectbox(key="training.corpus").set_value("the-verdict")
    at.selectbox(key="training.preset").set_value("tiny (2 layers, width 64)")
    at.number_input(key="training.steps").set_value(3)
    at.run()
    at.button(key="training.start").click().run()
    first = at.session_state["training.run_select"]
    at.button(key="training.start").click().run()
    assert_clean(at)
    second = at.session_state["training.run_select"]
    assert second != first and at.selectbox(key="training.run_select").value == second
    user = at.session_state["user.id"]
    for run_id in (first, second):
        runs.get_store().cancel(run_id, user)


def test_finetuning_answers_are_computed_once_per_model_and_input(monkeypatch):
    calls = []
    real = run_view.generate
    monkeypatch.setattr(run_view, "generate", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    run_view.cached_next_tokens.clear()
    first = run_view.cached_next_tokens("shakespeare", "ROMEO:")
    again = run_view.cached_next_tokens("shakespeare", "ROMEO:")
    assert first == again and len(calls) == 1
    run_view.cached_next_tokens("shakespeare", "JULIET:")
    assert len(calls) == 2


class HeldByTheCluster(Recorder):
    """A Slurm executor whose jobs stay in Slurm's queue (no Slurm needed)."""

    name = "slurm"

    def waiting(self, job_id):
        return self.alive(job_id)


def test_a_run_still_in_slurms_queue_says_so(monkeypatch):
    store = runs.get_store()
    cluster = HeldByTheCluster()
    monkeypatch.setattr(store, "executor", cluster)
    key = "c" * 32
    run = store.submit(tiny(steps=6), owner=key, name="on the cluster")
    store.tick()
    assert store.get(run.id).state == "running" and store.get(run.id).job == "slurm:1"
    at = as_participant(key)
    assert_clean(at)
    assert any("Slurm has not started it yet" in i.value for i in at.info)
    store.cancel(run.id, key)  # still in Slurm's queue: scancel, and over at once
    assert cluster.ended == {"1"} and store.get(run.id).state == "cancelled"
