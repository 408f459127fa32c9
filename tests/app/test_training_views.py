"""The training pages stay true and light: a live view polls only while its run is queued or running (on the
training and the finetuning page); a finished run shows as finished with Delete and downloads enabled (no reload
needed), a finished finetuning run its results; no empty perplexity frame before the first evaluation; progress
reaches the last step; a new run is the one selected; finetuning's answers (next tokens, responses, classes) are
computed once per model and input."""

from types import SimpleNamespace

import pytest
import streamlit
import torch

from core.jobs.store import JobStore
from core.model.gpt import GPT, GPTConfig
from core.training.finetune import FinetuneConfig, GPTClassifier
from core.training.runfolder import RunFolder
from playground import run_view, runs
from tests.support.app import assert_clean, open_page
from tests.support.jobs import Recorder, tiny, wait_for


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


def test_a_finished_run_is_drawn_once_and_shows_its_buttons(polls, monkeypatch):
    made = []  # the checkpoint zip and the metrics CSV are made when clicked, never on a rerun
    for name in ("checkpoint_zip", "metrics_csv"):
        monkeypatch.setattr(runs, name, lambda folder, name=name: made.append(name) or b"")
    store = runs.get_store()
    key = "a" * 32
    run = store.submit(tiny(steps=6, eval_interval=3), owner=key, name="six steps")
    store.tick()
    at = as_participant(key)
    assert_clean(at)
    assert at.selectbox(key="training.run_select").value == run.id
    assert ("_live_body", 1.0) in polls  # queued or running: polled every second
    assert wait_for(store, run.id, {"finished", "failed"}, timeout=400).state == "finished"  # a loaded 2-core machine
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
    at.run()
    assert made == []


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


def test_a_run_started_in_german_is_named_and_announced_in_german(monkeypatch):
    """Its default name is the corpus's German title, and the sentence that announces it is German grammar
    whatever state the run is in (not "ist läuft"). German as the server's language: the test reads the widgets'
    labels in it too."""
    monkeypatch.setenv("LLM_PLAYGROUND_LANG", "de")
    at = open_page("training")
    at.selectbox(key="training.corpus").set_value("the-verdict")
    at.number_input(key="training.steps").set_value(3)
    at.run()
    at.button(key="training.start").click().run()
    assert_clean(at)
    run = runs.get_store().get(at.session_state["training.run_select"])
    try:
        assert run.name == t_de("corpus.the-verdict")
        announced = [m.value for m in at.toast] + [s.value for s in at.success]
        assert any(f"Lauf {run.name} gestartet (Zustand: " in m for m in announced), announced
    finally:
        runs.get_store().cancel(run.id, at.session_state["user.id"])


def t_de(key: str) -> str:
    from playground.i18n import strings
    return strings("de")[key]


SPAM = "\n".join(["label\ttext"] + [f"ham\tsee you at lunch {i}" for i in range(30)] +
                 [f"spam\tWIN a FREE prize now call {i}" for i in range(30)])


def test_a_finished_finetuning_run_is_drawn_once_and_shows_its_results(polls):
    store = runs.get_store()
    key = "d" * 32
    cfg = FinetuneConfig(task="classify", epochs=1, batch_size=8, eval_interval=3, log_interval=4, trainable="lora",
                         lora_rank=2, device="cpu")
    run = store.submit(cfg, owner=key, name="spam filter", upload=SPAM.encode())  # the page's tick starts it
    at = as_participant(key, "finetuning")
    assert_clean(at)
    assert at.selectbox(key="finetuning.cls_run").value == run.id
    assert ("classification_view", 2.0) in polls  # queued or running: polled every two seconds
    assert wait_for(store, run.id, {"finished", "failed"}, timeout=400).state == "finished"  # a loaded 2-core machine
    polls.clear()
    at.run()
    assert_clean(at)
    assert polls == [("classification_view", None)]  # ended: drawn once, no more classifying every two seconds
    assert at.get("progress")[0].proto.value == 100
    assert any(m.label == "Test accuracy" for m in at.metric)
    assert any("**spam**" in m.value for m in at.markdown)  # the try-it answer of the finetuned classifier


def test_on_a_projector_a_finetuning_runs_view_comes_before_the_folded_form():
    """Presenter mode with a run of the tab's kind: the run's choice and live view open the tab, the data and the
    settings for a new run fold into one expander below them; without presenter mode the form comes first."""
    from playground import keys
    store = runs.get_store()
    key = "e" * 32
    cfg = FinetuneConfig(task="classify", epochs=1, batch_size=8, trainable="lora", lora_rank=2, device="cpu")
    run = store.submit(cfg, owner=key, name="spam filter", upload=SPAM.encode())
    try:
        at = open_page("home")
        at.session_state["user.id"] = key
        at.session_state[keys.PRESENTER] = True
        at.switch_page("../pages/finetuning.py")
        at.run()
        assert_clean(at)
        blocks = list(at.tabs[0].children.values())  # explanation, the run's view, the folded form
        view = next(i for i, b in enumerate(blocks) if b.selectbox and b.selectbox[0].key == "finetuning.cls_run")
        form = next(i for i, b in enumerate(blocks) if getattr(b, "label", None) == "New run: data and settings")
        assert view < form and blocks[view].selectbox[0].value == run.id
        assert blocks[form].button(key="finetuning.cls_start") and blocks[form].get("file_uploader")
        at.session_state[keys.PRESENTER] = False
        at.run()
        assert not [e for e in at.tabs[0].expander if e.label == "New run: data and settings"]
    finally:
        store.cancel(run.id, key, False)


@pytest.mark.parametrize("cached, computes, inputs", [
    ("cached_next_tokens", "generate", [("shakespeare", "ROMEO:"), ("shakespeare", "JULIET:")]),
    ("cached_respond", "respond", [("shakespeare", "Name a fruit.", ""), ("shakespeare", "Name a fruit.", "Yellow.")]),
    ("cached_classify", "classify", [("spam filter", "WIN a FREE prize"), ("spam filter", "see you at lunch")]),
])
def test_finetuning_answers_are_computed_once_per_model_and_input(monkeypatch, cached, computes, inputs):
    torch.manual_seed(0)
    classifier = GPTClassifier(GPT(GPTConfig(context_length=16, n_layer=1, n_head=2, n_embd=8)), 2).eval()
    # what is counted is the classification, so any classifier will do in place of a finetuning run's
    monkeypatch.setattr(run_view, "classifier", lambda folder: (classifier, ["ham", "spam"]))
    calls = []
    real = getattr(run_view, computes)
    monkeypatch.setattr(run_view, computes, lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    answer = getattr(run_view, cached)
    answer.clear()
    first = answer(*inputs[0])
    again = answer(*inputs[0])
    assert first == again and len(calls) == 1
    answer(*inputs[1])
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


def test_the_runs_table_names_the_device_a_run_got():
    """The device a run's process reported (under Slurm: the one the job was given), else the one it asked for;
    a run Slurm has yet to place says so instead of 'auto'."""
    def run(device, status):
        return SimpleNamespace(device=device, files=SimpleNamespace(read_status=lambda: status))
    assert run_view.device_of(run("auto", {"device": "cuda:0"})) == "cuda:0"
    assert run_view.device_of(run("cuda", {})) == "cuda"
    assert run_view.device_of(run("auto", {})) == "chosen by Slurm"
