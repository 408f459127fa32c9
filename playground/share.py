"""Shareable views: a page's important controls live in the URL's query parameters, so a link in a slide
reopens exactly that view. Values from a link are checked and clamped before any widget sees them.

A page calls `restore(PARAMS)` before its widgets and `publish(PARAMS)` after them. The participant key
(`me`) is never part of a shared link.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st

from core.errors import PlaygroundError
from core.model.checkpoints import bundled_models
from playground import keys
from playground.i18n import t
from playground.state import current_model_key

PRIVATE = {"me"}


@dataclass(frozen=True)
class Param:
    key: str  # the widget's session-state key
    kind: type = str  # str, int or float
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()

    def parse(self, raw: str):
        """The value from a link, or None when it cannot be used."""
        try:
            value = self.kind(raw)
        except ValueError:
            return None
        if self.choices and value not in self.choices:
            return None
        if self.lo is not None:
            value = max(self.kind(self.lo), value)
        if self.hi is not None:
            value = min(self.kind(self.hi), value)
        if self.kind is str:
            value = value[:5000]
        return value


def sampling_params(prefix: str) -> dict[str, Param]:
    """The prompt and sampling controls of a page that uses playground.sampling_controls."""
    return {"prompt": Param(f"{prefix}.prompt"), "temperature": Param(f"{prefix}.temperature", float, 0, 3),
            "top_k": Param(f"{prefix}.top_k", int, 0, 50257), "top_p": Param(f"{prefix}.top_p", float, 0.01, 1),
            "seed": Param(f"{prefix}.seed", int, 0, 2**31 - 1)}


def restore(page: str, params: dict[str, Param]) -> None:
    """On the first visit of this page in a session, copy the link's values into the widgets' state."""
    marker = keys.restored(page)
    if st.session_state.get(marker):
        return
    st.session_state[marker] = True
    for name, param in params.items():
        raw = st.query_params.get(name)
        if raw is None:
            continue
        value = param.parse(raw)
        if value is None:
            st.warning(t("share.unusable", name=name, raw=raw[:40]))
            continue
        st.session_state[param.key] = value
        if param.kind is not str and value != param.kind(raw):
            st.warning(t("share.clamped", name=name, raw=raw, lo=param.kind(param.lo), hi=param.kind(param.hi),
                         value=value))


def publish(params: dict[str, Param], extra: dict | None = None, outputs: dict | None = None,
            page: str = "") -> None:
    """Write the current values into the URL, offer the link to copy and a snapshot (JSON) to download."""
    values = {name: st.session_state[p.key] for name, p in params.items() if p.key in st.session_state}
    values.update(extra or {})
    for name, value in values.items():
        st.query_params[name] = str(value)
    shared = {k: str(v) for k, v in values.items() if k not in PRIVATE}
    if current_model_key() in bundled_models():
        shared["model"] = current_model_key()
    if st.session_state.get("app.presenter"):
        shared["presenter"] = "1"
    if st.session_state.get("app.lang", "en") != "en":
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
    """A snapshot file, checked: its page must exist and its widget values be plain JSON values."""
    if len(data) > SNAPSHOT_LIMIT:
        raise PlaygroundError("That snapshot is larger than 1 MB; it is not one of ours.")
    try:
        snapshot = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PlaygroundError("That file is not a snapshot (not valid JSON).") from None
    if not isinstance(snapshot, dict) or snapshot.get("format") != "llm-playground-snapshot":
        raise PlaygroundError("That JSON file is not an llm-playground snapshot.")
    if snapshot.get("page") not in known_pages:
        raise PlaygroundError("The snapshot is for a page this app does not have ({page}).", page=snapshot.get('page'))
    widgets = snapshot.get("widgets", {})
    if not all(isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in widgets.items()):
        raise PlaygroundError("The snapshot's settings are damaged.")
    return snapshot
