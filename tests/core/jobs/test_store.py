"""The job runner: queue, slots, permissions, cancel, a killed process, resume, limits, disk; DDP on CPU."""

import json
import os
import shutil
import subprocess
import sys
import time
from collections import namedtuple

import pytest
import torch

from core import PlaygroundError
from core.jobs.executors import kill
from core.jobs.store import JobStore
from tests.support.jobs import read_metrics, tiny, wait_for
from tests.support.server import ROOT


def test_queue_runs_one_at_a_time_and_finishes(store):
    a = store.submit(tiny(steps=12), owner="ada")
    b = store.submit(tiny(steps=12), owner="bob")
    store.tick()
    assert store.get(a.id).state == "running" and store.get(b.id).state == "queued"
    assert store.queue_position(b.id) == 1
    assert wait_for(store, a.id, {"finished"}).state == "finished"
    assert wait_for(store, b.id, {"finished"}).state == "finished"
    assert len(read_metrics(store.get(a.id).folder, "train")) == 12


def test_participants_see_and_stop_only_their_own(store):
    a = store.submit(tiny(steps=5), owner="ada")
    assert [r.id for r in store.visible("bob")] == []
    assert [r.id for r in store.visible("ada")] == [a.id]
    with pytest.raises(PlaygroundError, match="belongs to someone else"):
        store.cancel(a.id, "bob")
    store.share(a.id, True, instructor=True)
    assert [r.id for r in store.visible("bob")] == [a.id]
    with pytest.raises(PlaygroundError, match="belongs to someone else"):
        store.delete(a.id, "bob")  # shared means visible, not changeable
    with pytest.raises(PlaygroundError, match="Only the instructor"):
        store.share(a.id, False, instructor=False)
    store.cancel(a.id, "instructor", instructor=True)
    assert store.get(a.id).state == "cancelled"


def test_per_participant_limit(store):
    store.submit(tiny(), owner="ada")
    store.submit(tiny(), owner="ada")
    with pytest.raises(PlaygroundError, match="limit is 2"):
        store.submit(tiny(), owner="ada")


def test_cancel_a_running_run(store):
    run = store.submit(tiny(steps=20_000, eval_interval=5), owner="ada")
    store.tick()
    deadline = time.time() + 60
    while not read_metrics(store.get(run.id).folder) and time.time() < deadline:
        time.sleep(0.2)
    store.cancel(run.id, "ada")
    assert wait_for(store, run.id, {"cancelled", "failed"}).state == "cancelled"


def test_killed_process_fails_keeps_metrics_and_resumes_the_same_curve(store):
    run = store.submit(tiny(steps=60, eval_interval=10), owner="ada")
    store.tick()
    folder = store.get(run.id).folder
    deadline = time.time() + 90
    while time.time() < deadline:  # wait for the first checkpoint
        if (folder / "checkpoint" / "state.json").exists() and len(read_metrics(folder)) > 12:
            break
        time.sleep(0.2)
    kill(store.get(run.id).pid)
    failed = wait_for(store, run.id, {"failed"})
    assert "killed or crashed" in str(failed.reason)
    before = read_metrics(folder)
    assert before, "metrics must survive the crash"
    store.resume(run.id, "ada")
    assert wait_for(store, run.id, {"finished"}).state == "finished"
    after = read_metrics(folder, "train")
    assert [r["step"] for r in after] == list(range(1, 61))  # one continuous curve, no fork
    checkpoint_step = json.loads((folder / "checkpoint" / "state.json").read_text())["step"]
    assert checkpoint_step == 60


def test_disk_full_and_impossible_settings_refused(store, monkeypatch):
    with pytest.raises(PlaygroundError, match="divisible"):
        store.submit(tiny(n_head=3), owner="ada")
    with pytest.raises(PlaygroundError, match="too short"):
        store.submit(tiny(context_length=4096), owner="ada")
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(PlaygroundError, match="disk has only"):
        store.submit(tiny(), owner="ada")
    assert store.visible("ada", instructor=True) == []


def test_state_survives_a_new_store_object(store, tmp_path):
    run = store.submit(tiny(steps=3), owner="ada")
    again = JobStore(tmp_path / "runs")  # a server restart: the list is back
    assert again.get(run.id).owner == "ada"


def test_out_of_memory_is_explained(tmp_path, monkeypatch):
    import torch

    from core.training import pretrain as train_module

    def boom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    monkeypatch.setattr(train_module, "estimate_loss", boom)
    status = train_module.train(tiny(out_dir=str(tmp_path / "oom"), steps=12))
    assert status["state"] == "failed" and "smaller" in str(status["reason"]) and "batch" in str(status["reason"])
    assert (tmp_path / "oom" / "metrics.jsonl").exists()


def test_ddp_on_cpu_with_two_processes(tmp_path):
    """The same training code under torchrun with two processes (gloo)."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["--out-dir", str(out), "--corpus", "the-verdict", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
            "--context-length", "16", "--batch-size", "4", "--steps", "6", "--eval-interval", "3",
            "--eval-batches", "1", "--log-interval", "1", "--sample-tokens", "3", "--device", "cpu"]
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             "-m", "core.train", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "finished" and status["world"] == 2
    # Two processes drew different batches and averaged their gradients: the weights differ from one process's.
    single = tmp_path / "single"
    args[args.index(str(out))] = str(single)
    subprocess.run([sys.executable, "-m", "core.train", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=240)
    from core.model.checkpoints import load_checkpoint
    two, one = load_checkpoint(out / "checkpoint"), load_checkpoint(single / "checkpoint")
    assert not torch.allclose(two.transformer.wte.weight, one.transformer.wte.weight)
    metrics = read_metrics(out, "train")
    assert [r["step"] for r in metrics] == list(range(1, 7))
