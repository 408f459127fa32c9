"""German and English: `t("key", **values)` looks the key up in the session's language.

Strings live in playground/locales/<lang>.json; a test fails when a key is missing in either language or a
key used in the code is in neither. The default language comes from LLM_PLAYGROUND_LANG (en or de).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import streamlit as st

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = {"en": "English", "de": "Deutsch"}
LANG_KEY = "app.lang"


@lru_cache(maxsize=None)
def strings(lang: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


def default_language() -> str:
    lang = os.environ.get("LLM_PLAYGROUND_LANG", "en")
    return lang if lang in LANGUAGES else "en"


def language() -> str:
    return st.session_state.get(LANG_KEY, default_language())


def t(key: str, /, **values) -> str:
    text = strings(language()).get(key) or strings("en")[key]
    return text.format(**values) if values else text
