"""One real-browser smoke test: headless Chromium opens every page and fails on any exception shown.

Starts the app with `streamlit run` on a free port, waits for /_stcore/health, then for each page waits
until Streamlit's running indicator is gone. Screenshots land in .pytest_cache/screenshots/.
Skips (and says why) where Debian's chromium or Playwright is missing.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from playground.navigation import PAGES

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / ".pytest_cache" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    log = open(ROOT / ".pytest_cache" / "streamlit-browser-test.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "playground" / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not become healthy in 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def wait_until_idle(page, timeout_s: float = 90) -> None:
    """Streamlit shows a status widget while the script runs; wait until it has been gone for a moment."""
    deadline = time.time() + timeout_s
    # Every page opens with a title; before the script's first message the app is an empty shell.
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout_s * 1000)
    quiet_since = None
    while time.time() < deadline:
        running = page.query_selector("[data-testid='stStatusWidget']")
        skeleton = page.query_selector("[data-testid='stSkeleton']")
        if running or skeleton:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 1.0:
            return
        time.sleep(0.2)
    raise AssertionError("the page kept running for too long")


def test_every_page_in_chromium(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    problems = []
    for _, title, _, url_path in PAGES:
        page.goto(f"{server}/{'' if url_path == 'home' else url_path}", wait_until="domcontentloaded")
        wait_until_idle(page)
        page.screenshot(path=str(SHOTS / f"{url_path}.png"), full_page=True)
        shown = page.query_selector_all("[data-testid='stException']")
        if shown:
            problems.append(f"{title}: {shown[0].inner_text()[:300]}")
        if "Page not found" in page.inner_text("body"):
            problems.append(f"{title}: page not found")
        if not page.query_selector("[data-testid='stMain']"):
            problems.append(f"{title}: no main area rendered")
    # Presenter mode at a projector's 1280×720, for the screenshot of the back-row view.
    page.goto(f"{server}/tour?presenter=1", wait_until="domcontentloaded")
    wait_until_idle(page)
    page.screenshot(path=str(SHOTS / "tour-presenter.png"))
    context.close()
    assert not problems, problems
    assert not errors, errors
    # Offline, proven: nothing leaves the server (no CDN, no fonts, no telemetry).
    outside = [u for u in requests if not u.startswith((server, "data:", "blob:", "about:"))]
    assert not outside, sorted(set(outside))[:10]
