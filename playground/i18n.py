"""German and English: `t("key", **values)` looks the key up in the session's language.

Strings live in playground/locales/<lang>/<prefix>.json, one file per page or part of the app (the file
`attention.json` holds the keys "attention.*"); a test fails when a key is missing in either language or a key
used in the code is in neither. The default language comes from LLM_PLAYGROUND_LANG (en or de).
core's error messages stay English in core; `error_text` shows them translated through
locales/errors/<lang>/<area>.json (English template -> template; one file per part of core, "core" for its top
and "app" for the app's own), tested to cover every message core can raise.
Messages core stores (a run's reason to stop) are kept as template + values and translated the same way.
Figures get their words already in the session's language: pages pass t(...) strings, and a figure's own fixed
words are "fig.<key>" by stable keys. Numbers follow the session's locale (`number`, `percent`,
`plotly_separators`).
"""

from __future__ import annotations

import json
import os
import string
from functools import cache
from pathlib import Path

import streamlit as st

from core.errors import Message, PlaygroundError
from playground import keys

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = {"en": "English", "de": "Deutsch"}


@cache
def strings(lang: str) -> dict[str, str]:
    """Every string of one language: the files of locales/<lang>/ merged (their keys never overlap)."""
    merged: dict[str, str] = {}
    for path in sorted((LOCALES / lang).glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def default_language() -> str:
    lang = os.environ.get("LLM_PLAYGROUND_LANG", "en")
    return lang if lang in LANGUAGES else "en"


def language() -> str:
    return st.session_state.get(keys.LANG, default_language())


def template(key: str) -> str:
    """The unformatted text of `key` in the session's language: look it up once, fill it in many times."""
    return strings(language()).get(key) or strings("en")[key]


def t(key: str, /, **values) -> str:
    """The text of `key` in the session's language, filled in; a float given to a format spec ({p:.2f}, {share:.0%})
    is written in the session's locale, as number() writes it."""
    text = template(key)
    if not values:
        return text
    if language() == "de":
        values = {name: _GermanFloat(v) if isinstance(v, float) else v for name, v in values.items()}
    return text.format(**values)


class _GermanFloat(float):
    def __format__(self, spec: str) -> str:
        return format(float(self), spec).translate(_GERMAN_MARKS)


class Lazy(str):
    """A string looked up when it is shown, not when it is made: for texts fixed at import time, such as
    `@st.cache_data(show_spinner=lazy("spin.model"))`, where no session (and so no language) exists yet.
    Streamlit turns the spinner text into a str with str(), which asks the session's language; anywhere else
    it reads as the English text."""

    def __new__(cls, key: str):
        text = super().__new__(cls, strings("en")[key])
        text.key = key
        return text

    def __str__(self) -> str:
        return t(self.key)


def lazy(key: str) -> Lazy:
    return Lazy(key)


@cache
def error_templates(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((LOCALES / "errors" / lang).glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def message_text(stored) -> str:
    """A message core kept as template + values (a run's reason to stop, a note on the prompt) in the session's
    language, its numbers in the session's locale."""
    msg = Message.from_stored(stored)
    template = error_templates(language()).get(msg.template, msg.template)
    if not msg.values:
        return template
    specified = {name for _, name, spec, _ in string.Formatter().parse(template) if name and spec}  # {minutes:.0f}
    values = {k: number(v, 0 if isinstance(v, int) else None)
              if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in specified else v
              for k, v in msg.values.items()}
    return template.format(**values)


def error_text(error: PlaygroundError) -> str:
    """The error's sentence in the session's language, with the same values filled in."""
    text = error_templates(language()).get(error.template, error.template)
    return text.format(**error.values) if error.values else text


_GERMAN_MARKS = str.maketrans(",.", ".,")


def number(x: float, decimals: int | None = 0, digits: int = 6) -> str:
    """A number in the session's locale, the one format of a page and its figures: thousands separated and
    `decimals` decimals, or with decimals=None at most `digits` significant digits (like "{:.6g}").

    >>> number(7655552), number(2.8, 2), number(0.08421, None, 3)
    ('7,655,552', '2.80', '0.0842')

    In German: 7.655.552, 2,80 and 0,0842 (figures get the same through `plotly_separators`)."""
    text = f"{x:.{digits}g}" if decimals is None else f"{x:,.{decimals}f}"
    return text.translate(_GERMAN_MARKS) if language() == "de" else text


def percent(p: float, decimals: int = 1) -> str:
    """A share as a percentage in the session's locale: 0.517 -> "51.7%" (German "51,7%", as plotly's ".1%")."""
    return number(100 * p, decimals) + "%"


def list_separator() -> str:
    """Between numbers written in a row: "; " where the decimal mark is a comma (3,23; -7,1), else ", "."""
    return "; " if language() == "de" else ", "


def plotly_separators() -> str:
    """Plotly's `layout.separators` (decimal mark, then thousands) for the session's locale."""
    return ",." if language() == "de" else ".,"
