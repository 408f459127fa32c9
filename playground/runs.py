"""The app's view of training runs: one JobStore per server, downloads, and the runs a user may pick as model."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
from pathlib import Path

import streamlit as st

from core.assets import REPO
from core.jobs import JobStore
from core.training.runfolder import RunFolder

RUNS_DIR = Path(os.environ.get("LLM_PLAYGROUND_RUNS", REPO / "runs"))


@st.cache_resource
def get_store() -> JobStore:
    return JobStore(RUNS_DIR)


def save_upload(text: str) -> str:
    """Keep an uploaded or pasted corpus as a file the training process can read; returns its path."""
    folder = RUNS_DIR / "corpora"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(text.encode()).hexdigest()[:16] + ".txt")
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return str(path)


def metrics_csv(folder: Path) -> bytes:
    records = RunFolder(folder, write=False).read_metrics()
    columns = ["step", "train_loss", "lr", "grad_norm", "tokens_per_s", "val_loss", "train_loss_eval",
               "perplexity", "time"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def checkpoint_zip(folder: Path) -> bytes | None:
    """The best (else latest) checkpoint folder as a zip: model.safetensors, config.json, card.json."""
    for sub in ("best", "checkpoint"):
        source = folder / sub
        if (source / "model.safetensors").exists():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
                for name in ("model.safetensors", "config.json", "card.json"):
                    if (source / name).exists():
                        zf.write(source / name, f"{folder.name}/{name}")
            return buffer.getvalue()
    return None


def model_folder(folder: Path) -> Path | None:
    for sub in ("best", "checkpoint"):
        if (folder / sub / "config.json").exists() and (folder / sub / "model.safetensors").exists():
            return folder / sub
    return None
