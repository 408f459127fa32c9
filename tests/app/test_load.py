"""The load test's client speaks Streamlit's protocol correctly (a short run here; the figures come from
`python -m bench.load_test`, never from a timed test)."""

import asyncio

import pytest

websockets = pytest.importorskip("websockets")

from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from bench.load_test import Participant, load, main_widget  # noqa: E402
from tests.support.server import MODEL_LOADED, running_app  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_app(log=log) as (url, proc):
        yield url, proc.pid, log


def test_a_participant_opens_a_page_and_types(server):
    url, _, _ = server

    async def visit():
        async with websockets.connect(url.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None) as ws:
            me = Participant(ws, "test-participant", "de")
            first = await me.rerun("tokens")
            field = main_widget(first, "text_area")
            after = await me.rerun("tokens", WidgetState(id=field.id, string_value="Habe nun, ach! Philosophie"))
            return first, after

    first, after = asyncio.run(visit())
    assert any(e.WhichOneof("type") == "heading" for e in first)
    assert any(e.WhichOneof("type") == "heading" and e.heading.body == "Tokens" for e in first)
    assert any("Ein Sprachmodell sieht nie Buchstaben" in str(e) for e in first)  # the German page
    assert "Philosophie" not in str(first) and "Philosophie" in str(after)  # the page ran again on the new text


def test_short_load_run_has_no_errors(server):
    url, pid, log = server
    result = asyncio.run(load(url, lambda: [pid], sessions=3, seconds=6, think=(0.0, 0.2)))
    assert result["errors"] == [] and result["requests"] >= 4
    assert result["rss_peak_mb"] > 0
    loads = [line.split()[3] for line in log.read_text().splitlines() if line.startswith(MODEL_LOADED)]
    assert loads and len(loads) == len(set(loads))  # every session shares its language's one model, loaded once
