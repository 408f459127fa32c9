"""Captured and edited activations: one mechanism, TransformerLens's conventions.

Every activation of the forward pass goes through a named hook point, `value = cache.point(name, layer, value)`.
A point first applies the edits asked for that name and layer (each `fn(activation)` returns the value to use
instead, or None to leave it), then keeps the result if the cache captures that name; the model goes on with
the edited value. So `model.run_with_cache(ids)` reads and `model.run_with_hooks(ids, fwd_hooks=[(name, layer,
fn)])` edits through the same code path, and nothing is recomputed afterwards. An edit receives its own copy of
the activation, so editing it in place changes nothing else (the same tensor is one layer's resid_post and the
next layer's resid_pre; q, k and v are views of one buffer). Names per layer (`cache[name, layer]`):

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

and without a layer (`cache[name]`): embed, pos_embed, ln_final [batch, pos, d_model]. Models may add names
of their own (the Llama family's rotated q_rot, k_rot); `model.hook_names` lists what a model has.

Left out: backward hooks (gradients), hooks that stay on the model across calls.
"""

from __future__ import annotations

import torch

from core.errors import PlaygroundError


def hook_edits(fwd_hooks, layer_names, global_names, n_layer: int) -> dict:
    """[(name, layer, fn), ...] checked against a model's hook points -> Cache's edits."""
    edits: dict = {}
    for item in fwd_hooks:
        if not (isinstance(item, (tuple, list)) and len(item) == 3 and callable(item[2])):
            raise PlaygroundError("Each hook is (name, layer, fn) with a callable fn.")
        name, layer, fn = item
        if name in global_names:
            if layer is not None:
                raise PlaygroundError("{name} belongs to no layer: give layer None.", name=name)
        elif name in layer_names:
            if not isinstance(layer, int) or not 0 <= layer < n_layer:
                raise PlaygroundError("{name} needs a layer from 0 to {last}, not {layer}.", name=name,
                                      last=n_layer - 1, layer=layer)
        else:
            raise PlaygroundError("There is no hook point '{name}'; choose one of {options}.", name=name,
                                  options=", ".join((*global_names, *layer_names)))
        edits.setdefault((name, layer), []).append(fn)
    return edits


LAYER_NAMES = (
    "resid_pre", "ln1", "q", "k", "v", "attn_scores", "pattern", "z", "attn_out",
    "resid_mid", "ln2", "mlp_pre", "mlp_post", "mlp_out", "resid_post",
)
GLOBAL_NAMES = ("embed", "pos_embed", "ln_final")


class Cache:
    """Activations of one forward pass, keyed `(name, layer)` or `name`, and the edits to make during it.

    names: what to keep (None = everything, an empty set = nothing, for a run that only edits).
    edits: {(name, layer): [fn, ...]}, applied in order at that hook point.
    """

    def __init__(self, names=None, edits: dict | None = None):
        self.names = set(names) if names is not None else None
        self.edits = edits or {}
        self.store: dict = {}

    def wants(self, name: str) -> bool:
        return self.names is None or name in self.names

    def point(self, name: str, layer: int | None, value: torch.Tensor) -> torch.Tensor:
        """The hook point `name` (of `layer`): edits applied, the result kept if captured, and returned."""
        for fn in self.edits.get((name, layer), ()):
            replaced = fn(value.clone())
            if replaced is not None:
                if not isinstance(replaced, torch.Tensor) or replaced.shape != value.shape:
                    raise PlaygroundError(
                        "A hook on {name} must return a tensor of shape {shape} (or None), not {got}.",
                        name=name, shape=tuple(value.shape),
                        got=tuple(replaced.shape) if isinstance(replaced, torch.Tensor) else type(replaced).__name__)
                value = replaced.to(device=value.device, dtype=value.dtype)
        if self.wants(name):
            self.store[(name, layer)] = value.detach()
        return value

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

    def to(self, device) -> Cache:
        self.store = {k: v.to(device) for k, v in self.store.items()}
        return self

    def stack(self, name: str) -> torch.Tensor:
        """All layers of one name stacked: [layer, ...]."""
        layers = sorted(layer for n, layer in self.store if n == name)
        return torch.stack([self.store[(name, layer)] for layer in layers])
