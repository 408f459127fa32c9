"""Load test for a lecture-hall poll: N participants answer one "guess the next token" poll within W seconds.

    python -m bench.hall_load                          # 100 participants within 10 s (the issue's figure)
    python -m bench.hall_load --participants 20        # a smoke run, well under a minute

Starts one Streamlit server with its own runs folder, opens a poll there (straight into the hall's SQLite, as the
instructor's button does), then lets every participant arrive at a random moment within the window: open the poll
page, type a guess, press "Send". Each participant is one Streamlit session driven through Streamlit's websocket
protocol by bench.load_test's `Participant` (no browsers, so the figures measure the server). Half of them use the
German page; each has their own browser key, as a phone would. Latency is the time from sending a request to the
script finishing. Errors are exceptions or error boxes shown, a missing confirmation of the guess, a dropped
connection or a request over 120 s. At the end the poll's stored answers are counted: each participant exactly once,
with the guess they sent.

Left out: the instructor's live results view refreshing every second during the poll (one session; the lecture
hall's browser test covers it), and several workers behind nginx (bench.load_test --workers covers that setup).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.WidgetStates_pb2 import WidgetState

from bench.load_test import TIMEOUT_S, Participant, main_widget, problems, quantile
from core.model.checkpoints import DEFAULT_MODEL
from playground.hall import Hall
from tests.support.server import running_app

PROMPT = "ROMEO:\nI love thee, my"
GUESSES = ["lord", "love", "dear", "heart", "sweet", "Juliet", "life", "soul", "Liebe", "Herz"]


@dataclass
class Figures:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"open page": [], "answer": []})
    errors: list[str] = field(default_factory=list)
    sent: dict[int, str] = field(default_factory=dict)  # participant -> the guess its confirmation showed


def guess_for(index: int) -> str:
    return f"{GUESSES[index % len(GUESSES)]}-{index}"  # each one different (and no space, shown as ·)


def submit_button(elements):
    return next((e.button for e in elements if e.WhichOneof("type") == "button" and e.button.is_form_submitter),
                None)


async def participant(url: str, index: int, arrive_s: float, figures: Figures) -> None:
    await asyncio.sleep(arrive_s)
    uri = url.replace("http", "ws", 1) + "/_stcore/stream"
    try:
        async with websockets.connect(uri, subprotocols=["streamlit"], max_size=None, open_timeout=TIMEOUT_S) as ws:
            me = Participant(ws, f"hall-load-{index}", "de" if index % 2 else "en")
            start = time.perf_counter()
            elements = await me.rerun("poll")
            figures.latencies["open page"].append(time.perf_counter() - start)
            figures.errors += [f"{index} open: {p}" for p in problems(elements)]
            box, button = main_widget(elements, "text_input"), submit_button(elements)
            if box is None or button is None:
                figures.errors.append(f"{index}: no answer box on the poll page")
                return
            guess = guess_for(index)
            me.widgets[box.id] = WidgetState(id=box.id, string_value=guess)
            start = time.perf_counter()
            elements = await me.rerun("poll", WidgetState(id=button.id, trigger_value=True))
            figures.latencies["answer"].append(time.perf_counter() - start)
            figures.errors += [f"{index} answer: {p}" for p in problems(elements)]
            if any(e.WhichOneof("type") == "alert" and e.alert.format == Alert.SUCCESS and guess in e.alert.body
                   for e in elements):
                figures.sent[index] = guess
            else:
                figures.errors.append(f"{index}: the page did not confirm the guess")
    except (TimeoutError, RuntimeError, OSError, websockets.ConnectionClosed) as e:
        figures.errors.append(f"{index}: {e.__class__.__name__} {e}")


async def answer_poll(url: str, participants: int, window_s: float, seed: int = 0) -> tuple[Figures, float]:
    rng = random.Random(seed)
    figures = Figures()
    started = time.perf_counter()
    await asyncio.gather(*(participant(url, i, rng.uniform(0, window_s), figures) for i in range(participants)))
    return figures, time.perf_counter() - started


def run(participants: int, window_s: float, runs: Path, url: str) -> dict:
    """Opens a poll in `runs` (the server's runs folder), lets the participants answer it, counts what was stored."""
    hall = Hall(runs)
    hall.open_poll(PROMPT, DEFAULT_MODEL, space=True)
    asyncio.run(answer_poll(url, 1, 0, seed=-1))  # one visit first: the server's first page loads the model
    poll = hall.open_poll(PROMPT, DEFAULT_MODEL, space=True)  # a fresh poll for the room (the first closes)
    figures, elapsed = asyncio.run(answer_poll(url, participants, window_s))
    stored = hall.answers(poll.id)
    by_guess = {a.guess: a for a in stored}
    every = [x for values in figures.latencies.values() for x in values]
    return {"participants": participants, "window_s": window_s, "seconds": elapsed, "cores": os.cpu_count(),
            "errors": figures.errors, "stored": len(stored), "distinct": len({a.participant for a in stored}),
            "as_sent": sum(g in by_guess for g in figures.sent.values()), "guesses": sorted(by_guess),
            "p50_s": statistics.median(every) if every else 0.0, "p95_s": quantile(every, 0.95),
            "by_kind": {k: (len(v), statistics.median(v) if v else 0.0, quantile(v, 0.95))
                        for k, v in figures.latencies.items()}}


def report(r: dict) -> str:
    lines = [f"## Lecture-hall poll: {r['participants']} participants answer within {r['window_s']:g} s, one "
             f"Streamlit process on {r['cores']} cores (Streamlit protocol, no browsers); all done after "
             f"{r['seconds']:.1f} s", "| figure | value |", "|---|---|",
             f"| errors | {len(r['errors'])} {sorted(set(r['errors']))[:3]} |",
             f"| answers stored / participants | {r['stored']} / {r['participants']} "
             f"({r['distinct']} different participants, {r['as_sent']} with the guess sent) |",
             f"| p50 latency | {r['p50_s']:.2f} s |", f"| p95 latency | {r['p95_s']:.2f} s |"]
    lines += [f"| {kind}: n / p50 / p95 | {n} / {p50:.2f} s / {p95:.2f} s |"
              for kind, (n, p50, p95) in r["by_kind"].items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10, help="every participant arrives within this window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        with running_app(log=Path(tmp) / "server.log", env={"LLM_PLAYGROUND_RUNS": str(runs)}) as (url, _):
            result = run(args.participants, args.seconds, runs, url)
    print(report(result))


if __name__ == "__main__":
    main()
