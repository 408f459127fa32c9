"""How the queue starts, follows and stops a run's process: here, as a child process, or on a Slurm cluster.

The queue (core.jobs.store) decides *what* starts and *when*; an executor only runs the command it is given
(`python -m core.train …`, output appended to the run's log.txt) and later answers "is it still going?".
It hands back a job id, which the queue keeps in the row's `job` column as "<executor>:<id>", so a row is
followed by the executor that started it even after the server restarts with another setting.

- `local` (the default): a child process in a new session, so it outlives the server. The id is its pid.
  Children this process started are reaped when they end (else they linger as zombies); a pid started by an
  earlier server process is asked of the system, and one the system gave to something else since is not ours.
- `slurm` (`LLM_PLAYGROUND_EXECUTOR=slurm`): `sbatch --parsable` of the same command, with the options of
  `LLM_PLAYGROUND_SBATCH_OPTIONS` (e.g. "--partition=debug --gres=gpu:1"); the run folder must be on a
  filesystem the compute nodes share. Followed with one `squeue` per few seconds for all jobs, and
  `scontrol show job` for a job that left it; stopped with `scancel`. Accounting may be off, so a finished job
  leaves squeue and is forgotten after a while: the run folder's status.json stays the record of how a run
  ended. A job never opens the queue's database (SQLite must not be shared over a network filesystem): the
  server's next tick notices that it ended.

Left out: other cluster schedulers, job arrays, and Slurm's own requeue (a killed run is resumed from its
checkpoint through the queue instead).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from core.errors import Message, PlaygroundError, message

EXECUTOR_ENV, SBATCH_OPTIONS_ENV = "LLM_PLAYGROUND_EXECUTOR", "LLM_PLAYGROUND_SBATCH_OPTIONS"
SLURM_TIMEOUT_S = 30  # a slurmctld that does not answer within this is treated as "no news" (the job is kept)


class ExecutorBusy(Exception):
    """The executor did not answer in time; the run stays queued and the next tick tries again."""


@dataclass(frozen=True)
class Started:
    job: str  # "<executor>:<id>", as the queue row keeps it
    pid: int | None  # the process id when it runs on this machine


class LocalExecutor:
    """Child processes of this server, in their own session (they survive it)."""

    name = "local"
    _children: dict[int, subprocess.Popen] = {}  # every run this server process started, whichever store started it
    _lock = threading.Lock()

    def start(self, command: list[str], env: dict[str, str], log: Path, cwd: Path, name: str = "") -> Started:
        with open(log, "a") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=cwd, env=env)
        with self._lock:
            self._children[proc.pid] = proc
        return Started(f"{self.name}:{proc.pid}", proc.pid)

    def reap(self) -> None:
        """Collect the exit status of children that have ended."""
        with self._lock:
            for pid, proc in list(self._children.items()):
                if proc.poll() is not None:
                    del self._children[pid]

    def alive(self, job_id: str) -> bool:
        pid = int(job_id) if job_id.isdigit() else 0
        if pid <= 0:
            return False
        with self._lock:
            proc = self._children.get(pid)
        if proc is not None:
            return proc.poll() is None
        try:
            os.kill(pid, 0)  # started by an earlier server process: only the system can tell
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a process id the system has given to something else since (after a reboot) is not our run
            return b"core." in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return True

    def waiting(self, job_id: str) -> bool:
        return False  # a local process runs as soon as it is started

    @staticmethod
    def wrote(job_id: str, status: dict) -> bool:
        """Whether a run folder's status.json was written by this job (not by an earlier start of the run)."""
        return str(status.get("pid")) == job_id

    def end_reason(self, job_id: str) -> Message | None:
        return None  # the run's log says more than the process table (core.jobs.store reads it)

    def stop(self, job_id: str) -> None:
        kill(int(job_id) if job_id.isdigit() else None)


