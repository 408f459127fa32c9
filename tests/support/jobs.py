"""Helpers for the tests of runs and the job queue: a training run that takes seconds on a CPU, a run's metrics,
waiting for a run's state, and an executor that records the commands it is given instead of starting them."""

import time

from core.jobs.executors import Started
from core.training.pretrain import TrainConfig
from core.training.runfolder import RunFolder


def tiny(out=None, **overrides) -> TrainConfig:
    """One layer of width 16 on The Verdict: 20 steps, an evaluation and a checkpoint every 10. `out`: the run's
    folder (the queue chooses one for the runs it is given)."""
    base = dict(corpus="the-verdict", n_layer=1, n_head=2, n_embd=16, context_length=16, batch_size=4, steps=20,
                warmup_steps=2, eval_interval=10, eval_batches=2, log_interval=1, sample_tokens=4, device="cpu",
                dropout=0.0)
    if out is not None:
        base["out_dir"] = str(out)
    return TrainConfig(**{**base, **overrides})


def read_metrics(folder, kind=None) -> list[dict]:
    return RunFolder(folder, write=False).read_metrics(kind)


def wait_for(store, run_id, states, timeout=90):
    """Tick the queue until the run is in one of these states; returns it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        store.tick()
        run = store.get(run_id)
        if run.state in states:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} stayed {store.get(run_id).state}")


class Recorder:
    """An executor that keeps the commands it is given; a job runs until the test ends it."""

    name = "local"

    def __init__(self):
        self.commands, self.ended = {}, set()

    def start(self, command, env, log, cwd, name=""):
        job = str(len(self.commands) + 1)
        self.commands[job] = command
        return Started(f"{self.name}:{job}", None)

    def alive(self, job_id):
        return job_id in self.commands and job_id not in self.ended

    def waiting(self, job_id):
        return False

    def wrote(self, job_id, status):
        return False

    def end_reason(self, job_id):
        return None

    def stop(self, job_id):
        self.ended.add(job_id)

    def device_of(self, job_id):
        command = self.commands[job_id]
        return command[command.index("--device") + 1]
