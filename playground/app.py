"""Entry point: `streamlit run playground/app.py`. Navigation, the sidebar model picker, shared styles."""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

from core.errors import PlaygroundError
from playground import follow, i18n, identity, keys, loaders, share, state, ui
from playground.i18n import error_text, t
from playground.navigation import PAGE_NAMES, PAGES, page_file


def navigation() -> st.navigation:
    pages = [st.Page(str(page_file(name)), title=t(f"nav.{name}"), icon=icon, url_path=name, default=(name == "home"))
             for name, icon in PAGES]
    return st.navigation(pages)


def _pick() -> None:
    state.set_model_key(st.session_state[keys.MODEL_SELECT])


def _load_folder() -> None:
    typed = st.session_state.get(keys.FOLDER, "").strip()
    if not typed:
        return
    try:
        folder = loaders.allowed_folder(typed, identity.current_user(), identity.is_instructor())
        loaders.get_model(folder)
    except PlaygroundError as e:
        st.session_state[keys.LOAD_ERROR] = error_text(e)
        return
    st.session_state.pop(keys.LOAD_ERROR, None)
    state.set_model_key(folder)
    st.session_state[keys.MODEL_SELECT] = folder


def snapshot_box() -> None:
    """Reopen a view from a downloaded snapshot: its page with the same settings."""
    with st.expander(t("app.snapshot")):
        upload = ui.file_uploader(st, t("app.snapshot_file"), key=keys.SNAPSHOT, types=["json"], max_mb=1)
        if upload is None or st.session_state.get(keys.SNAPSHOT_ID) == upload.file_id:
            return
        st.session_state[keys.SNAPSHOT_ID] = upload.file_id
        try:
            snapshot = share.read_snapshot(upload.getvalue(), set(PAGE_NAMES))
        except PlaygroundError as e:
            st.error(error_text(e), icon=":material/warning:")
            return
        page = snapshot["page"]
        # The page itself applies the values, through the same checks as a link's (share.restore): only its own
        # controls, each type-checked and clamped.
        st.session_state[keys.snapshot_pending(page)] = snapshot["widgets"]
        st.switch_page(str(page_file(page)))


def model_picker() -> None:
    choices = loaders.model_choices(identity.current_user(), identity.is_instructor())
    options = [c.key for c in choices]
    labels = {c.key: t(f"app.choice_{c.kind}", name=c.name, folder=c.folder) for c in choices}
    if keys.MODEL_FROM_LINK not in st.session_state:
        st.session_state[keys.MODEL_FROM_LINK] = True
        if st.query_params.get("model") in labels:  # only models this user may pick anyway
            state.set_model_key(st.query_params["model"])
    current = state.current_model_key()
    if current not in labels:
        options.append(current)
        labels[current] = t("app.choice_folder", name=Path(current).name or current)
    st.session_state[keys.MODEL_SELECT] = current
    with st.sidebar:
        st.markdown(f"### {t('app.model')}")
        st.selectbox(t("app.model_select"), options, format_func=labels.get, key=keys.MODEL_SELECT,
                     on_change=_pick)
        with st.expander(t("app.load_folder")):
            st.text_input(t("app.folder_label"), key=keys.FOLDER, help=t("app.folder_help"), max_chars=1000)
            st.button(t("app.load"), key=keys.FOLDER_LOAD, on_click=_load_folder)
            if st.session_state.get(keys.LOAD_ERROR):
                st.error(st.session_state[keys.LOAD_ERROR], icon=":material/warning:")
        st.radio(t("app.figure_format"), ["png", "svg"], horizontal=True, key=keys.FIGURE_FORMAT)
        snapshot_box()
        st.toggle(t("app.presenter"), key=keys.PRESENTER, help=t("app.presenter_help"))
        if st.session_state[keys.PRESENTER]:
            st.session_state[keys.CLASSROOM] = True  # always on in front of a room
        st.toggle(t("app.classroom"), key=keys.CLASSROOM, help=t("app.classroom_help"),
                  disabled=st.session_state[keys.PRESENTER])
        st.caption(t("app.runs_on", device=loaders.device_label()))


