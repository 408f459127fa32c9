"""Per-session state that several pages share (the chosen model, presenter mode), with defaults."""

from __future__ import annotations

import streamlit as st

from core.checkpoints import DEFAULT_MODEL

MODEL_KEY = "app.model"
PRESENTER_KEY = "app.presenter"


def current_model_key() -> str:
    return st.session_state.get(MODEL_KEY, DEFAULT_MODEL)


def set_model_key(key: str) -> None:
    st.session_state[MODEL_KEY] = key


def presenter() -> bool:
    """Presenter mode: large type for the back row of a lecture hall."""
    return bool(st.session_state.get(PRESENTER_KEY, False))
