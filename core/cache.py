"""Captured activations: one mechanism, TransformerLens's conventions.

The model writes each activation into a `Cache` at a named hook point while a
forward pass runs with one (`model.run_with_cache(ids)`); nothing is recomputed
afterwards. Names per layer (`cache[name, layer]`):

    resid_pre   [batch, pos, d_model]   input of block `layer`
    ln1         [batch, pos, d_model]   after ln_1 (what attention reads)
    q, k, v     [batch, head, pos, d_head]
    attn_scores [batch, head, q, k]     Q·Kᵀ/√d_head with the causal mask (−inf) applied
    pattern     [batch, head, q, k]     softmax of attn_scores; rows sum to 1
    z           [batch, head, pos, d_head]  pattern · V, per head, before c_proj
    attn_out    [batch, pos, d_model]   after c_proj (what attention adds)
    resid_mid   [batch, pos, d_model]   resid_pre + attn_out
    ln2         [batch, pos, d_model]
    mlp_pre     [batch, pos, d_mlp]     before GELU
    mlp_post    [batch, pos, d_mlp]     after GELU
    mlp_out     [batch, pos, d_model]
    resid_post  [batch, pos, d_model]   resid_mid + mlp_out

and without a layer (`cache[name]`): embed, pos_embed, ln_final [batch, pos, d_model].

Left out: hooks that edit activations (patching); this cache only reads.
"""

from __future__ import annotations

import torch

LAYER_NAMES = (
    "resid_pre", "ln1", "q", "k", "v", "attn_scores", "pattern", "z", "attn_out",
    "resid_mid", "ln2", "mlp_pre", "mlp_post", "mlp_out", "resid_post",
)
GLOBAL_NAMES = ("embed", "pos_embed", "ln_final")


class Cache:
    """Activations of one forward pass, keyed `(name, layer)` or `name`."""

    def __init__(self, names=None):
        self.names = set(names) if names is not None else None
        self.store: dict = {}

    def wants(self, name: str) -> bool:
        return self.names is None or name in self.names

    def save(self, name: str, layer: int | None, value: torch.Tensor) -> None:
        if self.wants(name):
            self.store[(name, layer)] = value.detach()

    def __getitem__(self, key):
        if isinstance(key, str):
            key = (key, None)
        if key not in self.store:
            known = sorted({f"{n}" if layer is None else f"({n!r}, {layer})" for n, layer in self.store})[:8]
            raise KeyError(f"No activation {key} in the cache; it has e.g. {', '.join(known)}")
        return self.store[key]

    def __contains__(self, key) -> bool:
        return (key if isinstance(key, tuple) else (key, None)) in self.store

    def keys(self):
        return self.store.keys()

    def to(self, device) -> "Cache":
        self.store = {k: v.to(device) for k, v in self.store.items()}
        return self

    def stack(self, name: str) -> torch.Tensor:
        """All layers of one name stacked: [layer, ...]."""
        layers = sorted(layer for n, layer in self.store if n == name)
        return torch.stack([self.store[(name, layer)] for layer in layers])