PRESENTER_STYLE = """
<style>
/* Presenter mode: big type, strong contrast, no chrome, for the back row of a lecture hall; at 1280×720 the
   page's figure is on the first screen (the pages put their controls left of it, playground.ui.stage). */
html { font-size: 22px; }
[data-testid="stToolbarActions"], [data-testid="stMainMenu"], [data-testid="stAppDeployButton"],
[data-testid="stDecoration"], footer { display: none; }
/* The header and its toolbar stay for the one button that reopens the collapsed sidebar (where presenter mode is
   switched off), without taking room: transparent, over the page's left margin. */
[data-testid="stHeader"] { background: transparent; height: 2.6rem; }
[data-testid="stHeader"], [data-testid="stHeader"] * { pointer-events: none; }  /* the toolbar would catch clicks */
[data-testid="stHeader"] button, [data-testid="stHeader"] button * { pointer-events: auto; }
[data-testid="stMainBlockContainer"] { max-width: 100%; padding: 0.3rem 1rem 3rem 2.8rem; }
[data-testid="stMain"] h1 { font-size: 1.6rem; padding: 0 0 0.2rem 0; }
[data-testid="stMain"] h2 { font-size: 1.35rem; padding: 0.3rem 0; }
[data-testid="stMain"] h3 { font-size: 1.15rem; padding: 0.2rem 0; }
[data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.55rem; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1rem; }
/* Labels, buttons and inputs grow with the text and are never cut ("← Zur…"): they wrap instead. */
[data-testid="stWidgetLabel"] p, button p, [data-testid="stMarkdownContainer"] p {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }
[data-testid="stSliderThumbValue"] p, [data-testid="stSliderTickBar"] p { white-space: nowrap !important; }
button { height: auto !important; min-height: 2.2rem; }
textarea, input, [data-testid="stSelectbox"] div, [data-testid="stNumberInput"] input { font-size: 0.95rem !important; }
[data-testid="stTable"] table { font-size: 0.9rem; }
[data-testid="stTable"] { overflow-x: auto; }  /* a wide table in a column scrolls instead of being cut */
.pg-chip { font-size: 1.2rem; border: 1px solid #333; }
body, [data-testid="stApp"] { color: #000; }
</style>
"""

STYLE = """
<style>
/* Readable from the back row: larger tables and captions. */
[data-testid="stCaptionContainer"] { font-size: 0.95rem; }
.pg-chip { display:inline-block; margin:2px 1px; padding:2px 4px; border-radius:4px; font-family: ui-monospace, monospace;
           white-space: pre; line-height: 1.9; color:#111; }
.pg-ws { color:#666; }
.pg-joined { border: 1px dashed #333; }
.pg-count { font-size: 0.65em; color: #555; margin-left: 1px; }
.pg-special { background: #333 !important; color: #fff; }
</style>
"""


@functools.cache  # the installed frontend does not change while the server runs
def plotly_chunk() -> str | None:
    """The file name of Streamlit's chart library in its frontend build (hashed per Streamlit version), if any."""
    found = sorted((Path(st.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    return found[0].name if found else None


def warm_figures() -> None:
    """Once per session, while the first page is read: load the browser's chart library (4.7 MB of JavaScript,
    about a second to parse on a slow machine), which Streamlit otherwise loads only when the first figure of
    the session appears, so that the first page with figures opens as fast as the later ones. Idle time only:
    it never delays the page being drawn. The same URL as Streamlit's own import, so it is the same module."""
    if st.session_state.get(keys.FIGURES_WARMED) or (chunk := plotly_chunk()) is None:
        return
    st.session_state[keys.FIGURES_WARMED] = True
    st.sidebar.html(f"""<script>
(() => {{
  const main = document.querySelector('script[type=module][src*="/static/js/index."]');
  if (window.__pgFigures || !main) return;
  window.__pgFigures = true;
  const load = () => import(new URL("./{chunk}", main.src).href).catch(() => {{}});
  window.requestIdleCallback ? requestIdleCallback(load, {{timeout: 3000}}) : setTimeout(load, 500);
}})();
</script>""", unsafe_allow_javascript=True)


def main() -> None:
    if keys.PRESENTER not in st.session_state:
        st.session_state[keys.PRESENTER] = st.query_params.get("presenter") == "1"
    presenter = st.session_state[keys.PRESENTER]
    # Presenter mode starts with the sidebar collapsed: the whole width for the figure (its toggle stays in the
    # sidebar, which the header's button reopens).
    st.set_page_config(page_title="LLM Playground", page_icon="🧪", layout="wide",
                       initial_sidebar_state="collapsed" if presenter else "auto")
    st.html(STYLE)
    if keys.LANG not in st.session_state:
        wanted = st.query_params.get("lang")
        st.session_state[keys.LANG] = wanted if wanted in i18n.LANGUAGES else i18n.default_language()
    st.sidebar.radio(t("app.language"), list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.get, horizontal=True,
                     key=keys.LANG)
    st.query_params["lang"] = st.session_state[keys.LANG]
    page = navigation()
    if keys.CLASSROOM not in st.session_state:
        st.session_state[keys.CLASSROOM] = st.query_params.get("classroom") != "0"
    follow.controls(page.url_path or "home")  # a follower may be switched to the instructor's page here
    model_picker()
    identity.remember()
    if presenter:
        st.html(PRESENTER_STYLE)
        st.query_params["presenter"] = "1"
    else:
        st.query_params.pop("presenter", None)
    with follow.leading(page.url_path or "home"):
        page.run()
    warm_figures()


main()
