"""The lecture-hall load test's client answers a poll correctly: a handful of participants through Streamlit's
protocol, every answer stored once with the guess sent (the timings come from `python -m bench.hall_load`, never
from a timed test)."""

import pytest

pytest.importorskip("websockets")

from bench.hall_load import guess_for, run  # noqa: E402
from tests.support.server import running_app  # noqa: E402


def test_a_handful_of_participants_answer_a_poll(tmp_path):
    runs = tmp_path / "runs"
    with running_app(log=tmp_path / "server.log", env={"LLM_PLAYGROUND_RUNS": str(runs)}) as (url, _):
        result = run(participants=6, window_s=1.0, runs=runs, url=url)
    assert result["errors"] == []
    assert result["stored"] == result["distinct"] == 6  # one answer per participant, none lost, none twice
    assert result["guesses"] == sorted(guess_for(i) for i in range(6))
    assert result["by_kind"]["answer"][0] == 6
