"""The Slurm executor against a real single-node Slurm (tests/support/slurm.py): sbatch, squeue/scontrol, scancel.
Skips, with the reason, where Slurm cannot be installed or started."""

import os
import sys
import time

import pytest

from core import PlaygroundError
from core.jobs.executors import SlurmExecutor, executor_from_env
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
