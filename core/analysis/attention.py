"""One attention head computed step by step, and what each head tends to do.

`head_steps` takes the head's slice of the weights and the cached LayerNorm output and redoes the
head with explicit matrices, so a page can show every intermediate with its real numbers; a test
proves each one equals the model's own cache (q, k, v, attn_scores, pattern, z, attn_out).

`head_scores` measures, per layer and head, how much attention goes to the previous token, the
first token (the "attention sink"), the token itself, and — on a random token sequence repeated
twice — to the token right after the previous occurrence of the current one (induction).

Left out: attribution methods, patching.
"""

from __future__ import annotations

import math

import torch

from core.model.gpt import GPT


def head_weights(model: GPT, layer: int, head: int) -> dict[str, torch.Tensor]:
    """W_Q, W_K, W_V as [d_model, d_head] and their biases for one head (nn.Linear stores [out, in])."""
    check_layer_head(model, layer, head)
    attn = model.transformer.h[layer].attn
    d, dh = model.config.n_embd, model.config.d_head
    weight = attn.c_attn.weight.detach()  # (3d, d)
    bias = attn.c_attn.bias.detach() if attn.c_attn.bias is not None else torch.zeros(3 * d, device=weight.device)
    cols = slice(head * dh, (head + 1) * dh)
    out = {}
    for i, name in enumerate("QKV"):
        rows = weight[i * d:(i + 1) * d][cols]  # (dh, d)
        out[f"W_{name}"] = rows.T
        out[f"b_{name}"] = bias[i * d:(i + 1) * d][cols]
    return out


def head_steps(model: GPT, cache, layer: int, head: int, batch: int = 0) -> dict[str, torch.Tensor]:
    """Every intermediate of one head for one input, from the cached block input after ln_1."""
    w = head_weights(model, layer, head)
    device = w["W_Q"].device
    x = cache["ln1", layer][batch].to(device)  # (T, d)
    T = x.shape[0]
    q = x @ w["W_Q"] + w["b_Q"]
    k = x @ w["W_K"] + w["b_K"]
    v = x @ w["W_V"] + w["b_V"]
    qk = q @ k.T
    scaled = qk / math.sqrt(model.config.d_head)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)
    masked = scaled.masked_fill(mask, float("-inf"))
    pattern = torch.softmax(masked, dim=-1)
    z = pattern @ v
    all_heads = cache["z", layer][batch].to(device).transpose(0, 1).reshape(T, -1)  # every head's z, side by side
    attn = model.transformer.h[layer].attn
    with torch.no_grad():
        out = attn.c_proj(all_heads)
    steps = {"x_ln": x, **w, "Q": q, "K": k, "V": v, "QK": qk, "scaled": scaled, "masked": masked,
             "pattern": pattern, "z": z, "concat": all_heads, "W_O": attn.c_proj.weight.detach().T, "out": out}
    return {name: value.detach().cpu() for name, value in steps.items()}


def check_layer_head(model: GPT, layer: int, head: int) -> None:
    from core.errors import PlaygroundError
    if not 0 <= layer < model.config.n_layer:
        raise PlaygroundError(
            "Layer {layer} does not exist: this model has layers 0 to {last}.",
            layer=layer, last=model.config.n_layer - 1)
    if not 0 <= head < model.config.n_head:
        raise PlaygroundError(
            "Head {head} does not exist: this model has heads 0 to {last}.",
            head=head, last=model.config.n_head - 1)


def pattern_scores(patterns: torch.Tensor) -> dict[str, torch.Tensor]:
    """From patterns [layer, head, q, k] of one input: previous-token, first-token, same-token scores [layer, head]."""
    T = patterns.shape[-1]
    if T < 2:
        zeros = torch.zeros(patterns.shape[:2])
        return {"previous token": zeros, "first token": zeros, "same token": zeros}
    previous = patterns.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)
    first = patterns[..., 1:, 0].mean(-1)  # skip query 0, which can only look at itself
    same = patterns[..., 1:, :].diagonal(offset=1, dim1=-2, dim2=-1).mean(-1)
    return {"previous token": previous, "first token": first, "same token": same}


@torch.no_grad()
def induction_scores(model: GPT, length: int = 40, seed: int = 0) -> torch.Tensor:
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


def head_scores(model: GPT, cache, induction: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """All four scores [layer, head]. Induction does not depend on the input: pass it in when already measured."""
    scores = pattern_scores(cache.stack("pattern")[:, 0].cpu())
    scores["induction"] = induction_scores(model) if induction is None else induction
    return scores
