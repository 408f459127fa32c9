"""Faults a run must survive without losing or mixing data: SIGKILL while a checkpoint is written or swapped in, a
torn last metrics line, a full disk, a read-only runs folder (the last two on a small tmpfs: they need root to mount
one and are skipped with that reason otherwise)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core import PlaygroundError
from core.jobs.store import JobStore
from core.model.checkpoints import load_checkpoint
from core.training.pretrain import train
from core.training.runfolder import RunFolder
from tests.support.disk import remount_read_only, small_tmpfs
from tests.support.jobs import tiny
from tests.support.server import ROOT


def consistent_checkpoint(out: Path) -> int:
    """The checkpoint readers take: its weights, optimizer state and step all belong to one step; returns it."""
    folder = RunFolder(out, write=False).folder(RunFolder.CHECKPOINT)
    assert folder is not None
    step = json.loads((folder / "state.json").read_text())["step"]
    optimizer = torch.load(folder / "optimizer.pt", weights_only=True)
    assert {int(s["step"]) for s in optimizer["state"].values()} == {step}  # AdamW counts its own steps
    assert json.loads((folder / "card.json").read_text())["step"] == step
    load_checkpoint(folder)  # the weights load
    return step


KILLER = """
import os, signal, sys, torch
from core.training import runfolder
from core.training.pretrain import train
from tests.support.jobs import tiny
where, out = sys.argv[1], sys.argv[2]
real_rename, real_save = os.rename, torch.save
saves = []
def rename(a, b):
    real_rename(a, b)
    if where == "between" and str(a).endswith("checkpoint") and str(b).endswith("checkpoint.old"):
        os.kill(os.getpid(), signal.SIGKILL)  # the second save: the old folder moved aside, the new one not in place
def save(obj, path, *args, **kwargs):
    saves.append(path)
    if where == "writing" and len(saves) == 2:  # the second save: weights written, optimizer state not
        os.kill(os.getpid(), signal.SIGKILL)
    real_save(obj, path, *args, **kwargs)
os.rename, torch.save = rename, save
train(tiny(out))
"""


@pytest.mark.parametrize("where", ["writing", "between"])
def test_sigkill_during_a_checkpoint_save_keeps_one_whole_step(tmp_path, where):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-c", KILLER, where, str(out)], cwd=ROOT, capture_output=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == -9, result.stderr.decode()[-2000:]
    assert consistent_checkpoint(out) == 10  # step 10's weights with step 10's optimizer state, never mixed
    status = train(tiny(out, resume=True))
    assert status["state"] == "finished"
    assert consistent_checkpoint(out) == 20
    steps = [r["step"] for r in RunFolder(out, write=False).read_metrics("train")]
    assert steps == list(range(1, 21))  # one curve: the steps after the kill were redone, not doubled


def test_a_torn_last_metrics_line_does_not_stop_resume(tmp_path):
    out = tmp_path / "run"
    assert train(tiny(out, steps=10))["state"] == "finished"
    with open(out / "metrics.jsonl", "ab") as f:
        f.write(b'{"kind": "train", "step": 11, "train_lo')  # the process died in the middle of a line
    assert len(RunFolder(out, write=False).read_metrics()) == 11  # 10 train + 1 eval; the torn line is skipped
    assert train(tiny(out, steps=20, resume=True))["state"] == "finished"
    text = (out / "metrics.jsonl").read_text()
    assert all(json.loads(line) for line in text.splitlines())  # no torn line left
    assert [r["step"] for r in RunFolder(out, write=False).read_metrics("train")] == list(range(1, 21))


def test_a_full_disk_stops_the_run_clearly_and_keeps_the_last_whole_checkpoint():
    # ~0.8 M parameters: one checkpoint (weights + AdamW) is ~10 MB, best/ ~3 MB; the second save needs room for
    # checkpoint.new beside checkpoint/ and does not fit in 20 MB.
    with small_tmpfs("20m") as disk:
        out = disk / "run"
        status = train(tiny(out))
        assert status["state"] == "failed" and "disk is full" in str(status["reason"]), status
        assert consistent_checkpoint(out) == 10
        assert not (out / "checkpoint.new").exists()  # the half-written copy gave its space back
        assert RunFolder(out, write=False).read_status()["state"] == "failed"


def test_a_full_disk_refuses_new_runs_with_one_sentence(tmp_path):
    with small_tmpfs("30m") as disk:
        store = JobStore(disk / "runs")
        (disk / "filler").write_bytes(b"\0" * (28 * 2**20))
        with pytest.raises(PlaygroundError, match="disk"):
            store.submit(tiny(tmp_path / "x"), owner="ada")
        store.tick()  # nothing to write: still works


def test_a_read_only_runs_folder_gives_one_sentence():
    with small_tmpfs("200m") as disk:
        store = JobStore(disk / "runs")
        run = store.submit(tiny(disk / "ignored", steps=3), owner="ada")
        remount_read_only(disk)
        with pytest.raises(PlaygroundError, match="read-only"):
            JobStore(disk / "runs").submit(tiny(disk / "ignored"), owner="ada")
        with pytest.raises(PlaygroundError, match="read-only"):
            JobStore(disk / "elsewhere")
        try:
            again = JobStore(disk / "runs")
            assert [r.id for r in again.visible("ada")] == [run.id]  # reading may still work
            again.tick()
        except PlaygroundError as e:
            assert "read-only" in str(e)
