"""The queue on a shared server: races decided in the transaction, reaped children, rows that no longer fit, real
crash reasons, no secrets in a run, the server's limits (steps, time, queue, memory, disk, quota), and a server
restart during a run."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import namedtuple

import pytest

from core import PlaygroundError
from core.jobs import store as store_module
from core.jobs.executors import LocalExecutor, kill
from core.jobs.store import JobStore, Limits
from core.training.runfolder import RunFolder
from tests.support.jobs import read_metrics, tiny, wait_for
from tests.support.server import ROOT


def alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return "\nState:\tZ" not in open(f"/proc/{pid}/status").read()
    except OSError:
        return False


def test_cancel_and_start_racing_never_leave_an_orphan(store):
    """A cancel and a tick at the same moment: either the run never starts, or it starts and is asked to stop; never
    a 'cancelled' row with a process training on beside the next run."""
    for _ in range(6):
        run = store.submit(tiny(steps=20_000), owner="ada")
        barrier = threading.Barrier(2)

        def tick(barrier=barrier):
            barrier.wait()
            store.tick()

        def cancel(barrier=barrier, run_id=run.id):
            barrier.wait()
            store.cancel(run_id, "ada")

        threads = [threading.Thread(target=tick), threading.Thread(target=cancel)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        after = store.get(run.id)
        if after.state == "running":  # the tick won: the cancel must have reached the process
            assert RunFolder(after.folder).cancel_requested()
            assert wait_for(store, run.id, {"cancelled"}).state == "cancelled"
        else:
            assert after.state == "cancelled" and after.pid is None
        final = store.get(run.id)
        deadline = time.time() + 30
        while final.pid and alive(final.pid) and time.time() < deadline:
            time.sleep(0.2)
            store.tick()
        assert not (final.pid and alive(final.pid)), "a cancelled run's process is still training"


def test_delete_is_decided_in_the_transaction_and_the_folder_stays_gone(store, monkeypatch):
    run = store.submit(tiny(steps=3), owner="ada")
    folder = store.get(run.id).folder
    real_transaction = store.db.transaction

    def tick_first():  # the worst moment: a tick right before the delete's transaction
        monkeypatch.setattr(store.db, "transaction", real_transaction)
        store.tick()
        return real_transaction()
    monkeypatch.setattr(store.db, "transaction", tick_first)
    with pytest.raises(PlaygroundError, match="Cancel the run before deleting"):
        store.delete(run.id, "ada")  # the tick started it: a running run is not deleted under its process
    assert wait_for(store, run.id, {"finished"}).state == "finished"
    store.delete(run.id, "ada")
    time.sleep(1)
    store.tick()
    assert not folder.exists() and store.visible("ada") == []
    with pytest.raises(PlaygroundError, match="no run"):
        store.get(run.id)


def test_a_deleted_queued_run_never_starts(store):
    run = store.submit(tiny(steps=3), owner="ada")
    store.delete(run.id, "ada")
    store.tick()
    assert not (store.root / run.id).exists() and store.visible("ada", instructor=True) == []


def insert_row(store, run_id, kind="pretrain", config="{}", state="queued"):
    with store.db.transaction() as db:
        db.execute("INSERT INTO runs (id, owner, name, kind, config, state, device, created) VALUES "
                   "(?, 'ada', ?, ?, ?, ?, 'cpu', ?)", (run_id, run_id, kind, config, state, time.time() - 100))


def test_rows_that_no_longer_fit_are_failed_with_their_reason_and_the_rest_start(store):
    out = str(store.root / "x")
    insert_row(store, "a-unknown-kind", kind="distill", config=json.dumps({"out_dir": out}))
    insert_row(store, "b-damaged-json", config="{not json")
    insert_row(store, "c-unknown-setting", config=json.dumps({"out_dir": out, "warp_drive": 9}))
    insert_row(store, "d-impossible", config=json.dumps({**tiny().__dict__, "out_dir": out, "n_head": 3}))
    insert_row(store, "e-list", config="[1, 2]")
    good = store.submit(tiny(steps=3), owner="bob")
    store.tick()
    reasons = {r.id: (r.state, str(r.reason)) for r in store.visible("x", instructor=True)}
    for bad in ("a-unknown-kind", "b-damaged-json", "c-unknown-setting", "e-list"):
        assert reasons[bad][0] == "failed" and "no longer fit" in reasons[bad][1], reasons[bad]
    assert reasons["d-impossible"][0] == "failed" and "divisible" in reasons["d-impossible"][1]
    assert wait_for(store, good.id, {"finished"}).state == "finished"


def test_a_crash_is_recorded_with_the_error_from_its_log(store):
    run = store.submit(tiny(steps=3), owner="ada")
    folder = store.get(run.id).folder
    (folder / "log.txt").write_text("Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                                    "RuntimeError: the GPU fell off the bus\n")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store.db.transaction() as db:  # as if it had been started and then crashed without a final status
        db.execute("UPDATE runs SET state = 'running', pid = ?, started = ? WHERE id = ?", (dead.pid, time.time(), run.id))
    store.tick()
    failed = store.get(run.id)
    assert failed.state == "failed" and "RuntimeError: the GPU fell off the bus" in str(failed.reason)


def test_finished_children_are_reaped(store):
    run = store.submit(tiny(steps=3), owner="ada")
    store.tick()
    pid = store.get(run.id).pid
    wait_for(store, run.id, {"finished"})
    deadline = time.time() + 30
    while pid in LocalExecutor._children and time.time() < deadline:
        time.sleep(0.2)
        store.tick()
    assert pid not in LocalExecutor._children
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already collected: no zombie left behind
    assert not alive(pid)


def test_no_secret_reaches_a_training_process(store, monkeypatch):
    monkeypatch.setenv("LLM_PLAYGROUND_INSTRUCTOR_PASSWORD", "Grüße-geheim")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    run = store.submit(tiny(steps=2000), owner="ada")
    store.tick()
    pid = store.get(run.id).pid
    environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    store.cancel(run.id, "ada")
    names = {e.split(b"=", 1)[0] for e in environ if e}
    assert b"LLM_PLAYGROUND_INSTRUCTOR_PASSWORD" not in names and b"HF_TOKEN" not in names
    assert not any(b"geheim" in e or b"hf_secret" in e for e in environ)
    assert b"LLM_PLAYGROUND_JOBS" in names  # the rest of the environment is there
    wait_for(store, run.id, {"cancelled"})


def test_a_run_stops_at_the_servers_time_limit_with_a_checkpoint_and_resumes(tmp_path):
    store = JobStore(tmp_path / "runs", limits=Limits(max_seconds=4))
    run = store.submit(tiny(steps=20_000, eval_interval=10_000), owner="ada")
    stopped = wait_for(store, run.id, {"cancelled", "failed", "finished"}, timeout=240)
    assert stopped.state == "cancelled" and "time limit" in str(stopped.reason), stopped.reason
    step = json.loads((stopped.folder / "checkpoint" / "state.json").read_text())["step"]
    assert 0 < step < 20_000
    assert read_metrics(stopped.folder, "eval")[-1]["step"] == step  # evaluated and saved at the step it stopped
    store.resume(run.id, "ada")
    again = wait_for(store, run.id, {"cancelled", "failed", "finished"}, timeout=240)
    assert again.state == "cancelled"
    assert json.loads((again.folder / "checkpoint" / "state.json").read_text())["step"] > step


def test_a_run_past_its_limit_is_stopped_by_force(store):
    run = store.submit(tiny(steps=20_000), owner="ada")
    store.tick()
    pid = store.get(run.id).pid
    store.limits = Limits(max_seconds=0.001)  # as if it had run for hours and its own stop did not come
    with store.db.transaction() as db:
        db.execute("UPDATE runs SET started = ? WHERE id = ?", (time.time() - 3600, run.id))
    store.tick()
    stopped = store.get(run.id)
    assert stopped.state == "failed" and "time limit" in str(stopped.reason)
    deadline = time.time() + 20
    while alive(pid) and time.time() < deadline:
        time.sleep(0.2)
        store.tick()
    assert not alive(pid)


def test_a_cancel_that_is_not_obeyed_is_enforced(store):
    run = store.submit(tiny(steps=20_000), owner="ada")
    store.tick()
    pid = store.get(run.id).pid
    store.cancel(run.id, "ada")
    cancel = store.get(run.id).files.path(RunFolder.CANCEL)
    os.utime(cancel, (time.time() - 3600, time.time() - 3600))  # asked an hour ago
    os.kill(pid, signal.SIGSTOP)  # a process that hangs and never looks at CANCEL
    store.tick()
    assert store.get(run.id).state == "cancelled" and "by force" in str(store.get(run.id).reason)
    deadline = time.time() + 20
    while alive(pid) and time.time() < deadline:
        time.sleep(0.2)
        store.tick()
    assert not alive(pid)


def test_the_servers_limits(tmp_path, monkeypatch):
    store = JobStore(tmp_path / "runs", per_user_limit=5, limits=Limits(max_steps=100, max_queued=2,
                                                                     quota_bytes=50 * 10**6))
    with pytest.raises(PlaygroundError, match="at most 100 steps"):
        store.submit(tiny(steps=101), owner="ada")
    with pytest.raises(PlaygroundError, match="GiB of memory, more than"):
        store.submit(tiny(n_layer=4, n_embd=1024, n_head=8, context_length=1024, batch_size=512), owner="ada")
    with pytest.raises(PlaygroundError, match="share of the disk"):  # ~9 MB of weights, ×6 with checkpoints
        store.submit(tiny(n_layer=1, n_embd=128, n_head=2, steps=100), owner="ada")
    store.submit(tiny(steps=5), owner="ada")
    store.submit(tiny(steps=5), owner="bob")
    with pytest.raises(PlaygroundError, match="queue is full"):
        store.submit(tiny(steps=5), owner="cy")
    assert len(store.visible("x", instructor=True)) == 2
    assert len([p for p in store.root.iterdir() if p.is_dir()]) == 2  # a refused run leaves no folder


def test_the_free_space_check_counts_what_the_run_will_write(store, monkeypatch):
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(store_module.shutil, "disk_usage", lambda path: Usage(10**12, 0, 200 * 10**6))
    store.submit(tiny(steps=5), owner="ada")  # a tiny model writes far less than 10 MB
    big = tiny(n_layer=2, n_embd=256, n_head=4, steps=5)  # ~14 M parameters: checkpoints of hundreds of MB
    with pytest.raises(PlaygroundError, match="disk has only 200 MB free"):
        store.submit(big, owner="ada")


def test_server_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv("LLM_PLAYGROUND_MAX_STEPS", "123")
    monkeypatch.setenv("LLM_PLAYGROUND_MAX_RUN_MINUTES", "1.5")
    monkeypatch.setenv("LLM_PLAYGROUND_DISK_QUOTA_MB", "7")
    monkeypatch.setenv("LLM_PLAYGROUND_MAX_QUEUED", "nonsense")
    limits = Limits.from_env()
    assert (limits.max_steps, limits.max_seconds, limits.quota_bytes, limits.max_queued) == (123, 90, 7 * 10**6, 60)


def test_a_run_survives_a_server_restart(tmp_path):
    """The server that started the run goes away; the next one finds the run running and sees it finish."""
    root = tmp_path / "runs"
    script = ("import sys; from core.jobs.store import JobStore; from tests.support.jobs import tiny\n"
              f"s = JobStore({str(root)!r}); r = s.submit(tiny(steps=25, eval_interval=5), owner='ada'); s.tick()\n"
              "print(r.id)")
    first = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    run_id = first.stdout.strip().splitlines()[-1]
    again = JobStore(root)  # the restarted server
    assert again.get(run_id).state == "running" and alive(again.get(run_id).pid)
    assert wait_for(again, run_id, {"finished", "failed"}, timeout=240).state == "finished"
    assert [r["step"] for r in read_metrics(again.get(run_id).folder, "train")][-1] == 25


def test_kill_of_a_gone_process_is_quiet():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    kill(proc.pid)
    kill(None)
