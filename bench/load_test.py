"""Load test: N participants use the pages at once for D seconds against one server.

    python -m bench.load_test --sessions 30 --seconds 180
    python -m bench.load_test --sessions 60 --think 0 0 --workers 2   # saturation, 2 workers behind nginx
    python -m bench.load_test --url http://lecture-hall:8501          # a server or proxy already running

`--workers N` starts `llm-playground serve --workers N` (N Streamlit processes behind nginx, sticky sessions)
instead of one Streamlit process, and adds up the memory of its workers; `--url` targets any running address
(one server or the proxy; `--pid`, repeatable, names the processes whose memory to report). `--think 0 0` is
saturation: every participant asks again the moment its answer is there, so actions/s is what the server can do.

Each participant is one Streamlit session driven through Streamlit's own websocket protocol (what the browser
sends: a rerun request with the page and the widget values; what it gets back: the page's elements and
"script finished"), so the figures measure the server, not 30 browsers rendering Plotly on the same cores.
A participant (half of them in German) loops: open a random page, type a new text into its first text field,
move one slider, then think for a moment. Latency is the time from sending a request to the script finishing. Errors are
exceptions or error boxes shown, a failed run, a dropped connection or a request that takes over 120 s.
Reports p50/p95 latency, the server's memory (RSS) after one participant and at the peak, and how often the
server loaded a model (once: every session shares it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.Slider_pb2 import Slider
from streamlit.proto.WidgetStates_pb2 import WidgetState

from playground.serve import COOKIE
from tests.support.server import MODEL_LOADED, running_app, running_proxy, worker_pids

PAGES = ["tokens", "embeddings", "attention", "sampling", "generation", "training", "finetuning", "anatomy", "tour"]
TEXTS = ["To be, or not to be, that is the question", "Habe nun, ach! Philosophie, Juristerei und Medizin",
         "The quick brown fox jumps over the lazy dog", "ROMEO: But soft, what light through yonder window breaks"]
TIMEOUT_S = 120


@dataclass
class Figures:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"open page": [], "new text": [], "slider": []})
    errors: list[str] = field(default_factory=list)
    by_page: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, page: str, seconds: float) -> None:
        self.latencies[kind].append(seconds)
        self.by_page.setdefault(page, []).append(seconds)

    def all(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]


class Participant:
    """One browser tab, as the server sees it: a websocket session that asks for reruns."""

    def __init__(self, ws, key: str, lang: str = "en"):
        self.ws, self.query = ws, f"me={key}&lang={lang}"
        self.page_hashes: dict[str, str] = {}  # url path -> page script hash, from the app's navigation message
        self.widgets: dict[str, WidgetState] = {}

    async def rerun(self, page: str, changed: WidgetState | None = None):
        """Ask for a run of `page` (with one widget changed); returns the new elements once the script finished."""
        if changed is not None:
            self.widgets[changed.id] = changed
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string, state.page_name = self.query, page
        state.page_script_hash = self.page_hashes.get(page, "")
        state.widget_states.widgets.extend(self.widgets.values())
        await self.ws.send(msg.SerializeToString())
        elements = []
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
            kind = reply.WhichOneof("type")
            if kind == "navigation":
                self.page_hashes = {p.url_pathname: p.page_script_hash for p in reply.navigation.app_pages}
            elif kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                elements.append(reply.delta.new_element)
            elif kind == "script_finished" and reply.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                if reply.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise RuntimeError("the page did not compile")
                return elements


def problems(elements) -> list[str]:
    found = []
    for e in elements:
        if e.WhichOneof("type") == "exception":
            found.append(f"exception {e.exception.type}: {e.exception.message[:80]}")
        elif e.WhichOneof("type") == "alert" and e.alert.format == Alert.ERROR:
            found.append(f"error box: {e.alert.body[:80]}")
    return found


def main_widget(elements, kind: str):
    """The first widget of that kind on the page itself (the sidebar's keys start with "app.")."""
    for e in elements:
        if e.WhichOneof("type") == kind and "-app." not in getattr(e, kind).id:
            return getattr(e, kind)
    return None


def moved(slider, rng: random.Random) -> WidgetState | None:
    if slider is None or slider.type != Slider.SLIDER or slider.data_type not in (Slider.INT, Slider.FLOAT):
        return None
    steps = int(round((slider.max - slider.min) / slider.step)) if slider.step else 0
    values = [slider.min + rng.randint(0, steps) * slider.step for _ in slider.default]
    return WidgetState(id=slider.id, double_array_value={"data": sorted(values)})


async def participant(url: str, index: int, seconds: float, think: tuple[float, float], figures: Figures,
                      cookie: str = "") -> str | None:
    """One participant's visit; the worker that served it (the proxy's X-Playground-Worker), None without a proxy."""
    rng = random.Random(index)
    end = time.time() + seconds
    uri = url.replace("http", "ws", 1) + "/_stcore/stream"
    async with websockets.connect(uri, subprotocols=["streamlit"], max_size=None, open_timeout=TIMEOUT_S,
                                  additional_headers={"Cookie": cookie} if cookie else None) as ws:
        worker = ws.response.headers.get("X-Playground-Worker")
        me = Participant(ws, f"load-test-{index}", "de" if index % 2 else "en")  # half the room in German
        while time.time() < end:
            page = rng.choice(PAGES)
            try:
                start = time.perf_counter()
                elements = await me.rerun(page)
                figures.add("open page", page, time.perf_counter() - start)
                figures.errors += [f"{page}: {p}" for p in problems(elements)]
                text = main_widget(elements, "text_area") or main_widget(elements, "text_input")
                for what, change in (("new text", text and WidgetState(id=text.id, string_value=rng.choice(TEXTS))),
                                     ("slider", moved(main_widget(elements, "slider"), rng))):
                    if change is None:
                        continue
                    await asyncio.sleep(rng.uniform(*think))
                    start = time.perf_counter()
                    elements = await me.rerun(page, change)
                    figures.add(what, page, time.perf_counter() - start)
                    figures.errors += [f"{page} after {what}: {p}" for p in problems(elements)]
            except (TimeoutError, RuntimeError, websockets.ConnectionClosed) as e:
                figures.errors.append(f"{page}: {e.__class__.__name__} {e}")
                return worker
            await asyncio.sleep(rng.uniform(*think))
    return worker


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes together (one that has gone counts nothing)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next((int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS")), 0.0)
        except OSError:
            continue
    return total


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if len(values) > 1 else (values or [0.0])[0]


async def load(url: str, pids, sessions: int, seconds: float, think: tuple[float, float], workers: int = 1) -> dict:
    """`pids()`: the server processes whose memory is reported (they may change: a worker started again)."""
    figures, memory = Figures(), []
    seen = set()  # one visit to each worker loads its model, as the first participant there would
    for i in range(1, 20 * workers + 1):
        seen.add(await participant(url, -i, 0.1, (0, 0), Figures(), f"{COOKIE}={secrets.token_hex(8)}"))
        if len(seen) >= workers:
            break
    after_one = rss_mb(pids())

    async def watch():
        while True:
            memory.append(rss_mb(pids()))
            await asyncio.sleep(1)

    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    await asyncio.gather(*(participant(url, i, seconds, think, figures) for i in range(sessions)))
    watcher.cancel()
    every = figures.all()
    elapsed = time.perf_counter() - started
    return {"sessions": sessions, "seconds": round(elapsed), "cores": os.cpu_count(), "requests": len(every),
            "per_second": len(every) / elapsed, "errors": figures.errors, "p50_s": statistics.median(every) if every else 0.0,
            "p95_s": quantile(every, 0.95), "rss_one_mb": after_one, "rss_peak_mb": max(memory, default=after_one),
            "by_kind": {k: (len(v), statistics.median(v) if v else 0.0, quantile(v, 0.95))
                        for k, v in figures.latencies.items()},
            "by_page": {k: statistics.median(v) for k, v in sorted(figures.by_page.items())}}


def report(r: dict, think: tuple[float, float]) -> str:
    lines = [f"## Load test: {r['sessions']} participants for {r['seconds']} s on {r['cores']} cores against "
             f"{r['server']} (think time {think[0]:g}–{think[1]:g} s, Streamlit protocol, no browsers)",
             "| figure | value |", "|---|---|",
             f"| requests answered | {r['requests']} |", f"| actions per second | {r['per_second']:.1f} |",
             f"| errors | {len(r['errors'])} {sorted(set(r['errors']))[:3]} |",
             f"| p50 latency | {r['p50_s']:.2f} s |", f"| p95 latency | {r['p95_s']:.2f} s |"]
    lines += [f"| {kind}: n / p50 / p95 | {n} / {p50:.2f} s / {p95:.2f} s |"
              for kind, (n, p50, p95) in r["by_kind"].items()]
    lines.append("| p50 by page | " + ", ".join(f"{k} {v:.2f} s" for k, v in r["by_page"].items()) + " |")
    if "model_loads" in r:
        lines.append(f"| model loads in the server (all sessions) | {r['model_loads']} |")
    if r["rss_peak_mb"]:
        lines += [f"| server memory (RSS, all workers) with one participant | {r['rss_one_mb']:.0f} MB |",
                  f"| server memory (RSS, all workers) peak | {r['rss_peak_mb']:.0f} MB |"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 4.0), metavar=("MIN", "MAX"),
                        help="seconds a participant waits between actions (uniform)")
    parser.add_argument("--url", help="test a server (or proxy) that is already running instead of starting one")
    parser.add_argument("--pid", type=int, action="append", default=[],
                        help="with --url: a server process whose memory to report (repeat for each worker)")
    parser.add_argument("--workers", type=int, default=0,
                        help="start N Streamlit workers behind nginx (llm-playground serve) instead of one server")
    args = parser.parse_args()
    think = tuple(args.think)
    if args.url:
        result = asyncio.run(load(args.url, lambda: args.pid, args.sessions, args.seconds, think))
        result["server"] = args.url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "server.log"
            if args.workers:
                with running_proxy(args.workers, Path(tmp) / "runs", log) as (url, proc):
                    result = asyncio.run(load(url, lambda: worker_pids(proc.pid), args.sessions, args.seconds, think,
                                              args.workers))
                result["server"] = f"{args.workers} workers behind nginx"
            else:
                with running_app(log=log) as (url, proc):
                    result = asyncio.run(load(url, lambda: [proc.pid], args.sessions, args.seconds, think))
                result["server"] = "one Streamlit process"
            result["model_loads"] = log.read_text(errors="replace").count(MODEL_LOADED)
    print(report(result, think))


if __name__ == "__main__":
    main()
