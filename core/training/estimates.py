"""Before a run starts: how big, how much memory and disk, how long — and, while it runs, smoothing and ETA.

Memory is an estimate, not a measurement: fp32 weights, gradients and AdamW's two moments (16 bytes per
parameter) plus activations (the per-layer count of Korthikanti et al., 2022, at 4 bytes) plus the logits
and their gradient. A run whose estimate exceeds the device's memory is refused before it starts.

Disk is what the run will write at most: checkpoint/ (fp32 weights + AdamW's two moments) twice while a new one
is swapped in, best/ twice likewise, and the metrics and log lines.

Time is measured, never in the calling process: `measure_in_subprocess` builds the model and times a few steps in a
short-lived `python -m core.training.estimates` with a memory cap (RLIMIT_AS, on the CPU) and a timeout, so a server
that asks for the GPT-2 124M shape keeps its own memory.

    >>> ema([1.0, 3.0], 0.5)
    [1.0, 2.0]

Left out: activation checkpointing and mixed precision in the memory estimate (both only lower it).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time

import torch

from core.assets import REPO
from core.errors import PlaygroundError
from core.model.families import build, config_from_dict, count_parameters
from core.model.limits import memory_bytes
from core.training.common import child_env

MEASURE_TIMEOUT_S = 90
PROCESS_BYTES = 1536 * 2**20  # address space of a Python process with torch loaded, before the model
_measuring = threading.BoundedSemaphore(1)  # one measurement at a time per server process


def memory_estimate_bytes(config, batch_size: int) -> int:
    """For a GPTConfig or a LlamaConfig (whose SwiGLU keeps four d_mlp-wide tensors instead of GELU's two 4h-wide
    ones; its smaller keys and values under grouped-query attention are not subtracted)."""
    params = count_parameters(config)
    s, b, h, a, L = config.context_length, batch_size, config.n_embd, config.n_head, config.n_layer
    mlp = 3 + 8 * config.d_mlp / h if config.arch == "llama" else 19  # the paper's 19 = 3 + 2 tensors x 4h x 2 bytes
    activations = L * s * b * h * (15 + mlp + 5 * a * s / h) * 2  # the paper counts 16-bit values; we train in fp32
    logits = 2 * b * s * config.vocab_size * 4
    return int(16 * params + activations + logits)


def device_memory_bytes(device: str | torch.device) -> int:
    """All memory of the device a run would use: the GPU's own, else the machine's."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.mem_get_info(device)[1]
    return memory_bytes()


def check_memory(config, batch_size: int, device: str | torch.device) -> int:
    """The estimate, or a PlaygroundError when it exceeds the device's memory."""
    need, have = memory_estimate_bytes(config, batch_size), device_memory_bytes(device)
    if need > have:
        raise PlaygroundError(
            "This run needs about {need:.1f} GiB of memory, more than the {have:.1f} GiB of this machine's {device}: "
            "make the batch, the context or the model smaller.",
            need=need / 2**30, have=have / 2**30, device=torch.device(device).type.upper())
    return need


def disk_estimate_bytes(params: int, steps: int, log_interval: int, eval_interval: int, sample_tokens: int = 60,
                        checkpoint: bool = True, save_bytes: int = 4) -> int:
    """The most a run writes: checkpoint/ (fp32 weights + two AdamW moments) and best/ (weights at save_bytes
    each), each twice while a new copy is swapped in, plus metrics and log lines."""
    folders = 2 * (12 * params if checkpoint else 0) + 2 * save_bytes * params
    lines = math.ceil(steps / max(1, log_interval)) * 400 + math.ceil(steps / max(1, eval_interval)) * (
        8 * sample_tokens + 400)
    return folders + lines + 64 * 1024


def measure_step_seconds(config, batch_size: int, device: str, steps: int = 3) -> float:
    """Seconds per training step, measured on random tokens (the first step, a warm-up, is not counted).
    Builds the model here: call it through measure_in_subprocess from anything that must stay light."""
    model = build(config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randint(0, config.vocab_size, (batch_size, config.context_length), device=device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sum(times[1:]) / max(1, len(times) - 1)


def measure_in_subprocess(config, batch_size: int, device: str, timeout_s: float = MEASURE_TIMEOUT_S) -> float:
    """measure_step_seconds in a short-lived process with a memory cap and a timeout; PlaygroundError when the
    estimate does not fit, the cap or the timeout is hit, or another measurement is running."""
    need = check_memory(config, batch_size, device)
    # CUDA maps far more address space than it uses: the cap holds on the CPU only. The child sets it on itself
    # before torch loads (a preexec_fn is not safe in a server with threads).
    cap = min(memory_bytes(), int(need * 1.5) + PROCESS_BYTES) if not device.startswith("cuda") else 0
    bootstrap = ("import resource, runpy, sys\n"
                 "cap = int(sys.argv[1])\n"
                 "hard = resource.getrlimit(resource.RLIMIT_AS)[1]\n"
                 "if cap: resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))\n"
                 "sys.argv = sys.argv[1:]\n"
                 "runpy.run_module('core.training.estimates', run_name='__main__')")
    if not _measuring.acquire(timeout=5):
        raise PlaygroundError("Another measurement is running on this server; try again in a moment.")
    try:
        command = [sys.executable, "-c", bootstrap, str(cap), config.arch, json.dumps(config.to_dict()), str(batch_size),
                   device]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=REPO,
                                stdin=subprocess.DEVNULL,
                                env=child_env(OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="2", PYTHONPATH=str(REPO)))
    except subprocess.TimeoutExpired:
        raise PlaygroundError("Measuring took longer than {seconds:.0f} s: a step of this run is very slow here; "
                              "try a smaller model or batch.", seconds=timeout_s) from None
    finally:
        _measuring.release()
    if result.returncode == 0:
        return float(json.loads(result.stdout.strip().splitlines()[-1])["seconds"])
    last = (result.stderr.strip().splitlines() or ["killed"])[-1]
    if result.returncode < 0 or "MemoryError" in result.stderr or "alloc" in last.lower() or "failed to map" in last:
        raise PlaygroundError("Measuring a step needed more than the {cap:.1f} GiB of memory it may use here; the run "
                              "would not fit either.", cap=cap / 2**30)
    raise PlaygroundError("Measuring a step failed: {problem}.", problem=last[:200])


def ema(values: list[float], alpha: float = 0.1) -> list[float]:
    """Exponential moving average for a smoothed loss curve."""
    out, current = [], None
    for v in values:
        current = v if current is None else alpha * v + (1 - alpha) * current
        out.append(current)
    return out


def eta_seconds(step: int, total: int, elapsed: float) -> float | None:
    if step <= 0 or elapsed <= 0:
        return None
    return (total - step) * elapsed / step


if __name__ == "__main__":  # the measuring process: arch, config JSON, batch size, device -> {"seconds": ...}
    torch.set_num_threads(1)
    seconds = measure_step_seconds(config_from_dict(json.loads(sys.argv[2]), sys.argv[1]), int(sys.argv[3]), sys.argv[4])
    print(json.dumps({"seconds": seconds}), flush=True)
