"""Small UI helpers shared by the pages: clear errors instead of tracebacks, the current model."""

from __future__ import annotations

import json
import math
import re
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from core.errors import PlaygroundError
from core.training.data import CORPORA
from playground import examples, keys, loaders, state
from playground.i18n import error_text, language, number, t
from playground.navigation import VIEWS


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


LEARNING_RATES = tuple(float(f"{m}e{e}") for e in range(-6, 0) for m in (1, 2, 3, 5)) + (1.0,)  # 1, 2, 3, 5 per decade


def grid(lo: float, hi: float, step: float) -> tuple[float, ...]:
    """lo, lo + step, … hi, each rounded to the step's decimals (0.05 → 0.05, not 0.05000000000000001).

    >>> grid(0.0, 0.2, 0.05)
    (0.0, 0.05, 0.1, 0.15, 0.2)
    """
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    return tuple(round(lo + i * step, decimals) for i in range(round((hi - lo) / step) + 1))


def choice(where, label: str, options, value, key: str, **kwargs):
    """A slider over fixed values, written in the session's locale (Streamlit's sliders and number inputs write
    "0.80" and "0.00100" in every language): temperatures, learning rates on a log grid, shares such as dropout.
    A value between the options (from a link or an older session) moves to the nearest one."""
    options = list(options)
    if key in st.session_state and st.session_state[key] not in options:
        wanted = st.session_state[key]
        st.session_state[key] = min(options, key=lambda o: abs(o - wanted)) if isinstance(wanted, (int, float)) \
            else value
    return where.select_slider(label, options=options, value=value, key=key,
                               format_func=lambda v: number(v, None, 3), **kwargs)


def file_uploader(where, label: str, key: str, types: list[str], max_mb: int):
    """st.file_uploader whose button and size line speak the session's language: Streamlit writes them in English
    only, so other languages cover them with their own words (a style for this widget alone, no space taken)."""
    upload = where.file_uploader(label, type=types, key=key, max_upload_size=max_mb)
    if language() != "en":
        scope = ".st-key-" + re.sub(r"[^A-Za-z0-9_-]", "-", key) + " [data-testid=stFileUploaderDropzone]"
        limit = t("app.upload_limit", mb=number(max_mb), types=" • ".join(kind.upper() for kind in types))
        button, size = (json.dumps(text, ensure_ascii=False) for text in (t("app.upload_button"), limit))
        instructions = f"{scope} [data-testid=stFileUploaderDropzoneInstructions] span"
        where.html(f"<style>{scope} button p, {instructions} {{font-size: 0}} {scope} button p::after "
                   f"{{content: {button}; font-size: 1rem}} {instructions}::after {{content: {size}; "
                   f"font-size: 0.875rem}}</style>")
    return upload


def explain(text: str, where=st) -> None:
    """The short plain-words explanation on top of each part of a page; folded away in presenter mode, where the
    lecturer says it and the room needs the figure (one click opens it)."""
    if state.presenter():
        where.expander(t("app.explanation"), icon=":material/lightbulb:").markdown(text)
    else:
        where.info(text, icon=":material/lightbulb:")


def stage():
    """(controls, figure) containers of a page. In presenter mode two columns, the controls narrow on the left,
    so the figure is on the first screen of a 1280×720 projector; otherwise the page itself, controls above."""
    if state.presenter():
        return st.columns([1, 2.7], gap="medium")
    return st.container(), st.container()


def controls_row(where, n: int):
    """n places for controls side by side; in presenter mode, in the narrow controls column, one below the other."""
    return [where] * n if state.presenter() else where.columns(n)


def model_language() -> str:
    """The language of the text the current model learnt from."""
    return examples.text_language(loaders.get_card(state.current_model_key()))


def example(page: str) -> str:
    """The page's example text, in a language the current model reads (examples.prompt)."""
    return examples.prompt(page, language(), model_language())


def language_note() -> None:
    """Under a text box: says so when the model learnt from another language than the session's."""
    reads = model_language().split("+")  # a bilingual model reads each of its languages
    if language() not in reads:
        card = loaders.get_card(state.current_model_key())
        corpus = card.get("corpus") or ""
        titles = [corpus_title(name) if name in CORPORA else name for name in corpus.split("+") if name]
        st.caption(t("app.model_reads", language=t(f"app.lang_{reads[0]}"), corpus=", ".join(titles) or "GPT-2"))


def corpus_title(name: str) -> str:
    """A bundled corpus's title (core.data.CORPORA) in the session's language."""
    return t(f"corpus.{name}")


STATIC_TABLE_ROWS = 40  # presenter mode draws tables up to this long as HTML, which grows with the text


