"""LoRA: low-rank adapters on a frozen Linear, and merging them back into a plain weight.

    y = x Wᵀ + b + (alpha / r) · x Aᵀ Bᵀ,   A: [r, in] (random), B: [out, r] (zeros at the start)

so a fresh adapter changes nothing, and training touches only r·(in + out) numbers per layer.
`merge_lora` folds the update into W, which gives a plain model again (same logits, a test proves it).
The adapters go on every projection of attention and the MLP: GPT-2's c_attn, c_proj, c_fc; the Llama
family's q/k/v/o_proj, gate/up/down_proj (the choice of the LoRA paper's follow-ups, e.g. QLoRA).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

TARGETS = {
    "gpt2": ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"),
    "llama": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"),
}


def targets_of(model: nn.Module, targets=None) -> tuple[str, ...]:
    """The Linears to adapt: the ones given, else those of the model's family."""
    return tuple(targets) if targets is not None else TARGETS[getattr(model, "arch", "gpt2")]


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


def apply_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0, targets=None) -> int:
    """Freeze everything, wrap the target Linears with adapters; returns the number of trainable parameters."""
    if rank < 1:
        from core.errors import PlaygroundError
        raise PlaygroundError("The LoRA rank must be at least 1, not {rank}.", rank=rank)
    targets = targets_of(model, targets)
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


def lora_parameter_count(model: nn.Module, rank: int, targets=None) -> int:
    """r·(in + out) for each target Linear, from the formula."""
    targets, total = targets_of(model, targets), 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and name.endswith(tuple(targets)):
            total += rank * (module.in_features + module.out_features)
    return total
