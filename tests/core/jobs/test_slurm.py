"""The Slurm executor against a real single-node Slurm (tests/support/slurm.py): sbatch, squeue/scontrol, scancel;
then the queue on it end to end: a tiny training run, cancel (in Slurm's queue, running, hung), and a job killed by
scancel that resumes from its checkpoint. Skips, with the reason, where Slurm cannot be installed or started."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core import PlaygroundError
from core.jobs.executors import SlurmExecutor, executor_from_env
from core.jobs.store import JobStore
from core.training.runfolder import RunFolder
from tests.support.jobs import read_metrics, tiny, wait_for
from tests.support.server import ROOT
from tests.support.slurm import SlurmUnavailable, single_node_slurm


@pytest.fixture(scope="module")
def slurm():
    try:
        cluster = single_node_slurm()
        env = cluster.__enter__()
    except SlurmUnavailable as e:
        pytest.skip(str(e))
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]  # what the executor's sbatch/squeue/scancel read
    try:
        yield SlurmExecutor("--partition=debug", poll_s=0)
    finally:
        cluster.__exit__(None, None, None)
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before


def wait_until(condition, timeout=60):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.3)


def test_a_command_runs_as_a_slurm_job_and_its_output_goes_to_the_log(slurm, tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("before\n")
    started = slurm.start([sys.executable, "-c", "import os; print('job', os.environ['SLURM_JOB_ID'])"],
                          dict(os.environ), log, ROOT, name="hello")
    kind, job = started.job.split(":")
    assert kind == "slurm" and job.isdigit() and started.pid is None
    wait_until(lambda: not slurm.alive(job))
    assert slurm.state(job) == "COMPLETED"  # from scontrol, once it left squeue
    assert log.read_text() == f"before\njob {job}\n"  # appended, not overwritten


def test_scancel_stops_a_job_and_says_so(slurm, tmp_path):
    started = slurm.start(["sleep", "300"], dict(os.environ), tmp_path / "log.txt", ROOT, name="sleeper")
    job = started.job.split(":")[1]
    wait_until(lambda: slurm.state(job) == "RUNNING")
    assert slurm.alive(job) and not slurm.waiting(job)
    slurm.stop(job)
    wait_until(lambda: not slurm.alive(job))
    assert slurm.state(job) == "CANCELLED"
    assert "ended CANCELLED" in str(slurm.end_reason(job)) and "killed" in str(slurm.end_reason(job))


def test_a_job_that_waits_for_room_is_pending(slurm, tmp_path):
    everything = [SlurmExecutor(f"--partition=debug --cpus-per-task={os.cpu_count()}", poll_s=0)
                  .start(["sleep", "300"], dict(os.environ), tmp_path / f"{i}.txt", ROOT, name=f"big{i}").job
                  for i in range(2)]
    first, second = (job.split(":")[1] for job in everything)
    wait_until(lambda: slurm.state(first) == "RUNNING")
    assert slurm.waiting(second)  # the node is full: Slurm holds it in its queue
    for job in (first, second):
        slurm.stop(job)
    wait_until(lambda: not slurm.alive(first) and not slurm.alive(second))


def test_the_executor_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("LLM_PLAYGROUND_EXECUTOR", raising=False)
    assert executor_from_env().name == "local"
    monkeypatch.setenv("LLM_PLAYGROUND_EXECUTOR", "slurm")
    monkeypatch.setenv("LLM_PLAYGROUND_SBATCH_OPTIONS", "--partition=gpu --gres=gpu:1 --time=01:00:00")
    assert executor_from_env().options == ["--partition=gpu", "--gres=gpu:1", "--time=01:00:00"]
    monkeypatch.setenv("LLM_PLAYGROUND_SBATCH_OPTIONS", "--comment='unclosed")
    with pytest.raises(PlaygroundError, match="cannot be read as sbatch options"):
        executor_from_env()
    monkeypatch.setenv("LLM_PLAYGROUND_EXECUTOR", "kubernetes")
    with pytest.raises(PlaygroundError, match="must be local or slurm"):
        executor_from_env()


# --- the queue on Slurm: the same runs, submitted with sbatch, followed with squeue/scontrol, stopped with scancel ---

def slurm_store(tmp_path, options="--partition=debug"):
    return JobStore(tmp_path / "runs", per_user_limit=5, executor=SlurmExecutor(options, poll_s=0))


def job_of(store, run_id) -> str:
    kind, job = store.get(run_id).job.split(":")
    assert kind == "slurm"
    return job


def wait_for_metrics(run, count=1, timeout=120):
    wait_until(lambda: len(read_metrics(run.folder)) >= count, timeout)


def test_a_tiny_run_trains_through_the_queue_as_a_slurm_job(slurm, tmp_path):
    store = slurm_store(tmp_path)
    run = store.submit(tiny(steps=12), owner="ada")
    store.tick()
    job = job_of(store, run.id)
    assert store.get(run.id).state == "running" and store.get(run.id).pid is None
    finished = wait_for(store, run.id, {"finished", "failed", "cancelled"}, timeout=180)
    assert finished.state == "finished", (finished.reason, (finished.folder / "log.txt").read_text()[-1500:])
    status = finished.files.read_status()
    assert status["slurm_job"] == job  # written inside that job
    assert [r["step"] for r in read_metrics(finished.folder, "train")] == list(range(1, 13))
    wait_until(lambda: slurm.state(job) == "COMPLETED")  # the queue knew from status.json, before the job exited
    assert store.visible("bob") == [] and [r.id for r in store.visible("", instructor=True)] == [run.id]
    store.delete(run.id, "ada")  # as with local runs: the row and the folder go
    assert not finished.folder.exists() and store.visible("ada") == []


def test_cancel_through_the_queue_on_slurm(slurm, tmp_path):
    store = slurm_store(tmp_path, f"--partition=debug --cpus-per-task={os.cpu_count()}")  # one job fills the node
    first = store.submit(tiny(steps=20_000), owner="ada")
    waiting = store.submit(tiny(steps=20_000), owner="bob")
    store.tick()
    assert store.get(first.id).state == store.get(waiting.id).state == "running"  # both handed to Slurm
    wait_until(lambda: slurm.state(job_of(store, first.id)) == "RUNNING")
    second = job_of(store, waiting.id)
    assert slurm.waiting(second)
    store.cancel(waiting.id, "bob")  # still in Slurm's queue: scancel, and it is over at once
    assert store.get(waiting.id).state == "cancelled"
    wait_until(lambda: slurm.state(second) == "CANCELLED")
    assert not (store.get(waiting.id).folder / "status.json").exists()  # it never ran

    wait_for_metrics(store.get(first.id))
    store.cancel(first.id, "ada")  # running: the training loop stops after its step and says so
    stopped = wait_for(store, first.id, {"cancelled", "failed", "finished"}, timeout=120)
    assert stopped.state == "cancelled" and stopped.files.read_status()["slurm_job"] == job_of(store, first.id)

    hung = store.submit(tiny(steps=20_000), owner="ada")  # a run that hangs and never reads its CANCEL
    store.tick()
    wait_for_metrics(store.get(hung.id))
    os.kill(store.get(hung.id).files.read_status()["pid"], signal.SIGSTOP)  # the job's process runs on this node
    store.cancel(hung.id, "ada")
    cancel = store.get(hung.id).files.path(RunFolder.CANCEL)
    os.utime(cancel, (time.time() - 3600, time.time() - 3600))  # asked an hour ago
    store.tick()
    forced = store.get(hung.id)
    assert forced.state == "cancelled" and "by force" in str(forced.reason)
    wait_until(lambda: slurm.state(job_of(store, hung.id)) == "CANCELLED")  # scancel through the queue


def test_a_job_killed_by_scancel_resumes_from_its_checkpoint_through_the_queue(slurm, tmp_path):
    store = slurm_store(tmp_path)
    run = store.submit(tiny(steps=60, eval_interval=10), owner="ada")
    store.tick()
    first_job = job_of(store, run.id)
    folder = store.get(run.id).folder
    wait_until(lambda: (folder / "checkpoint" / "state.json").exists() and len(read_metrics(folder)) > 12, 180)
    subprocess.run(["scancel", first_job], check=True, capture_output=True)  # outside the queue: an operator
    failed = wait_for(store, run.id, {"failed", "finished", "cancelled"}, timeout=120)
    assert failed.state == "failed" and f"Slurm job {first_job} ended CANCELLED" in str(failed.reason), failed.reason
    before = [r["step"] for r in read_metrics(folder, "train")]
    assert before and before[-1] < 60  # the metrics so far are kept
    store.resume(run.id, "ada")
    store.tick()
    assert job_of(store, run.id) != first_job  # a new job, same folder
    done = wait_for(store, run.id, {"finished", "failed", "cancelled"}, timeout=180)
    assert done.state == "finished", done.reason
    assert [r["step"] for r in read_metrics(folder, "train")] == list(range(1, 61))  # one continuous curve
    assert json.loads((folder / "checkpoint" / "state.json").read_text())["step"] == 60
