"""Shareable views: a page's important controls live in the URL's query parameters, so a link in a slide
reopens exactly that view; a snapshot (JSON) does the same from a file. Values from a link or a snapshot go through
one mechanism, `Param.parse`: type-checked, clamped to the page's range, text cut to 5,000 characters and made
encodable (a lone surrogate becomes "?"), before any widget sees them; a snapshot sets only the keys its page
declares in its PARAMS.

A page calls `restore(PARAMS)` before its widgets and `publish(PARAMS)` after them; every control of a page is
one of its PARAMS (tests/app/test_links.py reopens each page's link and compares every widget). The participant
key is never part of a link (it lives in a cookie, see playground.identity).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st

from core.errors import PlaygroundError
from core.model.checkpoints import bundled_models
from playground import follow, keys
from playground.i18n import t
from playground.state import current_model_key

TEXT_LIMIT = 5000


@dataclass(frozen=True)
class Param:
    key: str  # the widget's session-state key
    kind: type = str  # str, int, float or bool
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()

    def parse(self, raw) -> object | None:
        """The value from a link (text) or a snapshot (a JSON value), or None when it cannot be used."""
        return self.read(raw)[0]

    def read(self, raw) -> tuple[object | None, bool]:
        """(value or None, whether it was clamped into the page's range)."""
        value = _typed(self.kind, raw)
        if value is None or (self.choices and value not in self.choices):
            return None, False
        clamped = value
        if self.lo is not None and self.kind in (int, float):
            clamped = max(self.kind(self.lo), clamped)
        if self.hi is not None and self.kind in (int, float):
            clamped = min(self.kind(self.hi), clamped)
        return clamped, clamped != value


def _typed(kind: type, raw):
    """raw as a value of kind: text made encodable and cut to TEXT_LIMIT; numbers finite; never bool for a number."""
    if kind is str:
        return raw[:TEXT_LIMIT].encode("utf-8", "replace").decode("utf-8") if isinstance(raw, str) else None
    if kind is bool:
        return raw if isinstance(raw, bool) else {"true": True, "1": True, "false": False, "0": False}.get(
            str(raw).lower()) if isinstance(raw, str) else None
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        return None
    try:
        value = kind(raw.strip()) if isinstance(raw, str) else raw
        if kind is int and isinstance(value, float):
            value = int(value) if value.is_integer() else None
        return value if value is None or math.isfinite(value) else None
    except (ValueError, OverflowError):
        return None


def params(*items: Param) -> dict[str, Param]:
    """A page's link parameters, each named as its widget without the page prefix ("sampling.top_k" -> top_k)."""
    return {p.key.split(".", 1)[1]: p for p in items}


def sampling_params(prefix: str, vocab: int) -> tuple[Param, ...]:
    """The prompt and sampling controls of a page that uses playground.sampling_controls (ranges as its widgets)."""
    return (Param(f"{prefix}.prompt"), Param(f"{prefix}.temperature", float, 0, 3), Param(f"{prefix}.top_k", int, 0, vocab),
            Param(f"{prefix}.top_p", float, 0.01, 1), Param(f"{prefix}.min_p", float, 0, 0.5),
            Param(f"{prefix}.repetition", float, 1, 3), Param(f"{prefix}.frequency", float, 0, 2),
            Param(f"{prefix}.presence", float, 0, 2), Param(f"{prefix}.bias"))


def restore(page: str, params: dict[str, Param]) -> None:
    """On the first visit of this page in a session, copy the link's values into the widgets' state; after a
    snapshot was opened, its values instead (only the keys in params)."""
    marker = keys.restored(page)
    pending = st.session_state.pop(keys.snapshot_pending(page), None)
    if pending is None and st.session_state.get(marker):
        return
    st.session_state[marker] = True
    if pending is not None:
        by_key = {p.key: (name, p) for name, p in params.items()}
        ignored = [k for k in pending if k not in by_key]
        for key, raw in pending.items():
            if key in by_key:
                _apply(*by_key[key], raw)
        if ignored:
            st.warning(t("share.ignored", keys=", ".join(sorted(ignored))[:200]))
        return
    for name, param in params.items():
        raw = st.query_params.get(name)
        if raw is not None:
            _apply(name, param, raw)


def _apply(name: str, param: Param, raw) -> None:
    value, clamped = param.read(raw)
    if value is None:
        st.warning(t("share.unusable", name=name, raw=str(raw)[:40]))
        return
    st.session_state[param.key] = value
    if clamped:
        st.warning(t("share.clamped", name=name, raw=str(raw)[:40], lo=param.kind(param.lo) if param.lo is not None
                     else "–", hi=param.kind(param.hi) if param.hi is not None else "–", value=value))


def publish(params: dict[str, Param], extra: dict | None = None, outputs: dict | None = None,
            page: str = "") -> None:
    """Write the current values into the URL, offer the link to copy and a snapshot (JSON) to download."""
    values = {name: st.session_state[p.key] for name, p in params.items() if p.key in st.session_state}
    values.update(extra or {})
    values = {name: value for name, value in values.items() if value is not None}  # an empty box: the default
    for name in params.keys() - values.keys():
        st.query_params.pop(name, None)
    for name, value in values.items():
        st.query_params[name] = str(value)
    shared = {k: str(v) for k, v in values.items()}
    follow.published(page or _page_name(), params, shared)
    if current_model_key() in bundled_models():
        shared["model"] = current_model_key()
    if st.session_state.get(keys.PRESENTER):
        shared["presenter"] = "1"
    if not st.session_state.get(keys.CLASSROOM, True):
        shared["classroom"] = "0"
    if st.session_state.get(keys.LANG, "en") != "en":
        shared["lang"] = st.session_state[keys.LANG]
    with st.popover(t("share.copy"), icon=":material/link:"):
        base = (st.context.url or "").split("?")[0]
        st.code(f"{base}?{urlencode(shared)}", language=None, wrap_lines=True)
        st.caption(t("share.caption"))
        snapshot = {"format": "llm-playground-snapshot", "version": 1, "page": page or _page_name(),
                    "created": time.strftime("%Y-%m-%d %H:%M:%S"), "link": shared,
                    "widgets": {p.key: st.session_state[p.key] for p in params.values() if p.key in st.session_state},
                    "outputs": outputs or {}}
        st.download_button(t("share.snapshot"), json.dumps(snapshot, indent=2, ensure_ascii=False,
                                                                    default=str),
                           f"snapshot-{snapshot['page']}.json", "application/json", key=keys.SNAPSHOT_DOWNLOAD)


def _page_name() -> str:
    return (st.context.url or "").split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "home"


SNAPSHOT_LIMIT = 1024 * 1024


def read_snapshot(data: bytes, known_pages: set[str]) -> dict:
    """A snapshot file, checked in its form: its page must exist and its widgets be a mapping of names to plain JSON
    values. Each value is checked against its page's Param when the page restores it."""
    if len(data) > SNAPSHOT_LIMIT:
        raise PlaygroundError("That snapshot is larger than 1 MB; it is not one of ours.")
    try:
        snapshot = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PlaygroundError("That file is not a snapshot (not valid JSON).") from None
    if not isinstance(snapshot, dict) or snapshot.get("format") != "llm-playground-snapshot":
        raise PlaygroundError("That JSON file is not an llm-playground snapshot.")
    page = snapshot.get("page")
    if not isinstance(page, str) or page not in known_pages:
        raise PlaygroundError("The snapshot is for a page this app does not have ({page}).", page=str(page)[:40])
    widgets = snapshot.get("widgets", {})
    if not isinstance(widgets, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, (str, int, float, bool))) for k, v in widgets.items()):
        raise PlaygroundError("The snapshot's settings are damaged.")
    return {"page": page, "widgets": {k: v for k, v in widgets.items() if v is not None}}
