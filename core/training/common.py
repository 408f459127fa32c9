"""What pretraining and finetuning share: the device, autocast, the optimizer and the learning-rate schedule.

    >>> from types import SimpleNamespace as S
    >>> cfg = S(lr=1.0, min_lr=0.1, warmup_steps=0, steps=3)
    >>> [round(lr_at(s, cfg), 3) for s in range(3)]
    [1.0, 0.55, 0.1]
"""

from __future__ import annotations

import math
import os
from contextlib import nullcontext

import torch

from core.errors import PlaygroundError
from core.model.checkpoints import default_device

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
SECRET_WORDS = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIALS"}  # parts of names a child never inherits


def lr_at(step: int, cfg) -> float:
    """Linear warmup to lr, then cosine decay that reaches min_lr exactly at the last step (steps − 1)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - 1 - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * (cfg.lr - cfg.min_lr)


def check_device_name(name: str) -> None:
    """Refuse an unknown device name, or a GPU this machine does not have, before anything starts."""
    if not (name in DEVICE_CHOICES or (name.startswith("cuda:") and name[5:].isdigit())):
        raise PlaygroundError("Impossible training setting: unknown device {value}.", value=name)
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PlaygroundError("CUDA was asked for but this machine has no usable GPU; choose cpu or auto.")
        index = int(name[5:]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise PlaygroundError("There is no GPU {name} on this machine (it has {n}).", name=name,
                                  n=torch.cuda.device_count())
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise PlaygroundError("MPS (Apple GPU) was asked for but is not available here; choose cpu or auto.")


def pick_device(name: str) -> torch.device:
    check_device_name(name)
    return default_device() if name == "auto" else torch.device(name)


def configure_optimizer(model: torch.nn.Module, lr: float, weight_decay: float, betas: tuple[float, float],
                        device: torch.device) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, with weight decay on matrices only (not on biases and norms)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=device.type == "cuda")


def autocast_for(device: torch.device, precision: str = "auto"):
    """bf16 autocast on CUDA (unless fp32 is asked for); plain fp32 elsewhere."""
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a training or measuring process: ours without secrets (the instructor password, tokens),
    so a run's code, its log or /proc/<pid>/environ never holds them."""
    env = {k: v for k, v in os.environ.items() if not SECRET_WORDS & set(k.upper().split("_"))}
    return {**env, **extra}
