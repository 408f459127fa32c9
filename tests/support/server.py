"""Start the app in a subprocess (the browser test, the load test, the screenshot script), or several workers behind
the proxy (`llm-playground serve`: the proxy test, the load test's --workers), and drive Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from playground.loaders import MODEL_LOADED  # noqa: F401  (the load test counts it in the server log)

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(port: int | None = None, log: Path | None = None, env: dict | None = None):
    """`streamlit run playground/app.py` on 127.0.0.1; yields (url, process) once /_stcore/health answers."""
    port = port or free_port()
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)  # .pytest_cache may not exist yet on a fresh clone
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "playground" / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
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
            raise RuntimeError("streamlit did not become healthy in 60 s")
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if log:
            out.close()


@contextmanager
def running_proxy(workers: int, runs: Path, log: Path, timeout_s: float = 240):
    """`python -m playground.serve --workers N` on 127.0.0.1 with its own runs folder, the workers' output in `log`;
    yields (url of the proxy, the serve process) once it says it is up."""
    port = free_port()
    log.write_text("")
    with open(log, "a") as out:  # appended to by serve and by its workers alike
        proc = subprocess.Popen([sys.executable, "-m", "playground.serve", "--workers", str(workers), "--port", str(port),
                                 "--address", "127.0.0.1", "--log", str(log)], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "LLM_PLAYGROUND_RUNS": str(runs), "PYTHONUNBUFFERED": "1"})
        try:
            deadline = time.time() + timeout_s
            while "LLM Playground:" not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"serve did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.5)
            yield f"http://127.0.0.1:{port}", proc
        finally:
            proc.terminate()
            proc.wait(timeout=90)


def worker_pids(serve_pid: int) -> list[int]:
    """The Streamlit workers a serve process runs now (a restarted one has a new pid)."""
    pids = []
    try:
        children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split()
    except OSError:
        return pids
    for pid in children:
        try:
            if b"streamlit" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(int(pid))
        except OSError:
            continue
    return pids


CHROMIUM = "/usr/bin/chromium"  # Debian's package; never a browser downloaded by a tool
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


SCRIPT_STATE = "() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"


def wait_until_idle(page, timeout_s: float = 240, quiet_s: float = 1.0) -> None:
    """Wait (Playwright page) until the page has a title and Streamlit's script has finished a moment ago.

    The app root's data-test-script-state says whether the script runs; the running indicator
    (stStatusWidget) appears only after a delay, so a page that is still running can look idle without it."""
    deadline = time.time() + timeout_s
    # Every page opens with a title; before the script's first message the app is an empty shell.
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout_s * 1000)
    quiet_since = None
    while time.time() < deadline:
        if (page.evaluate(SCRIPT_STATE) != "notRunning" or page.query_selector("[data-testid='stStatusWidget']")
                or page.query_selector("[data-testid='stSkeleton']")):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > quiet_s:
            return
        time.sleep(0.2)
    raise TimeoutError("the page kept running for too long")
