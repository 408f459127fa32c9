"""Shared pieces for pages that start and follow runs: run picker, finetuned models and their answers (computed
once per model and input, so a rerun of the page costs nothing)."""

from __future__ import annotations

import streamlit as st
import torch

from core.errors import PlaygroundError
from core.inference.generate import generate
from core.inference.sampling import softmax
from core.tokens.encodings import load_tokenizer
from core.training.estimates import ema
from core.training.finetune import classify, load_classifier, respond
from playground import figures, loaders
from playground.i18n import error_text, lazy, message_text, t


def visible_runs(store, kinds: tuple[str, ...], user: str, instructor: bool) -> list | None:
    """This user's visible runs of these kinds; None, with one sentence, when the runs database cannot be read (a
    read-only runs folder): the page works on."""
    try:
        return [r for r in store.visible(user, instructor) if r.kind in kinds]
    except PlaygroundError as e:
        st.error(error_text(e), icon=":material/warning:")
        return None


def pick_run(runs: list | None, key: str):
    """A selectbox of these runs (visible_runs of one kind); None when there are none."""
    if not runs:
        return None
    by_id = {r.id: r for r in runs}
    if st.session_state.get(key) not in by_id:  # never chosen, or deleted meanwhile: the newest
        st.session_state.pop(key, None)
    run_id = st.selectbox(t("runs.pick"), list(by_id), key=key, format_func=lambda i: f"{by_id[i].name} · {i}")
    return by_id[run_id]


def get_run(store, run_id: str):
    """The run, or None (with one sentence) when it has gone since the page listed it."""
    try:
        return store.get(run_id)
    except PlaygroundError as e:
        st.info(error_text(e))
        return None


def show_reason(run) -> None:
    """Why the run stopped (or was cancelled), in the session's language; red when it failed."""
    if run.reason:
        (st.error if run.state == "failed" else st.info)(message_text(run.reason))


def device_of(run) -> str:
    """Where a run trains: the device its process reported (under Slurm, the one the job was given), else the one
    it asked for; "auto" is only ever kept by a run that Slurm has yet to place."""
    device = str(run.files.read_status().get("device") or run.device)
    return t("runs.device_auto") if device == "auto" else device


def progress(run) -> tuple[dict, list[dict]]:
    """status.json and metrics so far."""
    return run.files.read_status(), run.files.read_metrics()


def results(run) -> dict | None:
    return run.files.read_results()


@st.cache_resource(max_entries=4, show_spinner=lazy("spin.classifier"))
def classifier(folder: str):
    return load_classifier(folder)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_classify(folder: str, text: str) -> tuple[list[str], list[float]]:
    """A finetuned classifier's class probabilities for one text."""
    model, labels = classifier(folder)
    return labels, classify(model, load_tokenizer(model.backbone.config.tokenizer), text)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_respond(folder: str, instruction: str, input_text: str) -> str:
    return respond(loaders.get_model(folder), instruction, input_text)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_next_tokens(key: str, prompt: str, top: int = 10, continuation: int = 40) -> dict:
    """A model's ten most likely next tokens after the prompt and its greedy continuation, as plain data."""
    model = loaders.get_model(key)
    tok = model.tokenizer
    ids = tok.encode(prompt)[-model.config.context_length:]
    with torch.no_grad():
        logits = model(torch.tensor([ids], device=model.device))[0, -1].float().cpu()
    probs = softmax(logits)
    best = torch.argsort(probs, descending=True)[:top].tolist()
    new = generate(model, ids, continuation, temperature=0, stop_ids={tok.eot_id})[len(ids):]
    return {"pieces": tok.pieces(best), "probs": probs[best].tolist(), "logits": logits[best].tolist(),
            "continuation": tok.decode(new)}


def loss_figure(train_rows: list[dict], evals: list[dict], smoothing: float = 0.2):
    """Training loss (raw and smoothed) and validation loss of a run's metrics."""
    losses = [r["train_loss"] for r in train_rows]
    return figures.loss_curves([r["step"] for r in train_rows], losses, ema(losses, smoothing),
                               [r["step"] for r in evals], [r["val_loss"] for r in evals])
