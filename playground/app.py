"""Entry point: `streamlit run playground/app.py`. Navigation, the sidebar model picker, shared styles."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.errors import PlaygroundError
from playground import identity, loaders, state
from playground.navigation import PAGES, PAGES_DIR



def navigation() -> st.navigation:
    pages = [st.Page(str(PAGES_DIR / f), title=t, icon=i, url_path=u, default=(u == "home")) for f, t, i, u in PAGES]
    return st.navigation(pages)


def model_picker() -> None:
    choices = loaders.model_choices(identity.current_user(), identity.is_instructor())
    keys = [c.key for c in choices]
    labels = {c.key: c.label for c in choices}
    current = state.current_model_key()
    if current not in labels:
        keys.append(current)
        labels[current] = Path(current).name or current
    with st.sidebar:
        st.markdown("### Model")
        chosen = st.selectbox("Model used by every page", keys, index=keys.index(current),
                              format_func=labels.get, key="app.model_select")
        with st.expander("Load a local GPT-2 folder"):
            folder = st.text_input("Folder with config.json + model.safetensors", key="app.folder",
                                   help="A Hugging Face GPT-2 folder (save_pretrained) or one of our checkpoints. "
                                        "Online, 'gpt2' also works.")
            if st.button("Load", key="app.folder_load") and folder.strip():
                try:
                    loaders.get_model(folder.strip())
                    state.set_model_key(folder.strip())
                    st.rerun()
                except PlaygroundError as e:
                    st.error(str(e), icon=":material/warning:")
        st.caption(f"Runs on {loaders.device_label()}")
    if chosen != current and chosen in labels:
        state.set_model_key(chosen)


STYLE = """
<style>
/* Readable from the back row: larger tables and captions. */
[data-testid="stCaptionContainer"] { font-size: 0.95rem; }
.pg-chip { display:inline-block; margin:2px 1px; padding:2px 4px; border-radius:4px; font-family: ui-monospace, monospace;
           white-space: pre; line-height: 1.9; color:#111; }
.pg-ws { color:#666; }
</style>
"""


def main() -> None:
    st.set_page_config(page_title="LLM Playground", page_icon="🧪", layout="wide")
    st.html(STYLE)
    page = navigation()
    model_picker()
    page.run()


main()
