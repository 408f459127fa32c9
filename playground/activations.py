"""Cached model runs: one forward pass with capture per (model, input), shared read-only by every page.

Choosing another layer or head re-renders from here without running the model again.
"""

from __future__ import annotations

import streamlit as st

from core.analysis.attention import head_scores, induction_scores
from core.analysis.interventions import ablate_heads, direct_logit_attribution, patch_heads, patch_residual
from core.errors import PlaygroundError
from core.tokens.stats import cap_tokens
from playground import loaders, state
from playground.i18n import lazy, number, t

MAX_TOKENS = 256


@st.cache_resource(max_entries=32, show_spinner=lazy("spin.run"))
def run_cached(model_key: str, ids: tuple[int, ...]):
    """(logits [1, T, vocab], Cache) on the CPU for this model and input."""
    model = loaders.get_model(model_key)
    logits, cache = model.run_with_cache([list(ids)])
    return logits.cpu(), cache.to("cpu")


@st.cache_resource(max_entries=4, show_spinner=lazy("spin.induction"))
def induction_cached(model_key: str):
    """Induction scores depend on the model only, not on the text: measured once per model."""
    return induction_scores(loaders.get_model(model_key))


@st.cache_data(max_entries=16, show_spinner=False)
def head_scores_cached(model_key: str, ids: tuple[int, ...]):
    _, cache = run_cached(model_key, ids)
    scores = head_scores(loaders.get_model(model_key), cache, induction_cached(model_key))
    return {name: values.tolist() for name, values in scores.items()}


def text_to_model_input(model, text: str, limit: int = MAX_TOKENS) -> list[int]:
    """Tokenize for the current model, capped at `limit` tokens and the context length, with a notice."""
    if not text.strip():
        raise PlaygroundError("The text is empty: type a sentence to see the model's activations.")
    ids = model.tokenizer.encode(text)
    limit = min(limit, model.config.context_length)
    ids, dropped = cap_tokens(ids, limit, keep="start")
    if dropped:
        st.warning(t("act.capped", n=number(len(ids) + dropped), limit=number(limit), dropped=number(dropped)),
                   icon=":material/content_cut:")
    return ids


def current_run(model, text: str, limit: int = MAX_TOKENS):
    """ids, logits, cache for the current model and text."""
    ids = text_to_model_input(model, text, limit)
    logits, cache = run_cached(state.current_model_key(), tuple(ids))
    return ids, logits, cache


# --- the Experiments page: each experiment once per (model, prompts, tokens), as plain lists ------------------

@st.cache_data(max_entries=32, show_spinner=lazy("experiments.running"))
def ablation_cached(model_key: str, ids: tuple[int, ...], target: int, kind: str, reference: tuple[int, ...]):
    result = ablate_heads(loaders.get_model(model_key), list(ids), target, kind, list(reference))
    return {"base": result.base, "change": result.change.tolist()}


@st.cache_data(max_entries=32, show_spinner=lazy("experiments.running"))
def patching_cached(model_key: str, clean: tuple[int, ...], corrupted: tuple[int, ...], target: int,
                    distractor: int):
    model = loaders.get_model(model_key)
    resid = patch_residual(model, list(clean), list(corrupted), target, distractor)
    heads = patch_heads(model, list(clean), list(corrupted), target, distractor)
    return {"clean": resid.clean, "corrupted": resid.corrupted, "resid": resid.restored.tolist(),
            "heads": heads.restored.tolist()}


@st.cache_data(max_entries=32, show_spinner=lazy("experiments.running"))
def attribution_cached(model_key: str, ids: tuple[int, ...], target: int, minus: int | None):
    result = direct_logit_attribution(loaders.get_model(model_key), list(ids), target, minus)
    return {"logit": result.logit, "total": result.total, "heads": result.heads.tolist(),
            "mlps": result.mlps.tolist(), "other": result.other}