class SlurmExecutor:
    """Jobs of a Slurm cluster, submitted with sbatch and followed with squeue and scontrol."""

    name = "slurm"
    ENDED = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
             "PREEMPTED", "TIMEOUT", "REVOKED", "SPECIAL_EXIT"}
    WAITING = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}

    def __init__(self, options: str = "", poll_s: float = 3.0):
        try:
            self.options = shlex.split(options)
        except ValueError:
            raise PlaygroundError("{name} cannot be read as sbatch options ({options}).", name=SBATCH_OPTIONS_ENV,
                                  options=options[:120]) from None
        self.poll_s = poll_s
        self._states: dict[str, str] = {}  # job id -> state, from the last squeue
        self._polled = 0.0
        self._lock = threading.Lock()

    def start(self, command: list[str], env: dict[str, str], log: Path, cwd: Path, name: str = "") -> Started:
        env = {k: v for k, v in env.items() if k != "LLM_PLAYGROUND_JOBS"}  # the job never opens the database
        sbatch = ["sbatch", "--parsable", f"--job-name=llm-playground-{name}"[:120], f"--output={log}",
                  "--open-mode=append", f"--chdir={cwd}", "--export=ALL", *self.options,
                  "--wrap", "exec " + shlex.join(command)]
        result = self._call(sbatch, env=env)
        if result.returncode == 124:
            raise ExecutorBusy(_last_line(result))
        job_id = result.stdout.strip().split(";")[0]  # "<id>" or "<id>;<cluster>"
        if result.returncode != 0 or not job_id.isdigit():
            raise PlaygroundError("Slurm did not take the run: {problem}", problem=_last_line(result) or "sbatch failed")
        with self._lock:
            self._states[job_id] = "PENDING"
        return Started(f"{self.name}:{job_id}", None)

    def state(self, job_id: str) -> str | None:
        """The job's Slurm state (PENDING, RUNNING, COMPLETED, …), or None once Slurm has forgotten it."""
        with self._lock:
            if time.monotonic() - self._polled >= self.poll_s:
                result = self._call(["squeue", "--noheader", "--me", "--format=%i %T"])
                if result.returncode == 0:  # else keep what we knew: a busy slurmctld is no news
                    self._states = dict(line.split(None, 1) for line in result.stdout.splitlines() if " " in line)
                    self._polled = time.monotonic()
            state = self._states.get(job_id)
        if state is not None:
            return state
        result = self._call(["scontrol", "--oneliner", "show", "job", job_id])  # it left squeue: how did it end?
        for field in result.stdout.split():
            if field.startswith("JobState="):
                return field.split("=", 1)[1]
        if "Invalid job id" in result.stderr:
            return None
        return "UNKNOWN"  # slurmctld busy or down: no news, the job is kept (never failed for a silent controller)

    def alive(self, job_id: str) -> bool:
        state = self.state(job_id)
        return state is not None and state not in self.ENDED

    def waiting(self, job_id: str) -> bool:
        """Still in Slurm's own queue (not yet on a node)."""
        return self.state(job_id) in self.WAITING

    @staticmethod
    def wrote(job_id: str, status: dict) -> bool:
        """Whether status.json was written inside this job (core.training.runfolder records SLURM_JOB_ID)."""
        return str(status.get("slurm_job")) == job_id

    def end_reason(self, job_id: str) -> Message | None:
        """Why a job that wrote no final status ended, as Slurm tells it."""
        state = self.state(job_id)
        if state is None:
            return None
        return message("The Slurm job {job} ended {state} before the run finished (killed, e.g. by scancel or its "
                       "time limit); its metrics and last checkpoint are kept: resume it to continue.",
                       job=job_id, state=state)

    def stop(self, job_id: str) -> None:
        self._call(["scancel", job_id])
        with self._lock:
            self._polled = 0.0  # ask again at the next look

    @staticmethod
    def _call(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=SLURM_TIMEOUT_S, env=env,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise PlaygroundError("The Slurm command {command} is not installed on this machine; set "
                                  "{name}=local or install Slurm's client tools.", command=command[0],
                                  name=EXECUTOR_ENV) from None
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(command, 124, "", f"{command[0]} did not answer in {SLURM_TIMEOUT_S} s")


def kill(pid: int | None) -> None:
    """Hard-stop a local run's process group (a run past its limits; tests simulate a crash with it)."""
    if pid:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1][:200] if lines else ""


def executor_from_env() -> LocalExecutor | SlurmExecutor:
    """The executor the server is configured for: LLM_PLAYGROUND_EXECUTOR=local (default) or slurm."""
    name = os.environ.get(EXECUTOR_ENV, "local").strip().lower() or "local"
    if name == "local":
        return LocalExecutor()
    if name == "slurm":
        return SlurmExecutor(os.environ.get(SBATCH_OPTIONS_ENV, ""))
    raise PlaygroundError("{name} must be local or slurm, not '{value}'.", name=EXECUTOR_ENV, value=name[:40])


def executor_of(job: str | None, pid: int | None, configured):
    """(executor, its job id) that follows a queue row: the one named in its job ("slurm:42"), else (rows from
    before executors were named) the local process of its pid."""
    name, _, job_id = (job or "").partition(":")
    if not name:
        return LocalExecutor(), str(pid or 0)
    if name == configured.name:
        return configured, job_id
    return (SlurmExecutor() if name == "slurm" else LocalExecutor()), job_id
