"""Training runs on disk and a queue in SQLite, so runs outlive browsers, page reruns and server restarts.

Each run is a folder `runs/<id>/` (core.training.runfolder owns its files) plus one row in `runs/jobs.sqlite3`:
who owns it, its settings, its state (queued → running → finished | failed | cancelled), the device it asked for
and then runs on, and its job ("local:<pid>" or "slurm:<id>").
SQLite in WAL mode with `BEGIN IMMEDIATE` transactions lets many Streamlit sessions and training processes
agree on who starts what without file-lock races: every decision (start, cancel, delete, resume) reads the state
inside the transaction that changes it, so a cancel and a start can never both win.

A run executes as its own process (`python -m core.train ...`, with an environment that holds no secrets), started
by an executor (core.jobs.executors): a local process by default, a Slurm job with `LLM_PLAYGROUND_EXECUTOR=slurm`.
A row is followed and stopped by the executor that started it. `tick()` — called by any page showing runs, and by
a training process when it ends — reaps finished children, notices finished or vanished jobs (killed runs become
`failed` with their metrics and checkpoint intact, with the last error of their log, or Slurm's word, as the
reason), stops runs past the server's time limit, and starts queued runs where they fit. Locally a run is placed
on a device (core.jobs.devices.place: one run on the CPU, on a GPU up to `LLM_PLAYGROUND_GPU_SLOTS` runs whose
memory estimates fit together) and started with `--device cuda:<i>`; under Slurm every queued run is submitted at
once and Slurm places it (the sbatch options ask for GPUs). A queued row that no longer fits the code is marked
failed with its reason; it never stops the others.

Workshop rules (server configuration, `Limits.from_env`): participants see and stop only their own runs and runs an
instructor shared; an instructor sees and stops all. A participant may have at most `per_user_limit` runs queued
or running and `LLM_PLAYGROUND_DISK_QUOTA_MB` on disk; a run has at most `LLM_PLAYGROUND_MAX_STEPS` steps and
`LLM_PLAYGROUND_MAX_RUN_MINUTES` of wall time; at most `LLM_PLAYGROUND_MAX_QUEUED` runs wait or run at once. Before a
run is queued its memory estimate must fit the device and its disk estimate the free space and the quota.
A full or read-only runs folder gives one PlaygroundError sentence (core.jobs.database), never a raw sqlite3 or OS
error.

Left out: several machines sharing one database (the server's machine holds it; Slurm jobs never open it).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import time
import uuid
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from core.assets import REPO
from core.errors import Message, PlaygroundError, message
from core.jobs.database import Database, storage_errors
from core.jobs.devices import Device, check_fits_a_gpu, inventory, place, request_kind
from core.jobs.executors import ExecutorBusy, LocalExecutor, SlurmExecutor, executor_from_env, executor_of
from core.model.checkpoints import saved_config
from core.model.families import count_parameters
from core.training.common import child_env, pick_device
from core.training.data import corpus_file, corpus_names
from core.training.estimates import check_memory, disk_estimate_bytes, memory_estimate_bytes
from core.training.finetune import FinetuneConfig
from core.training.options import to_argv
from core.training.pretrain import TrainConfig
from core.training.runfolder import RunFolder

KINDS = {"pretrain": ("core.train", TrainConfig), "classify": ("core.finetune", FinetuneConfig),
         "instruct": ("core.finetune", FinetuneConfig)}
STATES = ("queued", "running", "finished", "failed", "cancelled")
ACTIVE = ("queued", "running")
CANCEL_GRACE_S = 120  # a run that has not stopped this long after a cancel is stopped by force
UPLOAD_NAMES = {"pretrain": "corpus.txt", "classify": "data.tsv", "instruct": "data.json"}


@dataclass(frozen=True)
class Limits:
    """What the server allows (environment variables, read when the store is made)."""
    max_steps: int = 20_000  # LLM_PLAYGROUND_MAX_STEPS
    max_seconds: float = 2 * 3600  # LLM_PLAYGROUND_MAX_RUN_MINUTES
    quota_bytes: int = 2_000 * 10**6  # LLM_PLAYGROUND_DISK_QUOTA_MB, per participant
    max_queued: int = 60  # LLM_PLAYGROUND_MAX_QUEUED, all participants together

    @classmethod
    def from_env(cls) -> Limits:
        def number(name, default, scale=1):
            try:
                return type(default)(float(os.environ[name]) * scale) if name in os.environ else default
            except ValueError:
                return default
        return cls(max_steps=number("LLM_PLAYGROUND_MAX_STEPS", cls.max_steps),
                   max_seconds=number("LLM_PLAYGROUND_MAX_RUN_MINUTES", cls.max_seconds / 60) * 60,
                   quota_bytes=number("LLM_PLAYGROUND_DISK_QUOTA_MB", cls.quota_bytes // 10**6) * 10**6,
                   max_queued=number("LLM_PLAYGROUND_MAX_QUEUED", cls.max_queued))


@dataclass
class Run:
    id: str
    owner: str
    name: str
    kind: str
    config: dict
    state: str
    device: str
    created: float
    started: float | None
    ended: float | None
    pid: int | None  # the process id of a local run
    reason: Message
    shared: bool
    job: str | None = None  # "<executor>:<id>" of its latest start

    @property
    def folder(self) -> Path:
        return Path(self.config["out_dir"])

    @property
    def files(self) -> RunFolder:
        return RunFolder(self.folder, write=False)


class JobStore:
    def __init__(self, root, cpu_slots: int = 1, gpu_slots: int | None = None, per_user_limit: int = 2,
                 limits: Limits | None = None, devices: list[Device] | None = None,
                 executor: LocalExecutor | SlurmExecutor | None = None):
        """gpu_slots: runs per GPU (default LLM_PLAYGROUND_GPU_SLOTS, else 1); devices: the inventory to place runs
        on (default this machine's; tests pass devices.fake_gpus); executor: default from the environment."""
        self.root = Path(root)
        self.devices = devices or inventory(cpu_slots, gpu_slots)
        self.executor = executor or executor_from_env()
        self.per_user_limit = per_user_limit
        self.limits = limits or Limits.from_env()
        self.db = Database(self.root / "jobs.sqlite3", """CREATE TABLE IF NOT EXISTS runs (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
            config TEXT NOT NULL, state TEXT NOT NULL, device TEXT NOT NULL, created REAL NOT NULL,
            started REAL, ended REAL, pid INTEGER, reason TEXT NOT NULL DEFAULT '', shared INTEGER NOT NULL DEFAULT 0,
            job TEXT)""")
        with self.db.connect() as db:
            if "job" not in {c["name"] for c in db.execute("PRAGMA table_info(runs)")}:  # a database from before
                db.execute("ALTER TABLE runs ADD COLUMN job TEXT")

    def _run(self, row) -> Run:
        """A row as a Run; a row whose stored settings cannot be read keeps its folder (and is failed by tick)."""
        try:
            config = json.loads(row["config"])
        except (TypeError, ValueError):
            config = None
        if not isinstance(config, dict) or not isinstance(config.get("out_dir"), str):
            config = {"out_dir": str(self.root / row["id"]), "damaged": True}
        return Run(row["id"], row["owner"], row["name"], row["kind"], config, row["state"],
                   row["device"], row["created"], row["started"], row["ended"], row["pid"],
                   Message.from_stored(_json_or_text(row["reason"])), bool(row["shared"]), row["job"])

    def _row(self, db, run_id: str) -> Run:
        row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise PlaygroundError("There is no run '{run_id}'.", run_id=run_id)
        return self._run(row)

    # --- reading -------------------------------------------------------------------------------------------
    def get(self, run_id: str) -> Run:
        with self.db.connect() as db:
            return self._row(db, run_id)

    def visible(self, user: str, instructor: bool = False) -> list[Run]:
        """The runs this user may see: their own and shared ones (all for an instructor), newest first."""
        with self.db.connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY created DESC").fetchall()
        return [r for r in map(self._run, rows) if instructor or r.owner == user or r.shared]

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next run to start on its device; None unless queued."""
        run = self.get(run_id)
        if run.state != "queued":
            return None
        with self.db.connect() as db:
            ahead = db.execute("SELECT COUNT(*) FROM runs WHERE state = 'queued' AND device = ? AND created < ?",
                               (run.device, run.created)).fetchone()[0]
        return ahead + 1

    def disk_used(self, owner: str) -> int:
        """Bytes this participant's runs hold, counting what active runs are still going to write."""
        with self.db.connect() as db:
            rows = db.execute("SELECT * FROM runs WHERE owner = ?", (owner,)).fetchall()
        used = 0
        for run in map(self._run, rows):
            now = RunFolder(run.folder, write=False).disk_bytes()
            used += max(now, self._disk_estimate(run.kind, run.config)) if run.state in ACTIVE else now
        return used

    # --- changing ------------------------------------------------------------------------------------------
    def submit(self, cfg, owner: str, name: str = "", upload: bytes | None = None) -> Run:
        """Check the settings (a TrainConfig or a FinetuneConfig) and that the run fits (steps, memory, disk,
        quota, the participant's limit), keep an uploaded corpus or data set inside the run's folder, then queue
        the run; it starts at the next tick when a slot is free."""
        cfg.validate()
        kind = getattr(cfg, "task", "pretrain")
        cfg = replace(cfg)  # the caller's settings stay as they were
        self._check_fits(cfg, kind)
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        folder = self.root / run_id
        cfg.out_dir = str(folder)
        cfg.max_seconds = min(cfg.max_seconds or self.limits.max_seconds, self.limits.max_seconds)
        if kind != "pretrain":
            cfg.max_steps = min(cfg.max_steps or self.limits.max_steps, self.limits.max_steps)
        device = self._requested(cfg.device)
        needed = self._disk_estimate(kind, asdict(cfg)) + len(upload or b"")
        with self.db.connect() as db:  # early and cheap; the limit is decided again in the transaction below
            self._check_room(db, owner, needed)
        try:
            with storage_errors():
                folder.mkdir(parents=True)
                if upload is not None:
                    path = folder / UPLOAD_NAMES[kind]
                    path.write_bytes(upload)
                    if kind == "pretrain":
                        cfg.corpus = str(path)
                    else:
                        cfg.data = str(path)
            if kind == "pretrain":
                check_corpus(cfg)
            with self.db.transaction() as db:
                self._check_room(db, owner, 0)
                db.execute("INSERT INTO runs (id, owner, name, kind, config, state, device, created) "
                           "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                           (run_id, owner, name or run_id, kind, json.dumps(asdict(cfg)), device, time.time()))
        except BaseException:
            RunFolder(folder).remove()
            raise
        return self.get(run_id)

    def _check_fits(self, cfg, kind: str) -> None:
        """Steps within the server's limit, memory within the device's."""
        if kind == "pretrain" and cfg.steps > self.limits.max_steps:
            raise PlaygroundError("This server allows at most {limit:,} steps per run (LLM_PLAYGROUND_MAX_STEPS); "
                                  "this run asks for {steps:,}.", limit=self.limits.max_steps, steps=cfg.steps)
        if kind != "pretrain" or cfg.init_from:  # a new model's memory is checked by TrainConfig.validate
            check_memory(_model_config(kind, asdict(cfg)), cfg.batch_size, pick_device(cfg.device))
        if self.executor.name != "slurm":  # Slurm's nodes are not this machine's GPUs
            check_fits_a_gpu(self._requested(cfg.device), _memory_estimate(kind, asdict(cfg)), self.devices)

    def _requested(self, device: str) -> str:
        """The device a run asks for, as its queued row keeps it ("cuda" for any GPU, "cuda:1", "cpu", ...)."""
        if self.executor.name == "slurm":
            return device  # Slurm places it; the job's status.json says where it ran
        return request_kind(device, self.devices)

    def _executor(self, run: Run):
        """(executor, job id) that follows this row: the one that started it."""
        return executor_of(run.job, run.pid, self.executor)

    def _check_room(self, db, owner: str, needed: int) -> None:
        """The participant's run limit and the queue's, then (when `needed` is given) free disk and the quota."""
        mine = db.execute("SELECT COUNT(*) FROM runs WHERE owner = ? AND state IN ('queued', 'running')",
                          (owner,)).fetchone()[0]
        if mine >= self.per_user_limit:
            raise PlaygroundError(
                "You already have {mine} runs queued or running (the limit is {per_user_limit}); wait for one "
                "to finish or cancel one.",
                mine=mine, per_user_limit=self.per_user_limit)
        everyone = db.execute("SELECT COUNT(*) FROM runs WHERE state IN ('queued', 'running')").fetchone()[0]
        if everyone >= self.limits.max_queued:
            raise PlaygroundError("The queue is full ({n} runs wait or run); try again when some have finished.",
                                  n=everyone)
        if needed:
            check_disk(self.root, needed)
            used = self.disk_used(owner)
            if used + needed > self.limits.quota_bytes:
                raise PlaygroundError(
                    "Your runs hold {used_mb:,.0f} MB and this one would write about {needed_mb:,.0f} MB more; your "
                    "share of the disk is {quota_mb:,.0f} MB. Delete old runs first.",
                    used_mb=used / 1e6, needed_mb=needed / 1e6, quota_mb=self.limits.quota_bytes / 1e6)

    def _disk_estimate(self, kind: str, config: dict) -> int:
        try:
            params = count_parameters(_model_config(kind, config))
        except (PlaygroundError, KeyError, TypeError):
            return 0
        if kind == "pretrain":
            return disk_estimate_bytes(params, config["steps"], config["log_interval"], config["eval_interval"],
                                       config["sample_tokens"], save_bytes=2 if config["save_dtype"] != "fp32" else 4)
        return disk_estimate_bytes(params, config.get("steps") or 10_000, config["log_interval"],
                                   config["eval_interval"], 0, checkpoint=False)

    @staticmethod
    def _check_allowed(run: Run, user: str, instructor: bool) -> None:
        if not instructor and run.owner != user:
            raise PlaygroundError("This run belongs to someone else: only its owner or the instructor can change it.")

    def cancel(self, run_id: str, user: str, instructor: bool = False) -> None:
        with self.db.transaction() as db:  # decided on the state as it is now: a tick cannot start it meanwhile
            run = self._row(db, run_id)
            self._check_allowed(run, user, instructor)
            if run.state == "queued":
                db.execute("UPDATE runs SET state = 'cancelled', reason = ?, ended = ? WHERE id = ?",
                           (json.dumps(message("cancelled before it started").to_dict()), time.time(), run_id))
            elif run.state == "running":
                executor, job_id = self._executor(run)
                if executor.waiting(job_id):  # still in Slurm's own queue: it never started, nothing to save
                    executor.stop(job_id)
                    self._end(db, run_id, "cancelled", message("cancelled before it started"))
                    return
                with storage_errors():
                    run.files.request_cancel(user)  # the training loop stops after its current step

    def resume(self, run_id: str, user: str, instructor: bool = False) -> None:
        with self.db.transaction() as db:
            run = self._row(db, run_id)
            self._check_allowed(run, user, instructor)
            if run.state in ACTIVE:
                raise PlaygroundError("The run is still queued or running.")
            if run.kind != "pretrain":
                raise PlaygroundError("Finetuning runs are short and start over instead of resuming.")
            checkpoint = run.files.folder(RunFolder.CHECKPOINT)
            if checkpoint is None or not (checkpoint / "state.json").exists():
                raise PlaygroundError("The run has no checkpoint yet, so it cannot be resumed; start it again instead.")
            self._check_room(db, run.owner, 0)
            config = dict(run.config, resume=True)
            device = self._requested(config.get("device", "auto"))  # placed again, maybe on another GPU
            with storage_errors():
                run.files.clear_cancel()
            db.execute("UPDATE runs SET state = 'queued', config = ?, device = ?, reason = '', pid = NULL, job = NULL, "
                       "ended = NULL, created = ? WHERE id = ?", (json.dumps(config), device, time.time(), run_id))

    def delete(self, run_id: str, user: str, instructor: bool = False) -> None:
        with self.db.transaction() as db:  # the folder goes while the lock is held, so no tick starts the run again
            run = self._row(db, run_id)
            self._check_allowed(run, user, instructor)
            if run.state == "running":
                raise PlaygroundError("Cancel the run before deleting it.")
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            if run.folder.resolve().parent == self.root.resolve():  # only ever a folder of this store
                RunFolder(run.folder).remove()

    def share(self, run_id: str, shared: bool, instructor: bool) -> None:
        if not instructor:
            raise PlaygroundError("Only the instructor can share runs with everyone.")
        with self.db.transaction() as db:
            self._row(db, run_id)
            db.execute("UPDATE runs SET shared = ? WHERE id = ?", (int(shared), run_id))

    # --- the scheduler -------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Bring states up to date with the jobs, then start queued runs where they fit."""
        LocalExecutor().reap()
        with self.db.connect() as db:  # a plain read first: most ticks (every page refresh) have nothing to do
            active = [self._run(r) for r in db.execute("SELECT * FROM runs WHERE state IN ('queued', 'running')")]
        if not any(r.state == "queued" or self.waiting(r) for r in active) and \
                all(self._outcome(r) is None for r in active):
            return
        with self.db.transaction() as db:
            running = []  # (device, memory estimate) of the runs on this machine's devices
            for row in db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall():
                run = self._run(row)
                outcome = self._outcome(run)
                if outcome is not None:
                    state, reason, stop = outcome
                    if stop:
                        executor, job_id = self._executor(run)
                        executor.stop(job_id)
                    self._end(db, run.id, state, reason)
                elif self.waiting(run):  # its time limit counts from when Slurm starts it
                    db.execute("UPDATE runs SET started = ? WHERE id = ?", (time.time(), run.id))
                elif self._executor(run)[0].name == "local":
                    running.append((run.device, _memory_estimate(run.kind, run.config)))
            for row in db.execute("SELECT * FROM runs WHERE state = 'queued' ORDER BY created").fetchall():
                run = self._run(row)
                try:
                    device = self._place(run, running)
                    if device is None:
                        continue  # no room for it now; a smaller run behind it may still fit
                    started = self._start(run, device)
                except ExecutorBusy:  # Slurm did not answer in time: everything stays queued until the next tick
                    break
                except PlaygroundError as e:  # its settings no longer pass the checks (a GPU gone, a file moved)
                    self._end(db, run.id, "failed", e.message)
                    continue
                except OSError:  # the runs folder cannot be written: the run stays queued, the caller hears why
                    raise
                except Exception as e:  # a row this version of the code cannot start: fail it, start the others
                    self._end(db, run.id, "failed", message(
                        "The run's saved settings no longer fit this version of the playground ({problem}); start "
                        "it again.", problem=f"{type(e).__name__}: {str(e)[:160]}"))
                    continue
                if self.executor.name != "slurm":
                    running.append((device, _memory_estimate(run.kind, run.config)))
                db.execute("UPDATE runs SET state = 'running', device = ?, pid = ?, job = ?, started = ? WHERE id = ?",
                           (device, started.pid, started.job, time.time(), run.id))

    def _place(self, run: Run, running: list[tuple[str, int]]) -> str | None:
        """The device a queued run starts on now (None: it waits); under Slurm, what it asked for (Slurm places it)."""
        if self.executor.name == "slurm":
            return run.device
        kind = request_kind(run.device, self.devices)  # a GPU that has gone since is one sentence
        estimate = _memory_estimate(run.kind, run.config) if kind.startswith("cuda") else 0
        return place(kind, estimate, self.devices, running)

    def waiting(self, run: Run) -> bool:
        """Submitted but still in Slurm's own queue (its row says running: the queue has handed it on)."""
        if run.state != "running":
            return False
        executor, job_id = self._executor(run)
        return executor.waiting(job_id)

    @staticmethod
    def _end(db, run_id: str, state: str, reason: Message) -> None:
        db.execute("UPDATE runs SET state = ?, reason = ?, ended = ? WHERE id = ?",
                   (state, json.dumps(reason.to_dict()), time.time(), run_id))

    def _outcome(self, run: Run) -> tuple[str, Message, bool] | None:
        """(state, reason, stop the job) of a running run that has ended or must end; None while it runs."""
        if run.state != "running":
            return None
        executor, job_id = self._executor(run)
        status = run.files.read_status()
        if status.get("state") in ("finished", "failed", "cancelled") and executor.wrote(job_id, status):
            return status["state"], Message.from_stored(status.get("reason")), False  # done, even if still exiting
        if not executor.alive(job_id):
            return "failed", _crash_reason(run, executor.end_reason(job_id)), False
        if executor.waiting(job_id):
            return None
        now = time.time()
        limit = self.limits.max_seconds
        if run.started and now - run.started > limit + max(60.0, 0.1 * limit):  # the loop's own stop did not come
            return "failed", message("Stopped by the server: the run went on past the time limit of {minutes:.0f} "
                                     "minutes; its metrics and last checkpoint are kept.", minutes=limit / 60), True
        cancel = run.files.path(RunFolder.CANCEL)
        with suppress(OSError):
            if now - cancel.stat().st_mtime > CANCEL_GRACE_S:
                return "cancelled", message("cancelled (stopped by force: it did not stop on its own within {s} s)",
                                            s=CANCEL_GRACE_S), True
        return None

    def _start(self, run: Run, device: str):
        """Start a queued run's process on `device` through the executor; what it answers (job id, pid)."""
        module, config_type = KINDS[run.kind]
        if run.config.get("damaged"):
            raise ValueError("the stored settings are not readable")
        cfg = config_type(**{k: v for k, v in run.config.items()})
        cfg.validate()
        if device.startswith("cuda:"):
            cfg.device = device  # the GPU the queue chose (checked against the inventory, not this process's CUDA)
        run.folder.mkdir(parents=True, exist_ok=True)
        run.files.clear_cancel()
        env = child_env(PYTHONUNBUFFERED="1", LLM_PLAYGROUND_JOBS=str(self.root))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        return self.executor.start([sys.executable, "-m", module, *to_argv(cfg)], env, run.files.path(RunFolder.LOG),
                                   REPO, name=run.id)


def _model_config(kind: str, config: dict):
    """The model a run trains, as a config (nothing loaded): for memory and disk estimates."""
    if kind == "pretrain" and not config.get("init_from"):
        shape = ("tokenizer", "arch", "n_layer", "n_head", "n_kv_head", "n_embd", "d_mlp", "rope_theta", "context_length",
                 "dropout", "bias", "tied_embeddings")
        return TrainConfig(**{k: config[k] for k in shape if k in config}).model_config()  # older rows lack arch
    base = saved_config(config["init_from"])
    context = config["context_length"] if kind == "pretrain" else config["max_tokens"] + 1
    return replace(base, context_length=min(base.context_length, context))


def _memory_estimate(kind: str, config: dict) -> int:
    """Bytes of memory the run is estimated to need (0 when its settings cannot tell): what packs it onto a GPU."""
    try:
        return memory_estimate_bytes(_model_config(kind, config), config["batch_size"])
    except (PlaygroundError, KeyError, TypeError, ValueError, OSError):
        return 0


def _crash_reason(run: Run, executor_says: Message | None) -> Message:
    """Why a run's process ended without writing a final status: the last error line of its log, else what its
    executor knows (Slurm: the job's end state)."""
    try:
        with open(run.files.path(RunFolder.LOG), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        lines = []
    error = next((line.strip() for line in reversed(lines) if "Error" in line.split(":")[0] or
                  line.startswith(("Killed", "Segmentation"))), "")
    if error:
        return message("The training process ended without finishing ({error}); its metrics and last checkpoint are "
                       "kept.", error=error[:200])
    if executor_says is not None:
        return executor_says
    return message("The training process ended without finishing (killed or crashed); its metrics and last checkpoint "
                   "are kept: resume it to continue.")


def _json_or_text(stored: str):
    """A reason as the queue stores it: JSON of a Message, or (older rows) plain text."""
    try:
        return json.loads(stored) if stored else ""
    except ValueError:
        return stored


def check_disk(folder: Path, needed_bytes: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed_bytes + 50 * 10**6:  # room left for the database and the logs
        raise PlaygroundError(
            "The disk has only {free_mb:.0f} MB free; a run needs about {needed_mb:.0f} MB for its checkpoints. "
            "Delete old runs first.",
            free_mb=free / 1e6, needed_mb=needed_bytes / 1e6)


def check_corpus(cfg: TrainConfig) -> None:
    """Refuse a corpus too short for the context before a process is started for it, from its size alone (a token
    holds at least one byte, so fewer bytes than context + 1 never fill a window); nothing is read or tokenized,
    and a tokenizer the run is still to learn is not learned here."""
    size = 0
    for name in corpus_names(cfg.corpus):
        path = corpus_file(name)
        if not path.is_file():
            raise PlaygroundError("There is no text file at {path}.", path=path)
        size += path.stat().st_size
    for label, n in (("training part of the corpus", size - int(size * cfg.val_fraction)),
                     ("validation part of the corpus", int(size * cfg.val_fraction))):
        if n < cfg.context_length + 1:
            raise PlaygroundError(
                "The {label} has only {n_bytes:,} bytes, too short for a context of {context} tokens (needs at "
                "least {needed}); use more text or a shorter context.",
                label=label, n_bytes=n, context=cfg.context_length, needed=cfg.context_length + 1)


def tick_from_env() -> None:
    """Called by core.train when a run ends, so the next queued run starts even if no page is open."""
    root = os.environ.get("LLM_PLAYGROUND_JOBS")
    if root:
        try:
            JobStore(root).tick()
        except (PlaygroundError, sqlite3.Error, OSError) as e:  # the next page refresh schedules instead
            print(f"could not start the next queued run now ({e}); a page refresh will", file=sys.stderr)
