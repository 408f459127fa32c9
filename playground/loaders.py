"""Cached loaders: one model and tokenizer per server process, shared read-only by every session.

`st.cache_resource` holds objects that must never be changed (never call .train() on them);
`st.cache_data` holds derived arrays, keyed by their inputs.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch

import core
from core.errors import PlaygroundError
from core.model.checkpoints import MODELS_DIR, bundled_models, default_device, read_card
from playground.i18n import lazy, t
from playground.runs import get_store

MODEL_LOADED = "llm-playground: loaded model"  # logged per model load; the load test counts it
MODEL_DIRS_ENV = "LLM_PLAYGROUND_MODEL_DIRS"  # folders (separated by ":") the operator offers to every participant
# Threads of one forward pass in the server. Sessions run in threads of their own, so one each uses the cores
# without oversubscription: with torch's default (all cores) a streamed generation ran at a third of core.generate's
# speed beside the browser that drew it (bench/bench_browser.py; 68 against 145 tokens/s with one thread).
THREADS_ENV = "LLM_PLAYGROUND_TORCH_THREADS"


@dataclass(frozen=True)
class ModelChoice:
    key: str  # what core.load_model takes
    name: str  # the bundled model's or the run's name
    kind: str  # bundled | run | folder
    folder: str = ""  # a run's checkpoint folder name (best, final)


@st.cache_data(ttl=2, show_spinner=False)  # the picker draws on every rerun; runs appear within two seconds
def model_choices(user: str, instructor: bool = False) -> list[ModelChoice]:
    """Bundled models, then the checkpoints of the training runs this user may see (own and shared)."""
    choices = [ModelChoice(name, name, "bundled") for name in bundled_models()]
    try:
        runs = get_store().visible(user, instructor)
    except PlaygroundError:  # a runs folder that cannot be used leaves the bundled models (the training pages say why)
        runs = []
    for run in runs:
        folder = run.files.model_folder()
        if folder is not None:
            choices.append(ModelChoice(str(folder), run.name, "run", folder.name))
    return choices


def operator_dirs() -> list[Path]:
    return [Path(p).expanduser().resolve() for p in os.environ.get(MODEL_DIRS_ENV, "").split(os.pathsep) if p.strip()]


def allowed_folder(typed: str, user: str, instructor: bool = False) -> str:
    """The folder the "load a folder" box may open, with every link resolved: inside one of this user's runs, a run
    shared with them, or a folder the operator lists in LLM_PLAYGROUND_MODEL_DIRS. Anything else gets the same
    sentence whether or not it exists, so the box cannot be used to explore the server."""
    roots = operator_dirs()
    with suppress(PlaygroundError):  # a runs folder that cannot be used leaves the operator's folders
        roots += [run.folder.resolve() for run in get_store().visible(user, instructor)]
    try:
        if not typed or len(typed) > 1000 or "\x00" in typed:
            raise ValueError
        path = Path(typed).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        path = None
    if path is not None and any(path == root or path.is_relative_to(root) for root in roots):
        return str(path)
    raise PlaygroundError(
        "This box opens only your own runs, runs shared with you and the model folders this server offers "
        "({folders}).", folders=", ".join(map(str, operator_dirs())) or "none")


def forward_threads() -> int:
    """The operator's LLM_PLAYGROUND_TORCH_THREADS (a whole number from 1), else 1."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) >= 1 else 1


@st.cache_resource(show_spinner=lazy("spin.model"), max_entries=4)
def get_model(key: str) -> core.GPT:
    """Loaded once per server process and shared read-only by every session (the load test counts this line)."""
    started = time.perf_counter()
    torch.set_num_threads(forward_threads())
    model = core.load_model(key, device=default_device())
    model.requires_grad_(False)
    print(f"{MODEL_LOADED} {key} in {time.perf_counter() - started:.2f} s", flush=True)
    return model


@st.cache_data(show_spinner=False, max_entries=16)
def get_card(key: str) -> dict:
    path = MODELS_DIR / key if (MODELS_DIR / key).exists() else Path(key)
    return read_card(path) if path.is_dir() else {}


@st.cache_data(show_spinner=False)
def bundled_heads(behaviour: str, threshold: float) -> list[tuple[str, int, int, float]]:
    """(model, layer, head, score) for each bundled model whose card names a head with this behaviour at or above
    threshold: where a model shows none, the page can open one that does."""
    found = []
    for name in bundled_models():
        best = get_card(name).get("head_scores", {}).get(behaviour)
        if best and best["score"] >= threshold:
            found.append((name, best["layer"], best["head"], best["score"]))
    return found


def device_label() -> str:
    device = default_device()
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return {"mps": "Apple GPU (MPS)"}.get(device.type, t("app.device_cpu", n=os.cpu_count()))
