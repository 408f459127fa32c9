"""Small UI helpers shared by the pages: clear errors instead of tracebacks, the current model."""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd
import streamlit as st

from core.errors import PlaygroundError
from core.training.data import CORPORA
from playground import examples, loaders, state
from playground.i18n import error_text, language, t


@contextmanager
def friendly_errors(stop: bool = False):
    """Show a PlaygroundError as one red sentence; the rest of the page keeps working (or stops if asked)."""
    try:
        yield
    except PlaygroundError as e:
        st.error(error_text(e), icon=":material/warning:")
        if stop:
            st.stop()


def current_model():
    """The model chosen in the sidebar; falls back to the bundled one with a message if it cannot load."""
    key = state.current_model_key()
    try:
        return loaders.get_model(key)
    except PlaygroundError as e:
        st.error(f"{error_text(e)} {t('app.using_bundled')}", icon=":material/warning:")
        state.set_model_key(state.default_model_key())
        return loaders.get_model(state.default_model_key())


def slider(where, label: str, lo: int, hi: int, value: int, key: str, **kwargs) -> int:
    """st.slider that also works when a model leaves a single choice (one layer, width 8, context 8): then that value
    is shown as a caption (Streamlit refuses a slider whose ends are equal)."""
    if hi <= lo:
        where.caption(f"{label}: {lo}")
        return lo
    return where.slider(label, lo, hi, min(max(value, lo), hi), key=key, **kwargs)


def explain(text: str) -> None:
    """The short plain-words explanation on top of each part of a page."""
    st.info(text, icon=":material/lightbulb:")


def model_language() -> str:
    """The language of the text the current model learnt from."""
    return examples.text_language(loaders.get_card(state.current_model_key()))


def example(page: str) -> str:
    """The page's example text, in a language the current model reads (examples.prompt)."""
    return examples.prompt(page, language(), model_language())


def language_note() -> None:
    """Under a text box: says so when the model learnt from another language than the session's."""
    reads = model_language()
    if reads != language():
        card = loaders.get_card(state.current_model_key())
        corpus = card.get("corpus")
        st.caption(t("app.model_reads", language=t(f"app.lang_{reads}"),
                     corpus=corpus_title(corpus) if corpus in CORPORA else corpus or "GPT-2"))


def corpus_title(name: str) -> str:
    """A bundled corpus's title (core.data.CORPORA) in the session's language."""
    return t(f"corpus.{name}")


def table(where, data, **kwargs) -> None:
    """A table whose columns are named by ids ("rank", "cosine_similarity"), shown as their headers "fig.<id>" in
    the session's language. Only for columns the app names: tables whose columns are tokens use where.dataframe."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    frame = frame.rename(columns=lambda column: t(f"fig.{column}"))
    where.dataframe(frame, **{"hide_index": True, "width": "stretch", **kwargs})


def chart(where, fig, key: str) -> None:
    """A plotly figure (from playground.figures, already in the session's language) with its camera button set
    to the format chosen in the sidebar (PNG or SVG); the image is made in the browser, so it works offline."""
    fmt = st.session_state.get("app.figure_format", "png")
    where.plotly_chart(fig, key=key, config={"displaylogo": False, "toImageButtonOptions": {
        "format": fmt, "filename": key.replace(".", "-"), "scale": 2 if fmt == "png" else 1}})
