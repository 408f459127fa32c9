"""The queue above training: runs in SQLite, started as processes, followed, cancelled."""

from core.jobs.store import JobStore, Run, tick_from_env

__all__ = ["JobStore", "Run", "tick_from_env"]
