"""Load test: N concurrent browser sessions use the pages for D seconds against one server.

    python -m bench.load_test --sessions 30 --seconds 180

Starts the app, then headless Chromium (Debian's) with one browser context per participant. Each participant
loops: open a page, type a new text into its first text field, wait until the app is idle. Reports errors
(exceptions shown on a page), p50/p95 interaction latency and the server's memory (RSS).
"""

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["tokens", "embeddings", "attention", "sampling", "generation", "anatomy", "tour"]
TEXTS = ["To be, or not to be", "Habe nun, ach! Philosophie", "The quick brown fox", "ROMEO: what light"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wait_idle(page, timeout=120):
    deadline = time.time() + timeout
    quiet = None
    while time.time() < deadline:
        if await page.query_selector("[data-testid='stStatusWidget']"):
            quiet = None
        elif quiet is None:
            quiet = time.time()
        elif time.time() - quiet > 0.3:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("page stayed busy")


async def participant(browser, url, seconds, latencies, errors, rng):
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    end = time.time() + seconds
    while time.time() < end:
        name = rng.choice(PAGES)
        try:
            start = time.perf_counter()
            await page.goto(f"{url}/{name}", wait_until="domcontentloaded")
            await page.wait_for_selector("[data-testid='stMain'] h1", timeout=120_000)
            await wait_idle(page)
            latencies.append(time.perf_counter() - start)
            field = await page.query_selector("[data-testid='stMain'] textarea, [data-testid='stMain'] input[type=text]")
            if field:
                start = time.perf_counter()
                await field.fill(rng.choice(TEXTS))
                await field.press("Control+Enter" if await field.evaluate("e => e.tagName") == "TEXTAREA" else "Enter")
                await asyncio.sleep(0.2)
                await wait_idle(page)
                latencies.append(time.perf_counter() - start)
            if await page.query_selector("[data-testid='stException']"):
                errors.append(name)
        except Exception as e:  # a timeout or a crash is an error of the load test, not a reason to stop
            errors.append(f"{name}: {e.__class__.__name__}")
    await context.close()


async def run(sessions: int, seconds: int, port: int) -> None:
    from playwright.async_api import async_playwright

    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "playground" / "app.py"),
                               "--server.port", str(port), "--server.headless", "true"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        latencies, errors, memory = [], [], []
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)

            async def watch():
                while True:
                    memory.append(rss_mb(server.pid))
                    await asyncio.sleep(2)
            watcher = asyncio.create_task(watch())
            await asyncio.gather(*(participant(browser, url, seconds, latencies, errors, random.Random(i))
                                   for i in range(sessions)))
            watcher.cancel()
            await browser.close()
        q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else [0] * 19
        print(f"\n## Load test: {sessions} sessions for {seconds} s, {os.cpu_count()} cores")
        print("| figure | value |\n|---|---|")
        print(f"| interactions | {len(latencies)} |\n| errors | {len(errors)} {sorted(set(errors))[:5]} |")
        print(f"| p50 latency | {statistics.median(latencies):.2f} s |\n| p95 latency | {q[18]:.2f} s |")
        print(f"| server memory (RSS) peak | {max(memory):.0f} MB |\n| server memory at the end | {memory[-1]:.0f} MB |")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--port", type=int, default=8611)
    args = parser.parse_args()
    asyncio.run(run(args.sessions, args.seconds, args.port))
