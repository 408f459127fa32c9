"""Before a run starts: how big, how much memory, how long — and, while it runs, smoothing and ETA.

Memory is an estimate, not a measurement: fp32 weights, gradients and AdamW's two moments (16 bytes per
parameter) plus activations (the per-layer count of Korthikanti et al., 2022, at 4 bytes) plus the logits
and their gradient.

    >>> ema([1.0, 3.0], 0.5)
    [1.0, 2.0]
"""

from __future__ import annotations

import time

import torch

from core.model.gpt import GPT, GPTConfig, count_parameters


def memory_estimate_bytes(config: GPTConfig, batch_size: int) -> int:
    params = count_parameters(config)
    s, b, h, a, L = config.context_length, batch_size, config.n_embd, config.n_head, config.n_layer
    activations = L * s * b * h * (34 + 5 * a * s / h) * 2  # the paper counts 16-bit values; we train in fp32
    logits = 2 * b * s * config.vocab_size * 4
    return int(16 * params + activations + logits)


def measure_step_seconds(config: GPTConfig, batch_size: int, device: str, steps: int = 3) -> float:
    """Seconds per training step, measured on random tokens (the first step, a warm-up, is not counted)."""
    model = GPT(config).to(device).train()
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
