"""A small tmpfs for full-disk and read-only faults (root only: the test is skipped with that reason otherwise)."""

import os
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(size: str):
    """A tmpfs of this size at a fresh folder; skips the test where it cannot be mounted."""
    where = Path("/tmp") / f"llm-playground-fault-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                                                   capture_output=True).returncode == 0
    if not mounted:
        where.rmdir()
        pytest.skip("mounting a small tmpfs needs root: the full-disk and read-only tests run where that is possible")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
        shutil.rmtree(where, ignore_errors=True)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)


def fill(where: Path) -> None:
    """Write until the disk is full."""
    with open(where / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 2**20)
                f.flush()
        except OSError:
            pass
