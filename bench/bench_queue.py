"""The workshop queue: wall time for N queued tiny runs (the training page's tiny preset) with 1 vs 8 runs per GPU.

    python -m bench.bench_queue --runs 30 --slots 1 8                            # a GPU machine: every GPU it has
    python -m bench.bench_queue --runs 4 --slots 1 2 --device cpu --steps 30     # the CPU's slots instead

Each set-up is a fresh queue in a temporary folder, and the runs go through it as participants' do (JobStore.submit,
placement by core.jobs.devices, the local executor, each process's own tick when it ends). Reported per set-up:
wall time from the first submit to the last run's end, the most runs at once, runs finished per minute, and runs
that failed (with the first reason). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from bench.common import machine, table
from core.jobs.store import JobStore, Limits
from core.training.pretrain import TrainConfig

TINY = dict(n_layer=2, n_head=2, n_embd=64, context_length=64, batch_size=16)  # pages/training.py's "tiny" preset


def queue_wall_time(runs: int, slots: int, device: str, steps: int, timeout_s: float) -> dict:
    """Submit `runs` tiny runs at once and tick until every one has ended."""
    with tempfile.TemporaryDirectory() as tmp:
        cpu = device == "cpu"
        store = JobStore(Path(tmp) / "runs", cpu_slots=slots if cpu else 1, gpu_slots=None if cpu else slots,
                         per_user_limit=runs, limits=Limits(max_queued=max(60, runs)))
        started = time.perf_counter()
        ids = [store.submit(TrainConfig(corpus="tinyshakespeare", steps=steps, device=device, log_interval=10,
                                        eval_interval=max(1, steps // 2), eval_batches=4, **TINY),
                            owner=f"participant-{i}").id for i in range(runs)]
        most = 0
        while time.perf_counter() - started < timeout_s:
            store.tick()
            states = [store.get(i).state for i in ids]
            most = max(most, states.count("running"))
            if all(s not in ("queued", "running") for s in states):
                break
            time.sleep(0.5)
        wall = time.perf_counter() - started
        ended = [store.get(i) for i in ids]
        for run in ended:  # a set-up past its timeout: stop what is left before the folder goes
            if run.state in ("queued", "running"):
                store.cancel(run.id, "", instructor=True)
        failed = [r for r in ended if r.state == "failed"]
        return {"wall_s": wall, "most": most, "finished": sum(r.state == "finished" for r in ended),
                "failed": len(failed), "reason": str(failed[0].reason)[:80] if failed else "",
                "timed_out": any(r.state in ("queued", "running") for r in ended)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 8], help="runs per GPU (or on the CPU) to compare")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--steps", type=int, default=300, help="steps per run (the page's default)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds at most per set-up")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run it on a GPU machine, or compare the CPU's slots with --device cpu")
    if args.device == "cpu":
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # each run one thread, so slots compare like cores
    rows = []
    for slots in args.slots:
        r = queue_wall_time(args.runs, slots, args.device, args.steps, args.timeout)
        rows.append([slots, f"{r['wall_s']:.0f} s" + (" (timed out)" if r["timed_out"] else ""), r["most"],
                     f"{60 * r['finished'] / r['wall_s']:.1f}", f"{r['failed']} {r['reason']}".strip()])
    gpus = torch.cuda.device_count() if args.device == "cuda" else 0
    where = f"{gpus} GPU(s)" if gpus else "the CPU"
    table(f"{args.runs} queued tiny runs ({args.steps} steps each) on {where}, {machine()}",
          ["slots", "wall time", "most at once", "runs/min", "failed"], rows)


if __name__ == "__main__":
    main()
