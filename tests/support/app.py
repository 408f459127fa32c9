"""Helpers for the app's tests: open a page in AppTest, fail on any exception shown, find English words left
on German pages."""

import re

from streamlit.testing.v1 import AppTest

from playground import keys
from playground.i18n import strings
from tests.support.server import ROOT

APP = str(ROOT / "playground" / "app.py")
TIMEOUT = 60  # pages that run the model take longer than AppTest's default 3 s


def open_page(url: str, session_model=None, **query) -> AppTest:
    """The app at one page (url path as in playground.navigation), after its first run; query: the link's
    values; session_model: a folder chosen as the session's model (as the sidebar's folder box does)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if session_model is not None:
        at.session_state[keys.MODEL] = str(session_model)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if url != "home":
        at.switch_page(f"../pages/{url}.py")
        at.run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


NEUTRAL = {"T", "p", "n", "GELU", "ReLU", "x", "y", "z"}  # symbols and names that read the same in German


def english_words(texts) -> set[str]:
    """Words that are still English: words the German locale never uses, and words of the English figure and
    table vocabulary ("fig.*") that no German figure word repeats."""
    def words(items):
        return {w for text in items for w in re.findall(r"[^\W\d_]+", text)}

    german = words(strings("de").values())
    german_fig = words(v for k, v in strings("de").items() if k.startswith("fig."))
    english_fig = words(v for k, v in strings("en").items() if k.startswith("fig.")) - german_fig
    return {w for w in words(texts) - NEUTRAL if w not in german or w in english_fig}


def english_left(spec: dict) -> set[str]:
    """English words left in a German figure's title, axis titles, hover/text templates, legend names and
    annotations."""
    texts = [trace.get(attr, "") for trace in spec["data"] for attr in ("hovertemplate", "texttemplate", "name")]
    texts += [note.get("text", "") for note in spec["layout"].get("annotations", [])]
    texts += [thing.get("title", {}).get("text", "") for key, thing in spec["layout"].items()
              if key == "title" or key.startswith(("xaxis", "yaxis"))]
    return english_words(re.sub(r"%\{[^}]*\}|<[^>]*>", " ", text or "") for text in texts)
