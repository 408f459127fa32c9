"""The local executor: a child process in its own session, followed by its pid, stopped as a group, reaped; the Slurm
executor's reading of squeue/scontrol when the controller is silent (a real Slurm is in test_slurm.py)."""

import os
import subprocess
import sys
import time

from core.jobs.executors import LocalExecutor, SlurmExecutor, executor_of
from tests.support.server import ROOT


def test_a_local_job_runs_is_followed_and_stopped(tmp_path):
    executor = LocalExecutor()
    log = tmp_path / "log.txt"
    started = executor.start([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(300)"],
                             dict(os.environ), log, ROOT)
    assert started.job == f"local:{started.pid}"
    assert os.getpgid(started.pid) == started.pid  # its own session: it outlives the server
    deadline = time.time() + 60
    while "up" not in log.read_text():
        assert time.time() < deadline
        time.sleep(0.1)
    assert executor.alive(str(started.pid)) and not executor.waiting(str(started.pid))
    executor.stop(str(started.pid))
    while executor.alive(str(started.pid)):
        assert time.time() < deadline
        time.sleep(0.1)
    executor.reap()
    assert started.pid not in LocalExecutor._children  # collected: no zombie left


def test_a_pid_that_is_not_a_run_is_not_alive():
    assert not LocalExecutor().alive("0") and not LocalExecutor().alive("")
    assert not LocalExecutor().alive(str(os.getpid()))  # alive, but not a training process
    assert executor_of(None, 4242, LocalExecutor())[1] == "4242"  # a row from before executors were named
    assert executor_of("slurm:17", None, LocalExecutor())[0].name == "slurm"


def test_a_silent_slurm_controller_is_no_news_and_a_forgotten_job_has_ended(monkeypatch):
    answers = {}
    monkeypatch.setattr(SlurmExecutor, "_call", staticmethod(
        lambda command, env=None: subprocess.CompletedProcess(command, *answers[command[0]])))
    slurm = SlurmExecutor(poll_s=0)
    answers.update(squeue=(0, "7 RUNNING\n", ""), scontrol=(1, "", "Unable to contact slurm controller"))
    assert slurm.state("7") == "RUNNING" and slurm.alive("7")
    answers["squeue"] = (1, "", "Unable to contact slurm controller")  # down: what was known stays
    assert slurm.state("7") == "RUNNING"
    assert slurm.state("8") == "UNKNOWN" and slurm.alive("8")  # never seen, controller silent: kept, not failed
    answers.update(squeue=(0, "", ""), scontrol=(1, "", "slurm_load_jobs error: Invalid job id specified"))
    assert slurm.state("7") is None and not slurm.alive("7")  # Slurm has forgotten it: it ended
    answers["scontrol"] = (0, "JobId=7 JobName=x JobState=TIMEOUT Reason=TimeLimit", "")
    assert slurm.state("7") == "TIMEOUT" and not slurm.alive("7")
    assert "ended TIMEOUT" in str(slurm.end_reason("7"))
