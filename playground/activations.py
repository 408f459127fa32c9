"""Cached model runs: one forward pass with capture per (model, input), shared read-only by every page.

Choosing another layer or head re-renders from here without running the model again.
"""

from __future__ import annotations

import streamlit as st

from core.attention import head_scores
from core.errors import PlaygroundError
from core.tokenstats import cap_tokens
from playground import loaders, state
from playground.i18n import t

MAX_TOKENS = 256


@st.cache_resource(max_entries=32, show_spinner="Running the model…")
def run_cached(model_key: str, ids: tuple[int, ...]):
    """(logits [1, T, vocab], Cache) on the CPU for this model and input."""
    model = loaders.get_model(model_key)
    logits, cache = model.run_with_cache([list(ids)])
    return logits.cpu(), cache.to("cpu")


@st.cache_resource(max_entries=16, show_spinner="Measuring what each head does…")
def head_scores_cached(model_key: str, ids: tuple[int, ...]):
    model = loaders.get_model(model_key)
    _, cache = run_cached(model_key, ids)
    return {name: scores.tolist() for name, scores in head_scores(model, cache).items()}


def text_to_model_input(model, text: str, limit: int = MAX_TOKENS) -> list[int]:
    """Tokenize for the current model, capped at `limit` tokens and the context length, with a notice."""
    if not text.strip():
        raise PlaygroundError("The text is empty: type a sentence to see the model's activations.")
    ids = model.tokenizer.encode(text)
    limit = min(limit, model.config.context_length)
    ids, dropped = cap_tokens(ids, limit, keep="start")
    if dropped:
        st.warning(t("act.capped", n=len(ids) + dropped, limit=limit, dropped=dropped), icon=":material/content_cut:")
    return ids


def current_run(model, text: str, limit: int = MAX_TOKENS):
    """ids, logits, cache for the current model and text."""
    ids = text_to_model_input(model, text, limit)
    logits, cache = run_cached(state.current_model_key(), tuple(ids))
    return ids, logits, cache


def clamp_from_url(name: str, value: int, upper: int, label: str) -> int:
    """A layer/head index from the URL, clamped into range with a notice."""
    raw = st.query_params.get(name)
    if raw is None:
        return value
    try:
        wanted = int(raw)
    except ValueError:
        st.warning(f"The link's {label} '{raw}' is not a number; showing {label} {value}.")
        return value
    clamped = max(0, min(upper, wanted))
    if clamped != wanted:
        st.warning(f"The link asks for {label} {wanted}, but this model has {label}s 0 to {upper}; "
                   f"showing {label} {clamped}.")
    return clamped