def table(where, data, header_ids: bool = True, index: bool = False, **kwargs) -> None:
    """A table whose columns are named by ids ("rank", "cosine_similarity"), shown as their headers "fig.<id>" in
    the session's language; headers already in the session's language pass header_ids=False. Only for columns the
    app names: tables whose columns are tokens use where.dataframe. In presenter mode a short table is drawn as
    HTML (st.table), whose text grows with the page's; st.dataframe draws on a canvas at a fixed size."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if header_ids:
        frame = frame.rename(columns=lambda column: t(f"fig.{column}"))
    if state.presenter() and len(frame) <= STATIC_TABLE_ROWS:
        where.table(frame, hide_index=not index)
    else:
        where.dataframe(frame, **{"hide_index": not index, "width": "stretch", **kwargs})


def view(page: str) -> str:
    """Which view of a page to show, one at a time (a segmented control keyed "<page>.view" over
    navigation.VIEWS[page]). Only the chosen view is computed and sent: st.tabs builds and sends every tab on
    every rerun, and the browser draws them all (Attention: 21 charts, 618 KB for one change of layer)."""
    key, names = f"{page}.view", VIEWS[page]
    if st.session_state.get(key) not in names:
        st.session_state[key] = names[0]
    return st.segmented_control(t("app.view"), names, key=key, required=True, label_visibility="collapsed",
                                format_func=lambda name: t(f"{page}.tab_{name}"), wrap=True)


def chart(where, fig, key: str, on_click=None) -> None:
    """A plotly figure (from playground.figures, already in the session's language) with its camera button set
    to the format chosen in the sidebar (PNG or SVG); the image is made in the browser, so it works offline.
    The chart's toolbar has Streamlit's full-screen button (that one figure alone on the screen). on_click: a
    callback run when a point is clicked; it reads the point from clicked(key)."""
    fmt = st.session_state.get(keys.FIGURE_FORMAT, "png")
    events = {"on_select": on_click, "selection_mode": "points"} if on_click else {}
    where.plotly_chart(fig, key=key, config={"displaylogo": False, "toImageButtonOptions": {
        "format": fmt, "filename": key.replace(".", "-"), "scale": 2 if fmt == "png" else 1}}, **events)


def clicked(key: str) -> dict | None:
    """The point last clicked in the chart `key` (curve_number, x, y, customdata, ...), or None."""
    event = st.session_state.get(key)
    points = event.selection.points if event is not None else []
    return points[0] if points else None


def scroll_to_top() -> None:
    """Show the page from its top after this rerun (a button far down switched what the page shows: the browser
    would keep the old scroll position, in the middle of the new content)."""
    st.html("""<script>
for (const pane of [document.querySelector('[data-testid="stMain"]'), document.scrollingElement]) pane?.scrollTo(0, 0);
</script>""", unsafe_allow_javascript=True)


def warm_3d_labels(fig) -> None:
    """While a 2D view is read: let the browser prepare the written labels of the 3D chart `fig` that may be
    opened next. Plotly turns each distinct label of a 3D scene into triangles the first time a browser tab
    draws it (about 25 ms a label on a slow machine: a second for 40 labels) and keeps them; drawing them now,
    in idle moments, four at a time (a tenth of a second each), in a hidden chart, leaves the 3D tab's first
    opening only the scene to build. The labels are drawn with the 2D chart's font, which the 3D chart shares."""
    # The labels are tokens of the user's text (a shared link's too): "<" is escaped, so that none can end the script.
    texts = sorted({text for trace in fig.data for text in (trace.text or ()) if text})
    if not texts:
        return
    labels = json.dumps(texts).replace("<", "\\u003c")
    st.sidebar.html(f"""<script>
(() => {{
  const done = window.__pgLabels3d = window.__pgLabels3d || new Set();
  const todo = {labels}.filter(text => !done.has(text));
  if (!todo.length) return;
  todo.forEach(text => done.add(text));
  const idle = step => window.requestIdleCallback ? requestIdleCallback(step, {{timeout: 4000}}) : setTimeout(step, 300);
  let box = null;
  const step = async () => {{
    const shown = document.querySelector('.js-plotly-plot');
    if (!window.Plotly || !shown || !shown._fullLayout) return idle(step);  // the chart library is not loaded yet
    if (!box) {{
      box = document.createElement('div');
      box.dataset.pgOffscreen = '1';
      box.style.cssText = 'position:fixed;left:-10000px;top:0;width:60px;height:60px;visibility:hidden';
      document.body.appendChild(box);
    }}
    const batch = todo.splice(0, 4), zeros = batch.map(() => 0);
    try {{
      await Plotly.react(box, [{{type: 'scatter3d', mode: 'text', x: zeros, y: zeros, z: zeros, text: batch}}],
                         {{font: shown._fullLayout.font}}, {{staticPlot: true}});
    }} catch (e) {{ todo.length = 0; }}
    if (todo.length) return idle(step);
    Plotly.purge(box);
    box.remove();
  }};
  setTimeout(() => idle(step), 1500);  // not while the page is being looked at for the first time
}})();
</script>""", unsafe_allow_javascript=True)
