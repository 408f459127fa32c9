"""Follow the presenter: the instructor turns on "audience follows me"; a participant who opts in sees the
instructor's page with the instructor's settings, within two seconds of each change, and gets their own view back
when they stop.

Built on the shareable link: the instructor's page publishes its link values (share.publish), and at the end of
the instructor's run this module stores page + values + model in the hall (playground.hall, SQLite, so every
server process agrees). A follower's sidebar has a fragment that looks every second; on a change the follower's
app reruns and opens the instructor's link, so the values pass the same checks and clamps as any link
(share.restore through share.Param). While following, each run opens that link again before the page's widgets
(what a follower changes is set back), the page's controls and the navigation are locked (a notice says why), and
the model follows when the follower may open it. The participant's own page, settings and model are saved when
following starts and put back when it stops (their button, or the instructor ending it).

Left out: settings that a page's link does not carry (they stay as the follower has them), following a model the
follower may not open (they are told and keep theirs), and a count of followers (it would cost a write per
follower per second).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import streamlit as st

from core.errors import PlaygroundError
from playground import identity, keys, loaders, state
from playground.hall import Lead, get_hall
from playground.i18n import error_text, t
from playground.navigation import page_file

TICK_S = 1.0  # a follower looks this often
FRESH_S = 0.25  # a server process reads the hall at most this often, for all its followers together
LOCK_FREE = {"poll"}  # pages whose box a follower still uses (their guess)

LOCK_STYLE = """
<style>
/* Following the lecturer: the page's controls and the navigation are locked (figures still show values on hover). */
[data-testid="stMain"] :is(.stSlider, .stTextInput, .stTextArea, .stNumberInput, .stSelectbox, .stMultiSelect,
  .stRadio, .stCheckbox, .stToggle, .stButton, .stSelectSlider, .stSegmentedControl, .stPills, .stButtonGroup,
  .stFileUploader, .stDataEditor, .stFormSubmitButton, .stPopover, .stDownloadButton) {
  pointer-events: none; opacity: 0.55; }
