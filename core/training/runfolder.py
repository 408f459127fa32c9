"""The run folder: the one owner of its files, how they are written (atomically) and read back.

    train_config.json   the settings the run was started with
    metrics.jsonl       one JSON record per line, each with a `kind`: "train" (a logged step), "eval" (an
                        evaluation), "diverged" (the step whose loss was not finite)
    status.json         {"state": running|finished|failed|cancelled, "reason": {template, values}, "step", "pid",
                        "slurm_job" (under Slurm), ...}
    CANCEL              present while a cancel is asked for; the training loop stops after its current step
    checkpoint/         the latest whole training state: weights (our format), optimizer.pt, state.json
    best/               the weights with the best validation score so far
    bpe.tiktoken        a tokenizer the run learned (tiktoken's rank file) and bpe.json, its description;
                        checkpoint/ and best/ hold copies, so each is a whole model (format: core.tokens.encodings)
    results.json        a finetuning run's final evaluation
    log.txt             the process's output

Whole folders (checkpoint/, best/) are written beside the old one as `<name>.new/` and swapped in by two
renames; a kill between them leaves `<name>.old/`, which readers take instead. So weights and optimizer
state always belong to the same step. A half-written last metrics line (a kill while logging) is skipped.

    >>> import tempfile; run = RunFolder(tempfile.mkdtemp())
    >>> run.log("train", step=1, train_loss=2.5)["kind"]
    'train'
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import time
from pathlib import Path

from core.errors import Message, PlaygroundError
from core.tokens.encodings import BPE_META, BPE_RANKS, has_trained_tokenizer

KINDS = ("train", "eval", "diverged")
FINAL_STATES = ("finished", "failed", "cancelled")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a whole file or nothing: a temporary file beside it, flushed to disk, then renamed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path, default=None):
    """A JSON file, or `default` when it is missing or damaged (a reader never raises on a run's files)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


class RunFolder:
    """One run's folder. `write=False` for readers and for the non-zero ranks of a DDP run."""

    CONFIG, METRICS, STATUS, CANCEL = "train_config.json", "metrics.jsonl", "status.json", "CANCEL"
    CHECKPOINT, BEST, RESULTS, LOG = "checkpoint", "best", "results.json", "log.txt"
    TOKENIZER = (BPE_RANKS, BPE_META)

    def __init__(self, path, write: bool = True):
        self.dir = Path(path)
        self.write = write

    def __repr__(self) -> str:
        return f"RunFolder({str(self.dir)!r})"

    def path(self, name: str) -> Path:
        return self.dir / name

    def create(self) -> None:
        """Made once when a run starts; later writes never make it again, so a deleted run stays deleted."""
        if self.write:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise PlaygroundError("The run folder {path} cannot be made ({problem}).", path=self.dir,
                                      problem=e.strerror or type(e).__name__) from None

    # --- settings, status, results -----------------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        if self.write:
            self.create()
            write_atomic(self.path(self.CONFIG), json.dumps(config, indent=2))

    def read_config(self) -> dict:
        return read_json(self.path(self.CONFIG), {}) or {}

    def set_status(self, state: str, reason: Message | str | None = None, **extra) -> None:
        if not self.write:
            return
        data = {"state": state, "updated": time.time(), "pid": os.getpid(), **extra}
        if "SLURM_JOB_ID" in os.environ:  # the queue tells this job's status from an earlier start's by it
            data["slurm_job"] = os.environ["SLURM_JOB_ID"]
        if reason is not None:
            data["reason"] = Message.from_stored(reason).to_dict()
        write_atomic(self.path(self.STATUS), json.dumps(data))

    def finish(self, status: dict) -> None:
        """The run's last status ({"state": ..., "reason": ..., ...}), written even when the disk is full or the folder
        has gone: then it is printed to the log instead, where the job queue finds it."""
        try:
            self.set_status(status["state"], **{k: v for k, v in status.items() if k != "state"})
        except OSError as e:
            print(f"{type(e).__name__}: the final status could not be written ({e}); the run ended {status['state']}: "
                  f"{status.get('reason', '')}", file=sys.stderr)

    def read_status(self) -> dict:
        status = read_json(self.path(self.STATUS), {})
        return status if isinstance(status, dict) else {}

    def write_results(self, results: dict) -> None:
        if self.write:
            write_atomic(self.path(self.RESULTS), json.dumps(results, indent=2, ensure_ascii=False))

    def read_results(self) -> dict | None:
        results = read_json(self.path(self.RESULTS))
        return results if isinstance(results, dict) else None

    # --- a learned tokenizer ----------------------------------------------------------------------------
    def save_tokenizer(self, tokenizer) -> None:
        if self.write:
            self.create()
            tokenizer.save(self.dir)

    def has_tokenizer(self) -> bool:
        return has_trained_tokenizer(self.dir)

    # --- metrics -------------------------------------------------------------------------------------------
    def log(self, kind: str, **fields) -> dict:
        """Append one metrics record of this kind; returns it."""
        if kind not in KINDS:
            raise ValueError(f"unknown metrics kind {kind!r}")
        record = {"kind": kind, **fields}
        if self.write:
            line = (json.dumps(record) + "\n").encode()
            fd = os.open(self.path(self.METRICS), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)  # one write of a whole line with O_APPEND: lines never interleave
            finally:
                os.close(fd)
        return record

    def read_metrics(self, kind: str | None = None) -> list[dict]:
        """Every whole record (of one kind, if given); a torn or foreign line is skipped."""
        records = []
        try:
            text = self.path(self.METRICS).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return records
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("kind") in KINDS and (kind is None or record["kind"] == kind):
                records.append(record)
        return records

    def start_metrics(self) -> None:
        """A new run starts with no metrics."""
        if self.write:
            self.path(self.METRICS).unlink(missing_ok=True)

    def truncate_metrics_after(self, step: int) -> None:
        """On resume: keep the whole records up to the checkpoint's step (drops torn lines too), so the curve
        continues without a fork."""
        if self.write and self.path(self.METRICS).exists():
            keep = [r for r in self.read_metrics() if int(r.get("step", 0)) <= step]
            write_atomic(self.path(self.METRICS), "".join(json.dumps(r) + "\n" for r in keep))

    # --- cancel ------------------------------------------------------------------------------------------------
    def request_cancel(self, who: str = "") -> None:
        write_atomic(self.path(self.CANCEL), who)

    def clear_cancel(self) -> None:
        self.path(self.CANCEL).unlink(missing_ok=True)

    def cancel_requested(self) -> bool:
        return self.path(self.CANCEL).exists()

    # --- whole folders: checkpoint/ and best/ ------------------------------------------------------------------
    def folder(self, name: str) -> Path | None:
        """checkpoint/ or best/ as last written whole (its .old copy after a kill between the swap's renames)."""
        for candidate in (self.path(name), self.path(name + ".old")):
            if candidate.is_dir() and (candidate / "model.safetensors").exists():
                return candidate
        return None

    def save_folder(self, name: str, write) -> Path:
        """Write a whole folder with write(tmp_folder), then swap it in for the old one."""
        final, new, old = self.path(name), self.path(name + ".new"), self.path(name + ".old")
        shutil.rmtree(new, ignore_errors=True)
        try:
            new.mkdir(parents=True)
            write(new)
            for file in new.iterdir():  # on disk before the swap, so a power cut cannot leave an empty file
                with open(file, "rb") as f:
                    os.fsync(f.fileno())
        except BaseException as e:
            full = isinstance(e, Exception) and _nearly_full(self.dir)  # torch.save says "file write failed"
            shutil.rmtree(new, ignore_errors=True)  # a full disk gets its space back; the old folder stays
            if full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(new)) from e
            raise
        if final.exists():
            if old.exists() and not (final / "model.safetensors").exists():
                shutil.rmtree(final)  # a broken folder: the .old one stays the last good copy
            else:
                shutil.rmtree(old, ignore_errors=True)
                os.rename(final, old)
        os.rename(new, final)
        shutil.rmtree(old, ignore_errors=True)
        return final

    def model_folder(self) -> Path | None:
        """The weights a user would pick: best/ if there is one, else the latest checkpoint."""
        return self.folder(self.BEST) or self.folder(self.CHECKPOINT)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def disk_bytes(self) -> int:
        total = 0
        for root, _, files in os.walk(self.dir):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    pass
        return total
