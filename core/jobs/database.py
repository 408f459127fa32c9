"""The SQLite files of the runs folder (the job queue's `jobs.sqlite3`, the lecture hall's `hall.sqlite3`): opened
one way, in WAL mode, with `BEGIN IMMEDIATE` transactions (one writer at a time, decided before reading), and
their storage errors as one sentence a participant understands, never a raw sqlite3 or OS error.

A full or read-only runs folder stops what writes there (training, polls) and nothing else: the pages catch the
PlaygroundError and say it.
"""
from __future__ import annotations

import errno
import shutil
import sqlite3
from contextlib import contextmanager, suppress
from pathlib import Path

from core.errors import PlaygroundError

FULL_BYTES = 1 << 20  # less free space than this, and a failing SQLite file is a full disk


@contextmanager
def storage_errors(where: Path | None = None):
    """sqlite3 and OS errors of the runs folder as one PlaygroundError sentence. where: the folder of a SQLite
    file (SQLite says "disk I/O error" when it cannot make its shared-memory file on a full disk)."""
    try:
        yield
    except (sqlite3.Error, OSError) as e:
        text = str(e).lower()
        if getattr(e, "errno", None) == errno.ENOSPC or "full" in text or (where is not None and _nearly_full(where)):
            raise PlaygroundError("The disk of the runs folder is full: nothing new can be saved there (runs, polls) "
                                  "until the operator frees space; what is saved is kept.") from None
        if getattr(e, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text \
                or "read-only" in text or "unable to open" in text:
            raise PlaygroundError("The runs folder cannot be written (read-only): training and the lecture hall are "
                                  "unavailable until the operator fixes it; every other page works.") from None
        raise PlaygroundError("The runs database cannot be used ({problem}).", problem=str(e)[:120]) from None


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < FULL_BYTES
    except OSError:
        return False


class Database:
    """One SQLite file: `connect()` for reads and single statements, `transaction()` for decisions."""

    def __init__(self, path, schema: str):
        """Creates the folder and the tables (`schema`: CREATE TABLE IF NOT EXISTS statements) where missing."""
        self.path = Path(path)
        with storage_errors():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)

    @contextmanager
    def connect(self):
        with storage_errors(self.path.parent):
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            try:
                yield db
            finally:
                db.close()

    @contextmanager
    def transaction(self):
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
