"""The training studio in AppTest: set up, start a tiny run, watch it, cancel one, bad settings."""

import time

import pytest
import torch

from tests.support.app import assert_clean, open_page


def set_up_tiny(at, steps=20):
    at.selectbox(key="training.corpus").set_value("the-verdict")
    at.selectbox(key="training.preset").set_value("tiny")
    at.number_input(key="training.steps").set_value(steps)
    at.number_input(key="training.eval").set_value(10)
    at.number_input(key="training.batch").set_value(4)
    at.run()
    assert_clean(at)


def test_start_watch_and_finish():
    at = open_page("training")
    assert_clean(at)
    set_up_tiny(at)
    params = next(m.value for m in at.metric if m.label == "Parameters")
    assert params == "3,320,640"  # count_parameters for 2 layers, width 64, context 64, GPT-2 vocabulary
    at.button(key="training.start").click().run()
    assert_clean(at)
    assert any("its figures appear here" in s.value for s in at.success)  # under 'Your runs', opened by Start
    assert at.session_state["training.tab"] == "Your runs"
    deadline = time.time() + 400  # a loaded 2-core machine trains slowly
    state = ""
    while time.time() < deadline:
        at.run()  # run_every does not fire in AppTest: rerun by hand, like the fragment would
        state = next(m.value for m in at.metric if m.label == "State")
        if state == "finished":
            break
        time.sleep(1)
    assert state == "finished"
    assert_clean(at)
    assert any("Step 20" in m.value for m in at.markdown)  # the last evaluation's sample
    assert at.session_state["training.run_select"]


def test_cancel_a_run():
    at = open_page("training")
    set_up_tiny(at, steps=20_000)
    at.button(key="training.start").click().run()
    at.button(key="training.cancel").click().run()
    assert_clean(at)
    deadline = time.time() + 300
    while time.time() < deadline:
        at.run()
        if next(m.value for m in at.metric if m.label == "State") == "cancelled":
            break
        time.sleep(1)
    assert next(m.value for m in at.metric if m.label == "State") == "cancelled"


def test_impossible_settings_are_refused():
    at = open_page("training")
    at.selectbox(key="training.preset").set_value("custom").run()
    at.number_input(key="training.width").set_value(100)
    at.number_input(key="training.heads").set_value(3)
    at.run()
    assert_clean(at)
    assert any("divisible" in e.value for e in at.error)
    assert at.button(key="training.start").disabled


def test_other_participants_do_not_see_my_runs():
    mine = open_page("training")
    set_up_tiny(mine, steps=5)
    mine.button(key="training.start").click().run()
    other = open_page("training")
    assert_clean(other)
    assert all(mine.session_state["user.id"] not in str(df.value) for df in other.dataframe)
    assert other.session_state["user.id"] != mine.session_state["user.id"]
    assert not any(s.label == "Run" for s in other.selectbox)


def test_a_llama_run_from_the_page():
    """The architecture choice: the parameter count is transformers' LlamaForCausalLM's for the same shape (pairs of
    query heads share a key/value head), and the finished run's model is a Llama."""
    transformers = pytest.importorskip("transformers")

    from core import load_model
    at = open_page("training")
    at.selectbox(key="training.arch").set_value("llama")
    set_up_tiny(at, steps=4)
    hf = transformers.LlamaConfig(vocab_size=50257, hidden_size=64, intermediate_size=192, num_hidden_layers=2,
                                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                                  tie_word_embeddings=True)
    with torch.device("meta"):
        expected = sum(p.numel() for p in transformers.LlamaForCausalLM(hf).parameters())
    assert next(m.value for m in at.metric if m.label == "Parameters") == f"{expected:,}"
    at.button(key="training.start").click().run()
    deadline, state = time.time() + 400, ""
    while time.time() < deadline and state != "finished":
        time.sleep(1)
        at.run()
        state = next(m.value for m in at.metric if m.label == "State")
    assert state == "finished"
    assert_clean(at)
    from core.jobs.store import JobStore
    from playground.runs import RUNS_DIR
    run = JobStore(RUNS_DIR).get(at.session_state["training.run_select"])
    model = load_model(run.folder / "best", device="cpu")
    assert (model.arch, model.config.n_kv_head, model.config.d_mlp) == ("llama", 1, 192)


def test_pasted_text_is_written_only_on_start_and_is_limited(tmp_path, monkeypatch):
    from playground import runs
    monkeypatch.setattr("playground.runs.RUNS_DIR", tmp_path / "runs")
    runs.get_store.clear()
    try:
        at = open_page("training")
        at.radio(key="training.source").set_value("paste").run()
        at.text_area(key="training.pasted").set_value("𝔞" * 1_400_000).run()  # 5.6 MB of 4-byte characters
        assert_clean(at)
        kept = at.text_area(key="training.pasted").value
        assert 0 < len(kept.encode()) <= 5 * 2**20  # cut at the upload's limit (5 MB), never more
        text = "To be, or not to be, that is the question. " * 40
        at.text_area(key="training.pasted").set_value(text).run()
        at.selectbox(key="training.preset").set_value("tiny")
        at.number_input(key="training.steps").set_value(2)
        at.run()
        assert_clean(at)
        assert not list((tmp_path / "runs").glob("*/corpus.txt"))  # typed, not yet started: nothing on disk
        at.button(key="training.start").click().run()
        assert_clean(at)
        written = list((tmp_path / "runs").glob("*/corpus.txt"))
        assert [p.read_text(encoding="utf-8") for p in written] == [text]
        at.button(key="training.cancel").click().run()  # two steps; stopped all the same
    finally:
        runs.get_store.clear()
