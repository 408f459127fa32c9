"""Shared pieces for pages that start and follow runs: run picker and cached finetuned models."""

from __future__ import annotations

import json

import streamlit as st

from core.training.estimates import ema
from core.training.finetune import load_classifier
from playground import figures
from playground.i18n import lazy, message_text, t
from playground.runs import get_store


def pick_run(kind: str, user: str, instructor: bool, key: str):
    """A selectbox of this user's visible runs of one kind; None when there are none."""
    runs = [r for r in get_store().visible(user, instructor) if r.kind == kind]
    if not runs:
        return None
    ids = [r.id for r in runs]
    chosen = st.session_state.get(f"{key}.last")
    run_id = st.selectbox(t("runs.pick"), ids, index=ids.index(chosen) if chosen in ids else 0, key=key,
                          format_func=lambda i: next(f"{r.name} · {r.id}" for r in runs if r.id == i))
    return get_store().get(run_id)


def show_reason(run) -> None:
    """Why the run stopped (or was cancelled), in the session's language; red when it failed."""
    if run.reason:
        (st.error if run.state == "failed" else st.info)(message_text(run.reason))


def progress(run) -> tuple[dict, list[dict]]:
    """status.json and metrics so far."""
    return run.files.read_status(), run.files.read_metrics()


def results(run) -> dict | None:
    path = run.folder / "results.json"
    return json.loads(path.read_text()) if path.exists() else None


@st.cache_resource(max_entries=4, show_spinner=lazy("spin.classifier"))
def classifier(folder: str):
    return load_classifier(folder)


def loss_figure(train_rows: list[dict], evals: list[dict], smoothing: float = 0.2):
    """Training loss (raw and smoothed) and validation loss of a run's metrics."""
    losses = [r["train_loss"] for r in train_rows]
    return figures.loss_curves([r["step"] for r in train_rows], losses, ema(losses, smoothing),
                               [r["step"] for r in evals], [r["val_loss"] for r in evals])
