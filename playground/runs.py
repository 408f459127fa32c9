"""The app's view of training runs: one JobStore per server, and the downloads of a run (made when clicked).

A runs folder that cannot be used (read-only, full, damaged database) stops only the training pages, with one
sentence; every other page goes on without runs in its model picker.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path

import streamlit as st

from core.assets import REPO
from core.errors import PlaygroundError
from core.jobs import JobStore
from core.training.runfolder import RunFolder
from playground.i18n import error_text

RUNS_DIR = Path(os.environ.get("LLM_PLAYGROUND_RUNS", REPO / "runs"))


@st.cache_resource
def get_store() -> JobStore:
    return JobStore(RUNS_DIR)  # a PlaygroundError is not cached: the next call tries again


def store_or_stop() -> JobStore:
    """The queue, for a training page; when the runs folder cannot be used, one sentence and the page stops."""
    try:
        return get_store()
    except PlaygroundError as e:
        st.error(error_text(e), icon=":material/warning:")
        st.stop()


def metrics_csv(folder: Path) -> bytes:
    records = RunFolder(folder, write=False).read_metrics()
    columns = ["kind", "step", "train_loss", "lr", "grad_norm", "tokens_per_s", "val_loss", "train_loss_eval",
               "perplexity", "time"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def checkpoint_zip(folder: Path) -> bytes | None:
    """The best (else latest) checkpoint folder as a zip: model.safetensors, config.json, card.json. The weights
    are stored, not compressed (they hardly shrink and deflating them would keep the server busy)."""
    source = RunFolder(folder, write=False).model_folder()
    if source is None:
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in ("model.safetensors", "config.json", "card.json"):
            if (source / name).exists():
                zf.write(source / name, f"{Path(folder).name}/{name}",
                         compress_type=zipfile.ZIP_STORED if name.endswith(".safetensors") else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
