"""Per-session state that several pages share (the chosen model, presenter mode), with defaults."""

from __future__ import annotations

import streamlit as st

from core.model.checkpoints import default_model
from playground import keys
from playground.i18n import language


def default_model_key() -> str:
    """The bundled model for the session's language, until the user picks another."""
    return default_model(language())


def current_model_key() -> str:
    return st.session_state.get(keys.MODEL) or default_model_key()


def set_model_key(key: str) -> None:
    st.session_state[keys.MODEL] = key


def presenter() -> bool:
    """Presenter mode: large type for the back row of a lecture hall."""
    return bool(st.session_state.get(keys.PRESENTER, False))


def classroom() -> bool:
    """The classroom filter: on by default, switchable off in the sidebar, always on in presenter mode."""
    return presenter() or bool(st.session_state.get(keys.CLASSROOM, True))
