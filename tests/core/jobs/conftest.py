"""Fixtures of the job queue's tests."""

import pytest

from core.jobs.store import JobStore


@pytest.fixture
def store(tmp_path):
    """A queue of its own with one CPU slot and two runs per participant."""
    return JobStore(tmp_path / "runs", cpu_slots=1, per_user_limit=2)
