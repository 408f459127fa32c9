"""One attention head computed step by step, and what each head tends to do.

`head_steps` takes the head's slice of the weights and the cached norm output (ln1) and redoes the
head with explicit matrices, so a page can show every intermediate with its real numbers; a test
proves each one equals the model's own cache (q, k, v, q_rot, k_rot, attn_scores, pattern, z,
attn_out). For a Llama-family model the query head reads its group's key/value head and Q, K are
rotated by position before Q·Kᵀ (`model.rotate_qk`); for GPT-2 the rotation is the identity.

`head_scores` measures, per layer and head, how much attention goes to the previous token, the
first token (the "attention sink"), the token itself, and — on a random token sequence repeated
twice — to the token right after the previous occurrence of the current one (induction).

Left out: attribution methods, patching.
"""

from __future__ import annotations

import math

import torch

from core.errors import PlaygroundError
from core.model.base import LanguageModel


def head_weights(model: LanguageModel, layer: int, head: int) -> dict[str, torch.Tensor]:
    """W_Q, W_K, W_V as [d_model, d_head] and their biases for one (query) head, W_O [d_head, d_model], b_O."""
    check_layer_head(model, layer, head)
    return model.head_weights(layer, head)


def head_steps(model: LanguageModel, cache, layer: int, head: int, batch: int = 0) -> dict[str, torch.Tensor]:
    """Every intermediate of one head for one input, from the cached block input after the first norm."""
    w = head_weights(model, layer, head)
    device = w["W_Q"].device
    x = cache["ln1", layer][batch].to(device)  # (T, d)
    T = x.shape[0]
    q = x @ w["W_Q"] + w["b_Q"]
    k = x @ w["W_K"] + w["b_K"]
    v = x @ w["W_V"] + w["b_V"]
    with torch.no_grad():
        q_rot, k_rot = model.rotate_qk(layer, q, k, torch.arange(T, device=device))
    qk = q_rot @ k_rot.T
    scaled = qk / math.sqrt(model.config.d_head)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)
    masked = scaled.masked_fill(mask, float("-inf"))
    pattern = torch.softmax(masked, dim=-1)
    z = pattern @ v
    all_heads = cache["z", layer][batch].to(device).transpose(0, 1).reshape(T, -1)  # every head's z, side by side
    W_O = torch.cat([model.head_weights(layer, h)["W_O"] for h in range(model.config.n_head)])  # (H·dh, d)
    out = all_heads @ W_O + w["b_O"]
    steps = {"x_ln": x, **w, "Q": q, "K": k, "V": v, "Q_rot": q_rot, "K_rot": k_rot, "QK": qk, "scaled": scaled,
             "masked": masked, "pattern": pattern, "z": z, "concat": all_heads, "W_O": W_O, "out": out,
             "kv_head": torch.tensor(model.kv_head(head))}
    return {name: value.detach().cpu() for name, value in steps.items()}


def check_layer_head(model: LanguageModel, layer: int, head: int) -> None:
    if not 0 <= layer < model.config.n_layer:
        raise PlaygroundError(
            "Layer {layer} does not exist: this model has layers 0 to {last}.",
            layer=layer, last=model.config.n_layer - 1)
    if not 0 <= head < model.config.n_head:
        raise PlaygroundError(
            "Head {head} does not exist: this model has heads 0 to {last}.",
            head=head, last=model.config.n_head - 1)


def kv_groups(config) -> list[list[int]]:
    """Which query heads share each key/value head: [[0, 1, 2], [3, 4, 5], ...] (GPT-2: one head each)."""
    size = config.n_head // config.n_kv_head
    return [list(range(g * size, (g + 1) * size)) for g in range(config.n_kv_head)]


def pattern_scores(patterns: torch.Tensor) -> dict[str, torch.Tensor]:
    """From patterns [layer, head, q, k] of one input: previous-token, first-token, same-token scores [layer, head]."""
    T = patterns.shape[-1]
    if T < 2:
        zeros = torch.zeros(patterns.shape[:2])
        return {"previous_token": zeros, "first_token": zeros, "same_token": zeros}
    previous = patterns.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)
    first = patterns[..., 1:, 0].mean(-1)  # skip query 0, which can only look at itself
    same = patterns[..., 1:, :].diagonal(offset=1, dim1=-2, dim2=-1).mean(-1)
    return {"previous_token": previous, "first_token": first, "same_token": same}


@torch.no_grad()
def induction_scores(model: LanguageModel, length: int = 40, seed: int = 0) -> torch.Tensor:
    """[layer, head]: mean attention from each token of a repeated random sequence to the token after its first copy."""
    length = min(length, (model.config.context_length - 1) // 2)
    g = torch.Generator().manual_seed(seed)
    half = torch.randint(100, min(model.config.vocab_size, 20000), (length,), generator=g)
    ids = torch.cat([torch.tensor([half[0].item()]), half, half]).unsqueeze(0)  # a first token, then twice
    _, cache = model.run_with_cache(ids.to(model.device), names={"pattern"})
    patterns = cache.stack("pattern")[:, 0]  # (layer, head, q, k)
    q = torch.arange(length + 1, 2 * length + 1)  # the second copy
    k = q - length + 1  # the token after the previous occurrence
    return patterns[:, :, q, k].mean(-1).cpu()


def head_scores(model: LanguageModel, cache, induction: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """All four scores [layer, head]. Induction does not depend on the input: pass it in when already measured."""
    scores = pattern_scores(cache.stack("pattern")[:, 0].cpu())
    scores["induction"] = induction_scores(model) if induction is None else induction
    return scores
