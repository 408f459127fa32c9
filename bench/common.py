"""Timing helpers for the benchmarks: median of repeated runs, printed as a table."""

import os
import platform
import statistics
import time

import torch


def timeit(fn, repeat: int = 7, warmup: int = 2) -> float:
    """Median seconds of fn() over repeat runs, after warmup runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timeit_together(fns: list, repeat: int = 3, warmup: int = 1) -> list[float]:
    """Median seconds of each fn(), measured in turns (one run of each per round), so that a shared machine's
    changing load falls on all of them alike instead of on whichever ran last."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def machine() -> str:
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads{gpu}")


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n## {title}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