[data-testid="stSidebarNav"] { pointer-events: none; opacity: 0.55; }
</style>
"""

_lock = threading.Lock()
_read: tuple[float, Lead | None] = (0.0, None)


def current_lead() -> Lead | None:
    """What the instructor shows; read from the hall at most every FRESH_S per server process. None also when the
    hall cannot be read (a full or read-only runs folder): following is off, every page works on."""
    global _read
    with _lock:
        when, lead = _read
        if time.monotonic() - when > FRESH_S:
            try:
                lead = get_hall().lead()
            except PlaygroundError:
                lead = None
            _read = (time.monotonic(), lead)
        return lead


def _tell_instructor(e: PlaygroundError) -> None:
    """The audience cannot follow (the hall cannot be written): the instructor is told, the page works on."""
    st.sidebar.warning(error_text(e), icon=":material/warning:")


def published(page: str, params: dict, values: dict) -> None:
    """share.publish hands over what this run's link carries: kept as this session's view (a follower's own view to
    restore) and, for a leading instructor, what the audience sees."""
    st.session_state[keys.VIEW] = {"page": page, "values": {k: str(v) for k, v in values.items()},
                                   "widgets": {p.key: st.session_state[p.key] for p in params.values()
                                               if p.key in st.session_state}}


def _leads() -> bool:
    return bool(st.session_state.get(keys.LEADING)) and identity.is_instructor()


@contextmanager
def leading(page: str):
    """Around the page's run: a leading instructor's page and link values go to the hall when it ends (a run cut
    short by a rerun keeps the values shown before, so followers never see a half-made view)."""
    if not _leads():
        yield
        return
    before = st.session_state.pop(keys.VIEW, None)
    try:
        yield
    finally:
        view = st.session_state.get(keys.VIEW)
        if view is None and before is not None and before["page"] == page:
            st.session_state[keys.VIEW] = view = before
        values = view["values"] if view is not None and view["page"] == page else {}
        try:
            get_hall().show(page, values, state.current_model_key())
        except PlaygroundError as e:
            _tell_instructor(e)


def _lead_changed() -> None:
    st.session_state[keys.LEADING] = bool(st.session_state.get(keys.LEAD))
    if not st.session_state[keys.LEADING]:
        try:
            get_hall().stop_leading()
        except PlaygroundError as e:
            _tell_instructor(e)


def _opt() -> None:
    st.session_state[keys.FOLLOWING] = bool(st.session_state.get(keys.FOLLOW))


def _stop() -> None:
    st.session_state[keys.FOLLOWING] = False


def _own_link() -> dict:
    """What a switch of page must carry over (it drops the sidebar's widget values): language, presenter mode."""
    return {"lang": st.session_state.get(keys.LANG, "en"), **({"presenter": "1"} if state.presenter() else {})}


def controls(page: str) -> None:
    """The sidebar's part (before the page runs): the instructor's switch, or the participant's opt-in; while a
    participant follows, the instructor's link is opened (which may switch the page)."""
    if identity.is_instructor():
        st.session_state[keys.LEAD] = bool(st.session_state.get(keys.LEADING))
        st.sidebar.toggle(t("follow.lead"), key=keys.LEAD, on_change=_lead_changed, help=t("follow.lead_help"))
        if st.session_state.get(keys.LEADING):
            st.sidebar.caption(t("follow.leading"))
        return
    lead = current_lead()
    live = lead is not None and lead.active
    opted = bool(st.session_state.get(keys.FOLLOWING))
    saved = st.session_state.get(keys.FOLLOW_SAVED)
    if live or opted:
        st.session_state[keys.FOLLOW] = opted
        st.sidebar.toggle(t("follow.follow"), key=keys.FOLLOW, on_change=_opt, help=t("follow.follow_help"))
    if opted and live:
        if saved is None:
            st.session_state[keys.FOLLOW_SAVED] = _own_view(page)
        _show(lead, page)
        with st.sidebar:
            st.info(t("follow.following"), icon=":material/co_present:")
            st.button(t("follow.stop"), key=keys.FOLLOW_STOP, on_click=_stop, icon=":material/close:")
        if page not in LOCK_FREE:
            st.html(LOCK_STYLE)
            st.info(t("follow.locked"), icon=":material/lock:")
    elif saved is not None:
        _restore(saved, page)
    if opted and not live:
        st.sidebar.caption(t("follow.waiting"))
    if opted:
        with st.sidebar:
            _ticker()


def _own_view(page: str) -> dict:
    view = st.session_state.get(keys.VIEW)
    return {"page": page, "model": state.current_model_key(),
            "widgets": view["widgets"] if view is not None and view["page"] == page else {}}


def _show(lead: Lead, page: str) -> None:
    """Open the instructor's link: its values are applied by the page's share.restore, checked and clamped."""
    allowed = {c.key for c in loaders.model_choices(identity.current_user(), False)}
    if lead.model in allowed:
        state.set_model_key(lead.model)
    else:
        st.sidebar.warning(t("follow.other_model"), icon=":material/info:")
    link = {**lead.values, **_own_link()}
    st.session_state.pop(keys.restored(lead.page), None)
    st.session_state[keys.FOLLOW_APPLIED] = lead.version
    if page != lead.page:
        st.switch_page(page_file(lead.page), query_params=link)
    st.query_params.from_dict(link)


def _restore(saved: dict, page: str) -> None:
    """The participant's own view back: their page, its settings, their model."""
    del st.session_state[keys.FOLLOW_SAVED]
    st.session_state.pop(keys.FOLLOW_APPLIED, None)
    for key, value in saved["widgets"].items():
        st.session_state[key] = value
    st.session_state[keys.restored(saved["page"])] = True  # the instructor's link in the URL must not override them
    state.set_model_key(saved["model"])
    st.toast(t("follow.back"), icon=":material/undo:")
    if page != saved["page"]:
        st.switch_page(page_file(saved["page"]), query_params=_own_link())


@st.fragment(run_every=TICK_S)
def _ticker() -> None:
    """Every second: has the instructor changed the view (or stopped)? Then the whole app runs again."""
    lead = current_lead()
    live = lead is not None and lead.active
    if not st.session_state.get(keys.FOLLOWING):
        return
    shown = st.session_state.get(keys.FOLLOW_APPLIED)
    if (live and lead.version != shown) or (not live and st.session_state.get(keys.FOLLOW_SAVED) is not None):
        st.rerun()
