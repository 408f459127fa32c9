"""Per-session state that several pages share (the chosen model, presenter mode), with defaults."""

from __future__ import annotations

import streamlit as st

from core.model.checkpoints import DEFAULT_MODEL
from playground import keys


def current_model_key() -> str:
    return st.session_state.get(keys.MODEL, DEFAULT_MODEL)


def set_model_key(key: str) -> None:
    st.session_state[keys.MODEL] = key


def presenter() -> bool:
    """Presenter mode: large type for the back row of a lecture hall."""
    return bool(st.session_state.get(keys.PRESENTER, False))


def classroom() -> bool:
    """The classroom filter: on by default, switchable off in the sidebar, always on in presenter mode."""
    return presenter() or bool(st.session_state.get(keys.CLASSROOM, True))
