"""What rotary position embeddings (RoPE) do, in numbers a page can show: each pair's frequency and wavelength,
one q or k pair turned by position, and how the score of the same query and key changes with their distance.

A rotary model adds no position vector. Each head's q and k are cut into pairs (dimension i with i + d_head/2)
and pair i is turned by the angle position · θ_i, θ_i = rope_theta^(−2i/d_head): the first pairs turn fast,
the last barely. A turn keeps a vector's length, and rotating q by m·θ and k by n·θ leaves their dot product
depending on m − n only: attention sees how far apart two tokens are, not where they are. Every number here
goes through the model's own `rotate_qk` (with Qwen3's q/k norms); tests check them against the hand formula,
transformers' rotary embedding and the model's cached attn_scores.

Left out: position interpolation schemes other than Llama 3's (the model file refuses them).
"""

from __future__ import annotations

import math

import torch

from core.errors import PlaygroundError
from core.model.base import LanguageModel
from core.model.llama import LlamaConfig, rotary_frequencies


def check_rotary(model: LanguageModel) -> None:
    if model.position_embedding is not None:
        raise PlaygroundError("This model learns absolute position vectors; it has no rotary embedding to show.")


def pair_frequencies(config: LlamaConfig) -> dict[str, list[float]]:
    """Per pair i: θ_i (radians per token) and its wavelength 2π/θ_i (tokens per full turn), and the same
    without Llama 3's rescaling, so a page can show what the scaling changed."""
    theta = rotary_frequencies(config)
    plain = rotary_frequencies(LlamaConfig(**{**config.to_dict(), "rope_scaling": None}))
    return {"frequency": theta.tolist(), "wavelength": (2 * math.pi / theta).tolist(),
            "unscaled wavelength": (2 * math.pi / plain).tolist()}


@torch.no_grad()
def pair_path(model: LanguageModel, layer: int, vector: torch.Tensor, pair: int, positions: int) -> torch.Tensor:
    """[positions, 2]: pair `pair` (dimensions pair, pair + d_head/2) of one head's q `vector` [d_head] as the
    model would rotate it at positions 0, 1, ..., positions − 1."""
    check_rotary(model)
    half = model.config.d_head // 2
    if not 0 <= pair < half:
        raise PlaygroundError("Pair {pair} does not exist: a head of width {d_head} has pairs 0 to {last}.",
                              pair=pair, d_head=model.config.d_head, last=half - 1)
    rows = vector.to(model.device).expand(positions, -1)
    rotated, _ = model.rotate_qk(layer, rows, rows, torch.arange(positions, device=model.device))
    return rotated[:, [pair, pair + half]].cpu()


@torch.no_grad()
def scores_by_distance(model: LanguageModel, layer: int, q: torch.Tensor, k: torch.Tensor,
                       distances: int) -> torch.Tensor:
    """[distances]: the scaled score q·k/√d_head of one query vector and one key vector [d_head] (before
    rotation, as cached in q and k) when the query stands 0, 1, ..., distances − 1 tokens after the key."""
    check_rotary(model)
    positions = torch.arange(distances, device=model.device)
    queries = q.to(model.device).expand(distances, -1)
    keys = k.to(model.device).expand(distances, -1)
    q_rot, _ = model.rotate_qk(layer, queries, keys, positions)  # the query at position d
    _, k_rot = model.rotate_qk(layer, queries, keys, torch.zeros_like(positions))  # the key at position 0
    return ((q_rot * k_rot).sum(-1) / math.sqrt(model.config.d_head)).cpu()
