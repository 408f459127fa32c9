"""Training runs on disk and a queue in SQLite, so runs outlive browsers, page reruns and server restarts.

Each run is a folder `runs/<id>/` (core.training.runfolder owns its files) plus one row in `runs/jobs.sqlite3`:
who owns it, its settings, its state (queued → running → finished | failed | cancelled), its process id.
SQLite in WAL mode with `BEGIN IMMEDIATE` transactions lets many Streamlit sessions and training processes
agree on who starts what without file-lock races.

A run executes as its own process (`python -m core.train ...`, started in a new session so it survives the
server). `tick()` — called by any page showing runs, and by a training process when it ends — notices
finished or vanished processes (killed runs become `failed` with their metrics and checkpoint intact) and
starts queued runs while a device has a free slot (default: one run per GPU, one on the CPU).

Workshop rules: participants see and stop only their own runs and runs an instructor shared; an instructor
sees and stops all. A participant may have at most `per_user_limit` runs queued or running.

Left out: several machines sharing one queue (the database is local), GPU assignment beyond "cuda".
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from core.assets import REPO
from core.errors import Message, PlaygroundError, message
from core.tokens.encodings import load_tokenizer
from core.training.common import pick_device
from core.training.data import TokenWindows, load_corpus, split_train_val
from core.training.finetune import FinetuneConfig
from core.training.options import to_argv
from core.training.pretrain import TrainConfig
from core.training.runfolder import RunFolder

KINDS = {"pretrain": ("core.train", TrainConfig), "classify": ("core.finetune", FinetuneConfig),
         "instruct": ("core.finetune", FinetuneConfig)}
STATES = ("queued", "running", "finished", "failed", "cancelled")
ACTIVE = ("queued", "running")


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
    pid: int | None
    reason: Message
    shared: bool

    @property
    def folder(self) -> Path:
        return Path(self.config["out_dir"])

    @property
    def files(self) -> RunFolder:
        return RunFolder(self.folder, write=False)


class JobStore:
    def __init__(self, root, cpu_slots: int = 1, gpu_slots: int | None = None, per_user_limit: int = 2):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "jobs.sqlite3"
        self.slots = {"cpu": cpu_slots, "cuda": gpu_slots if gpu_slots is not None else max(1, torch.cuda.device_count()),
                      "mps": 1}
        self.per_user_limit = per_user_limit
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("""CREATE TABLE IF NOT EXISTS runs (
                id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
                config TEXT NOT NULL, state TEXT NOT NULL, device TEXT NOT NULL, created REAL NOT NULL,
                started REAL, ended REAL, pid INTEGER, reason TEXT NOT NULL DEFAULT '', shared INTEGER NOT NULL DEFAULT 0)""")

    @contextmanager
    def _connect(self):
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self):
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time, taken before reading
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @staticmethod
    def _run(row) -> Run:
        return Run(row["id"], row["owner"], row["name"], row["kind"], json.loads(row["config"]), row["state"],
                   row["device"], row["created"], row["started"], row["ended"], row["pid"],
                   Message.from_stored(_json_or_text(row["reason"])), bool(row["shared"]))

    # --- reading -------------------------------------------------------------------------------------------
    def get(self, run_id: str) -> Run:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise PlaygroundError("There is no run '{run_id}'.", run_id=run_id)
        return self._run(row)

    def visible(self, user: str, instructor: bool = False) -> list[Run]:
        """The runs this user may see: their own and shared ones (all for an instructor), newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY created DESC").fetchall()
        return [r for r in map(self._run, rows) if instructor or r.owner == user or r.shared]

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next run to start on its device; None unless queued."""
        run = self.get(run_id)
        if run.state != "queued":
            return None
        with self._connect() as db:
            ahead = db.execute("SELECT COUNT(*) FROM runs WHERE state = 'queued' AND device = ? AND created < ?",
                               (run.device, run.created)).fetchone()[0]
        return ahead + 1

    # --- changing ------------------------------------------------------------------------------------------
    def submit(self, cfg, owner: str, name: str = "") -> Run:
        """Check the settings (a TrainConfig or a FinetuneConfig), then queue the run; it starts at the next
        tick when a slot is free."""
        cfg.validate()
        kind = getattr(cfg, "task", "pretrain")
        check_disk(self.root)
        if kind == "pretrain":
            check_corpus(cfg)
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        cfg.out_dir = str(self.root / run_id)
        device = pick_device(cfg.device).type
        with self._transaction() as db:
            mine = db.execute("SELECT COUNT(*) FROM runs WHERE owner = ? AND state IN ('queued', 'running')",
                              (owner,)).fetchone()[0]
            if mine >= self.per_user_limit:
                raise PlaygroundError(
                    "You already have {mine} runs queued or running (the limit is {per_user_limit}); wait for one "
                    "to finish or cancel one.",
                    mine=mine, per_user_limit=self.per_user_limit)
            db.execute("INSERT INTO runs (id, owner, name, kind, config, state, device, created) "
                       "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                       (run_id, owner, name or run_id, kind, json.dumps(asdict(cfg)), device, time.time()))
        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        return self.get(run_id)

    def _check_allowed(self, run: Run, user: str, instructor: bool) -> None:
        if not instructor and run.owner != user:
            raise PlaygroundError("This run belongs to someone else: only its owner or the instructor can change it.")

    def cancel(self, run_id: str, user: str, instructor: bool = False) -> None:
        run = self.get(run_id)
        self._check_allowed(run, user, instructor)
        if run.state == "queued":
            self._set(run_id, "cancelled", reason=message("cancelled before it started"), ended=time.time())
        elif run.state == "running":
            run.files.request_cancel(user)  # the training loop stops after its current step

    def resume(self, run_id: str, user: str, instructor: bool = False) -> None:
        run = self.get(run_id)
        self._check_allowed(run, user, instructor)
        if run.state in ACTIVE:
            raise PlaygroundError("The run is still queued or running.")
        if run.kind != "pretrain":
            raise PlaygroundError("Finetuning runs are short and start over instead of resuming.")
        checkpoint = run.files.folder(RunFolder.CHECKPOINT)
        if checkpoint is None or not (checkpoint / "state.json").exists():
            raise PlaygroundError("The run has no checkpoint yet, so it cannot be resumed; start it again instead.")
        config = dict(run.config, resume=True)
        run.files.clear_cancel()
        with self._transaction() as db:
            db.execute("UPDATE runs SET state = 'queued', config = ?, reason = '', pid = NULL, ended = NULL, "
                       "created = ? WHERE id = ?", (json.dumps(config), time.time(), run_id))

    def delete(self, run_id: str, user: str, instructor: bool = False) -> None:
        run = self.get(run_id)
        self._check_allowed(run, user, instructor)
        if run.state == "running":
            raise PlaygroundError("Cancel the run before deleting it.")
        with self._transaction() as db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        RunFolder(run.folder).remove()

    def share(self, run_id: str, shared: bool, instructor: bool) -> None:
        if not instructor:
            raise PlaygroundError("Only the instructor can share runs with everyone.")
        with self._transaction() as db:
            db.execute("UPDATE runs SET shared = ? WHERE id = ?", (int(shared), run_id))

    def _set(self, run_id: str, state: str, **fields) -> None:
        if isinstance(fields.get("reason"), Message):
            fields["reason"] = json.dumps(fields["reason"].to_dict())
        sets = ", ".join(f"{k} = ?" for k in ("state", *fields))
        with self._transaction() as db:
            db.execute(f"UPDATE runs SET {sets} WHERE id = ?", (state, *fields.values(), run_id))

    # --- the scheduler -------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Bring states up to date with the processes, then start queued runs where a slot is free."""
        with self._connect() as db:  # a plain read first: most ticks (every page refresh) have nothing to do
            active = [self._run(r) for r in db.execute("SELECT * FROM runs WHERE state IN ('queued', 'running')")]
        if not any(r.state == "queued" for r in active) and all(self._outcome(r) is None for r in active):
            return
        with self._transaction() as db:
            for row in db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall():
                run = self._run(row)
                outcome = self._outcome(run)
                if outcome is not None:
                    state, reason = outcome
                    db.execute("UPDATE runs SET state = ?, reason = ?, ended = ? WHERE id = ?",
                               (state, json.dumps(reason.to_dict()), time.time(), run.id))
            busy = {d: n for d, n in db.execute(
                "SELECT device, COUNT(*) FROM runs WHERE state = 'running' GROUP BY device").fetchall()}
            for row in db.execute("SELECT * FROM runs WHERE state = 'queued' ORDER BY created").fetchall():
                run = self._run(row)
                if busy.get(run.device, 0) >= self.slots.get(run.device, 1):
                    continue
                pid = self._spawn(run)
                busy[run.device] = busy.get(run.device, 0) + 1
                db.execute("UPDATE runs SET state = 'running', pid = ?, started = ? WHERE id = ?",
                           (pid, time.time(), run.id))

    @staticmethod
    def _outcome(run: Run) -> tuple[str, Message] | None:
        """(state, reason) of a running run that has ended; None while it still runs or waits."""
        if run.state != "running":
            return None
        status = run.files.read_status()
        if status.get("state") in ("finished", "failed", "cancelled") and status.get("pid") == run.pid:
            return status["state"], Message.from_stored(status.get("reason"))  # done, even if still exiting
        if _alive(run.pid):
            return None
        return "failed", message("The training process ended without finishing (killed or crashed); its metrics and "
                                 "last checkpoint are kept: resume it to continue.")

    def _spawn(self, run: Run) -> int:
        module, config_type = KINDS[run.kind]
        cfg = config_type(**run.config)
        run.folder.mkdir(parents=True, exist_ok=True)
        run.files.clear_cancel()
        log = open(run.files.path(RunFolder.LOG), "a")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "LLM_PLAYGROUND_JOBS": str(self.root)}
        root = REPO
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
        proc = subprocess.Popen([sys.executable, "-m", module, *to_argv(cfg)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=root, env=env)
        log.close()
        return proc.pid


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    with suppress(ChildProcessError):  # raised when another server process started it: then only os.kill can tell
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # reap our own children, or they linger as zombies
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _json_or_text(stored: str):
    """A reason as the queue stores it: JSON of a Message, or (older rows) plain text."""
    try:
        return json.loads(stored) if stored else ""
    except ValueError:
        return stored


def check_disk(folder: Path, needed_bytes: int = 200 * 1024 * 1024) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise PlaygroundError(
            "The disk has only {free_mb:.0f} MB free; a run needs about {needed_mb:.0f} MB for its checkpoints. "
            "Delete old runs first.",
            free_mb=free / 1e6, needed_mb=needed_bytes / 1e6)


def check_corpus(cfg: TrainConfig) -> None:
    """Refuse a corpus too short for the context before a process is started for it."""
    ids = torch.tensor(load_tokenizer(cfg.tokenizer).encode(load_corpus(cfg.corpus)))
    train_ids, val_ids = split_train_val(ids, cfg.val_fraction)
    TokenWindows(train_ids, cfg.context_length, label="training part of the corpus")
    TokenWindows(val_ids, cfg.context_length, label="validation part of the corpus")


def kill(pid: int) -> None:
    """Hard-stop a process group (used by tests to simulate a crash)."""
    os.killpg(os.getpgid(pid), signal.SIGKILL)


def tick_from_env() -> None:
    """Called by core.train when a run ends, so the next queued run starts even if no page is open."""
    root = os.environ.get("LLM_PLAYGROUND_JOBS")
    if root:
        try:
            JobStore(root).tick()
        except (sqlite3.Error, OSError) as e:  # the next page refresh schedules instead
            print(f"could not start the next queued run now ({e}); a page refresh will", file=sys.stderr)
