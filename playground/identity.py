"""Who is using this session: a participant key (kept in the link, so closing the browser loses nothing)
and, with the instructor password from the environment, instructor rights. Never granted by a URL."""

from __future__ import annotations

import hmac
import os
import uuid

import streamlit as st

from playground import keys
from playground.i18n import t

PASSWORD_ENV = "LLM_PLAYGROUND_INSTRUCTOR_PASSWORD"


def current_user() -> str:
    if keys.USER not in st.session_state:
        from_link = st.query_params.get("me", "")
        valid = len(from_link) == 12 and all(c in "0123456789abcdef" for c in from_link)
        st.session_state[keys.USER] = from_link if valid else uuid.uuid4().hex[:12]
    st.query_params["me"] = st.session_state[keys.USER]
    return st.session_state[keys.USER]


def is_instructor() -> bool:
    return bool(st.session_state.get(keys.INSTRUCTOR))


def identity_box() -> None:
    """Shown on the training pages: the participant key, and the instructor unlock when configured."""
    user = current_user()
    with st.expander(t("id.who"), icon=":material/badge:"):
        st.markdown(t("id.key", user=user))
        password = os.environ.get(PASSWORD_ENV)
        if password and not is_instructor():
            typed = st.text_input(t("id.password"), type="password", key=keys.PASSWORD)
            if typed and hmac.compare_digest(typed, password):
                st.session_state[keys.INSTRUCTOR] = True
                st.rerun()
            elif typed:
                st.error(t("id.wrong"))
        if is_instructor():
            st.success(t("id.instructor"))
