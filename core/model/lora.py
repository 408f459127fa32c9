"""LoRA: low-rank adapters on a frozen Linear, and merging them back into a plain weight.

    y = x Wᵀ + b + (alpha / r) · x Aᵀ Bᵀ,   A: [r, in] (random), B: [out, r] (zeros at the start)

so a fresh adapter changes nothing, and training touches only r·(in + out) numbers per layer.
`merge_lora` folds the update into W, which gives a plain GPT again (same logits, a test proves it).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

DEFAULT_TARGETS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.rank, self.alpha = rank, alpha
        self.scale = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale

    def merged(self) -> nn.Linear:
        with torch.no_grad():
            self.base.weight += (self.lora_B @ self.lora_A) * self.scale
        return self.base


def apply_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0, targets=DEFAULT_TARGETS) -> int:
    """Freeze everything, wrap the target Linears with adapters; returns the number of trainable parameters."""
    if rank < 1:
        from core.errors import PlaygroundError
        raise PlaygroundError("The LoRA rank must be at least 1, not {rank}.", rank=rank)
    for p in model.parameters():
        p.requires_grad_(False)
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.Linear) and full.endswith(tuple(targets)):
                setattr(module, child_name, LoRALinear(child, rank, alpha))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRALinear by its merged plain Linear (in place)."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                setattr(module, child_name, child.merged())
    return model


def lora_parameter_count(model: nn.Module, rank: int, targets=DEFAULT_TARGETS) -> int:
    """r·(in + out) for each target Linear, from the formula."""
    total = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and name.endswith(tuple(targets)):
            total += rank * (module.in_features + module.out_features)
    return total
