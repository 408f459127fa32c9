"""The local executor: a child process in its own session, followed by its pid, stopped as a group, reaped."""

import os
import sys
import time

from core.jobs.executors import LocalExecutor, executor_of
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
