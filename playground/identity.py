"""Who is using this session: a participant key kept in a cookie of this browser, and instructor rights.

The key (128 random bits) is never in a URL: the app sets it as a cookie (`SameSite=Strict`) and reads it back through
`st.context.cookies` when a page is opened, so a reload or a second tab of the same browser is the same participant
(and shares their run limit), while another browser is a new participant. A participant who moves to another
browser types their key into the "Who am I?" box. The address bar is never read or written for identity.

Instructor rights come from the password in the server's environment (LLM_PLAYGROUND_INSTRUCTOR_PASSWORD), never
from a URL. The typed password is compared as UTF-8 bytes after Unicode normalisation (any script works; é typed as
one or two code points matches), in constant time; wrong attempts are limited per session and per client address.

Left out: accounts and logins (put a reverse proxy with your university's login in front, see README).
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import threading
import time
import unicodedata
from collections import deque

import streamlit as st

from playground import keys, state
from playground.i18n import t

PASSWORD_ENV = "LLM_PLAYGROUND_INSTRUCTOR_PASSWORD"
COOKIE = "llm_playground_key"
KEY = re.compile(r"[0-9a-f]{32}")
WINDOW_S = 60.0
PER_SESSION, PER_CLIENT = 5, 10  # wrong passwords allowed per minute


def _text(value) -> str:
    """A cookie or header as text ('' when the browser sent none, or under AppTest, which has no browser)."""
    return value if isinstance(value, str) else ""


def current_user() -> str:
    if keys.USER not in st.session_state:
        kept = _text(st.context.cookies.get(COOKIE))
        st.session_state[keys.USER] = kept if KEY.fullmatch(kept) else secrets.token_hex(16)
    return st.session_state[keys.USER]


def remember() -> None:
    """Called once per run by the app: the browser keeps the key as a cookie (never the address bar)."""
    user = current_user()
    if _text(st.context.cookies.get(COOKIE)) != user:
        st.sidebar.html(
            f"<script>document.cookie = '{COOKIE}={user}; path=/; max-age=31536000; SameSite=Strict'"
            f" + (location.protocol === 'https:' ? '; Secure' : '');</script>", unsafe_allow_javascript=True)


def is_instructor() -> bool:
    return bool(st.session_state.get(keys.INSTRUCTOR))


def password_matches(typed: str, expected: str) -> bool:
    """Any Unicode, compared as bytes in constant time (hmac.compare_digest refuses non-ASCII str)."""
    def as_bytes(text: str, errors: str) -> bytes:
        return unicodedata.normalize("NFC", text).encode("utf-8", errors)
    return hmac.compare_digest(as_bytes(typed, "surrogatepass"), as_bytes(expected, "surrogateescape"))


class Attempts:
    """Wrong passwords per session and per client in the last minute, shared by every session of the server."""

    def __init__(self):
        self.lock = threading.Lock()
        self.wrong: dict[str, deque] = {}

    def _recent(self, who: str, now: float) -> deque:
        times = self.wrong.setdefault(who, deque())
        while times and now - times[0] > WINDOW_S:
            times.popleft()
        return times

    def wait_s(self, session: str, client: str, now: float | None = None) -> float:
        """Seconds until this session and client may try again (0: now)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            waits = [WINDOW_S - (now - times[0]) for who, limit in ((f"s:{session}", PER_SESSION), (f"c:{client}", PER_CLIENT))
                     if len(times := self._recent(who, now)) >= limit]
        return max(waits, default=0.0)

    def failed(self, session: str, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self.lock:
            for who in (f"s:{session}", f"c:{client}"):
                self._recent(who, now).append(now)
            if len(self.wrong) > 10_000:  # forget quiet sessions and clients
                self.wrong = {k: v for k, v in self.wrong.items() if v}


@st.cache_resource
def attempts() -> Attempts:
    return Attempts()


def client_address() -> str:
    """The browser's address; behind a reverse proxy on this machine, the address the proxy reports."""
    ip = _text(st.context.ip_address) or "unknown"
    if ip in ("127.0.0.1", "::1", "unknown"):
        headers = st.context.headers
        forwarded = _text(headers.get("X-Forwarded-For")) or _text(headers.get("X-Real-Ip"))
        ip = forwarded.split(",")[-1].strip() or ip
    return ip


def _try_password() -> None:
    typed = st.session_state.get(keys.PASSWORD) or ""
    st.session_state[keys.PASSWORD] = ""  # the typed text is not kept in the session
    st.session_state.pop(keys.PASSWORD_ERROR, None)
    expected = os.environ.get(PASSWORD_ENV)
    if not typed or not expected:
        return
    session = st.session_state.setdefault(keys.SESSION, secrets.token_hex(8))
    wait = attempts().wait_s(session, client_address())
    if wait:
        st.session_state[keys.PASSWORD_ERROR] = t("id.too_many", s=f"{wait:.0f}")
    elif password_matches(typed, expected):
        st.session_state[keys.INSTRUCTOR] = True
    else:
        attempts().failed(session, client_address())
        st.session_state[keys.PASSWORD_ERROR] = t("id.wrong")


def _use_key() -> None:
    typed = (st.session_state.get(keys.KEY_INPUT) or "").strip().lower()
    st.session_state[keys.KEY_INPUT] = ""
    st.session_state.pop(keys.KEY_ERROR, None)
    if KEY.fullmatch(typed):
        st.session_state[keys.USER] = typed  # remember() writes it into this browser's cookie
    elif typed:
        st.session_state[keys.KEY_ERROR] = t("id.bad_key")


def identity_box() -> None:
    """Shown on the training pages: the participant key (hidden until asked for), moving to another browser, and the
    instructor unlock when the server has a password."""
    user = current_user()
    # On a projector it waits in the sidebar: the page's figure keeps the first screen, and no key is shown to the room.
    where = st.sidebar if state.presenter() else st
    with where.expander(t("id.who"), icon=":material/badge:"):
        st.markdown(t("id.key"))
        if st.toggle(t("id.show_key"), key=keys.SHOW_KEY):
            st.code(user, language=None)
        st.text_input(t("id.use_key"), key=keys.KEY_INPUT, type="password", on_change=_use_key)
        if st.session_state.get(keys.KEY_ERROR):
            st.error(st.session_state[keys.KEY_ERROR])
        if os.environ.get(PASSWORD_ENV) and not is_instructor():
            st.text_input(t("id.password"), type="password", key=keys.PASSWORD, on_change=_try_password)
            if st.session_state.get(keys.PASSWORD_ERROR):
                st.error(st.session_state[keys.PASSWORD_ERROR])
        if is_instructor():
            st.success(t("id.instructor"))
