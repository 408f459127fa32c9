"""`llm-playground serve --workers 2`: two Streamlit workers behind nginx as one address, with websockets, sticky
sessions and one queue (the load test's client speaks Streamlit's protocol through the proxy)."""

import asyncio
import secrets
import time
import urllib.request

import pytest

websockets = pytest.importorskip("websockets")

from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from bench.load_test import Participant, problems  # noqa: E402
from core.jobs import JobStore  # noqa: E402
from playground.serve import COOKIE, find_nginx  # noqa: E402
from tests.support.server import running_proxy  # noqa: E402

IDENTITY = "llm_playground_key"  # the participant's cookie (playground.identity)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    if find_nginx() is None:
        pytest.skip("nginx is not installed (scripts/setup.sh --servers installs Debian's nginx-light as root)")
    shared = tmp_path_factory.mktemp("shared")
    with running_proxy(2, shared / "runs", shared / "serve.log") as (url, _):
        yield url, shared / "runs"


def worker_of(url: str, cookie: str = "") -> tuple[str, str]:
    """(the worker that answered, the cookie the proxy set) for one plain request."""
    request = urllib.request.Request(url + "/_stcore/health", headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        ours = [c for c in response.headers.get_all("Set-Cookie") or [] if c.startswith(f"{COOKIE}=")]
        return response.headers["X-Playground-Worker"], ours[0] if ours else ""


def test_the_proxy_sets_a_cookie_and_keeps_a_browser_on_its_worker(proxy):
    url, _ = proxy
    worker, cookie = worker_of(url)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    value = cookie.split(";")[0]
    assert {worker_of(url, value)[0] for _ in range(8)} == {worker}  # sticky
    assert worker_of(url, value)[1] == ""  # set once, not on every answer
    seen = {worker_of(url, f"{COOKIE}={secrets.token_hex(8)}")[0] for _ in range(24)}
    assert len(seen) == 2  # other browsers are spread over both workers


def pinned(url: str) -> dict[str, str]:
    """A worker cookie for each of the two workers."""
    found = {}
    while len(found) < 2:
        value = f"{COOKIE}={secrets.token_hex(8)}"
        found.setdefault(worker_of(url, value)[0], value)
    return found


async def session(url: str, cookies: str, key: str):
    connection = websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                    max_size=None, additional_headers={"Cookie": cookies}, open_timeout=120)
    ws = await connection
    return ws, Participant(ws, key)


def test_a_websocket_session_through_the_proxy_and_one_queue_for_both_workers(proxy):
    url, runs = proxy
    (a_worker, a_cookie), (b_worker, b_cookie) = pinned(url).items()
    link_key, cookie_key = secrets.token_hex(6), secrets.token_hex(16)  # who a participant is: ?me= or a cookie
    identity = f"{IDENTITY}={cookie_key}"

    async def visit():
        ws, me = await session(url, f"{a_cookie}; {identity}", link_key)
        async with ws:
            assert ws.response.headers["X-Playground-Worker"] == a_worker  # the websocket went where the cookie says
            tokens = await me.rerun("tokens")
            page = await me.rerun("training")
            start = next(e.button for e in page if e.WhichOneof("type") == "button" and "training.start" in e.button.id)
            clicked = await me.rerun("training", WidgetState(id=start.id, trigger_value=True))
            assert not problems(clicked), problems(clicked)
        ws, other = await session(url, f"{b_cookie}; {identity}", link_key)
        async with ws:
            assert ws.response.headers["X-Playground-Worker"] == b_worker
            return tokens, await other.rerun("training")

    tokens, seen_from_b = asyncio.run(visit())
    assert any(e.WhichOneof("type") == "heading" and e.heading.body == "Tokens" for e in tokens)
    store = JobStore(runs)
    started = store.visible("", instructor=True)
    assert len(started) == 1 and started[0].owner in (link_key, cookie_key)  # started through worker A, one queue
    assert started[0].id in str(seen_from_b)  # and listed by worker B for the same participant
    store.cancel(started[0].id, "", instructor=True)
    deadline = time.time() + 180
    while store.get(started[0].id).state in ("queued", "running"):  # stopped before its folder goes with tmp_path
        assert time.time() < deadline, "the run did not stop after its cancel"
        store.tick()
        time.sleep(0.5)
