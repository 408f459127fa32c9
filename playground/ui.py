"""Small UI helpers shared by the pages: clear errors instead of tracebacks, the current model."""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd
import streamlit as st

from core.checkpoints import DEFAULT_MODEL
from core.errors import PlaygroundError
from playground import figures, loaders, state
from playground.i18n import error_text, figure_words, language, strings, t


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
        state.set_model_key(DEFAULT_MODEL)
        return loaders.get_model(DEFAULT_MODEL)


def explain(text: str) -> None:
    """The short plain-words explanation on top of each part of a page."""
    st.info(text, icon=":material/lightbulb:")


def translate_figure(fig):
    """Put the figure's fixed words (titles, axis titles, legend names, hover and text templates, annotations)
    into the session's language. Figures are built in English by playground.figures; the words live in the
    locale files as "fig.<English>"."""
    lang = language()
    if lang == "en":
        return fig
    words = strings(lang)

    def tr(text):
        return words.get(f"fig.{text}", text)

    def retitle(thing):
        if thing.title and thing.title.text:
            thing.title.text = tr(thing.title.text)

    retitle(fig.layout)
    fig.for_each_xaxis(retitle)
    fig.for_each_yaxis(retitle)
    for trace in fig.data:
        if getattr(trace, "name", None):
            trace.name = tr(trace.name)
        if getattr(trace, "colorbar", None) is not None:
            retitle(trace.colorbar)
        for attr in ("hovertemplate", "texttemplate"):
            if isinstance(getattr(trace, attr, None), str):
                setattr(trace, attr, figure_words(getattr(trace, attr), lang))
    for annotation in fig.layout.annotations:
        annotation.text = figure_words(annotation.text, lang)
    return fig


PRESENTER_FONT = 22  # px, as the page's text in presenter mode


def word(english: str) -> str:
    """One of the app's figure and table words ("fig.<English>" in the locales) in the session's language."""
    return figure_words(english, language())


def corpus_title(name: str) -> str:
    """A bundled corpus's title (core.data.CORPORA) in the session's language."""
    return t(f"corpus.{name}")


def table(where, data, **kwargs) -> None:
    """A table whose column headers (English words, as in figures) read in the session's language.
    Only for headers the app names: tables whose columns are tokens use where.dataframe directly."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if language() != "en":
        frame = frame.rename(columns=lambda c: word(str(c)))
    where.dataframe(frame, **{"hide_index": True, "width": "stretch", **kwargs})


def chart(where, fig, key: str) -> None:
    """A plotly figure in the session's language, with its camera button set to the format chosen in the sidebar
    (PNG or SVG). The image is made in the browser, so it works offline."""
    translate_figure(fig)
    if st.session_state.get("app.presenter"):  # the back row: figure text grows with the page's text
        fig.layout.font.size = PRESENTER_FONT
        fig.layout.title.font.size = PRESENTER_FONT + 4
        fig.layout.hoverlabel.font.size = PRESENTER_FONT
        fig.layout.legend.font.size = PRESENTER_FONT - 2
        fig.for_each_xaxis(lambda axis: axis.update(figures.axis_fonts(PRESENTER_FONT), title_font_size=PRESENTER_FONT))
        fig.for_each_yaxis(lambda axis: axis.update(figures.axis_fonts(PRESENTER_FONT), title_font_size=PRESENTER_FONT))
    fmt = st.session_state.get("app.figure_format", "png")
    where.plotly_chart(fig, key=key, config={"displaylogo": False, "toImageButtonOptions": {
        "format": fmt, "filename": key.replace(".", "-"), "scale": 2 if fmt == "png" else 1}})
