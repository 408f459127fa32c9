"""One attention head computed step by step, and what each head tends to do.

`head_steps` takes the head's slice of the weights and the cached norm output (ln1) and redoes the
head with explicit matrices, so a page can show every intermediate with its real numbers; a test
proves each one equals the model's own cache (q, k, v, q_rot, k_rot, attn_scores, pattern, z,
attn_out). For a Llama-family model the query head reads its group's key/value head and Q, K are
rotated by position before Q·Kᵀ (`model.rotate_qk`); for GPT-2 the rotation is the identity.

`head_scores` measures, per layer and head, how much attention goes to the previous token, the
first token (the "attention sink"), the token itself, and — on a random token sequence repeated
twice — to the token right after the previous occurrence of the current one (induction). The random
tokens are drawn from the merged tokens of the byte-level BPE (ids 256 up to 20,000, never a special
token), so every one of them occurs in training text for GPT-2 and for a small trained BPE alike.
`strongest_heads` picks the head with the highest score for each behaviour. `text_induction_scores` measures
induction on any text (a passage a user repeats): attention from each token that occurred before to the token
right after its latest earlier occurrence.

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
    low, high = induction_id_range(model.config.vocab_size)
    half = torch.randint(low, high, (length,), generator=g)
    ids = torch.cat([torch.tensor([half[0].item()]), half, half]).unsqueeze(0)  # a first token, then twice
    _, cache = model.run_with_cache(ids.to(model.device), names={"pattern"})
    patterns = cache.stack("pattern")[:, 0]  # (layer, head, q, k)
    q = torch.arange(length + 1, 2 * length + 1)  # the second copy
    k = q - length + 1  # the token after the previous occurrence
    return patterns[:, :, q, k].mean(-1).cpu()


def induction_targets(ids: list[int]) -> tuple[list[int], list[int]]:
    """(queries, keys): each token that occurred before (not just before it), and the position right after its
    latest earlier occurrence, the token an induction head looks at.

    >>> induction_targets([5, 6, 7, 5, 6, 7])
    ([3, 4, 5], [1, 2, 3])
    """
    latest: dict[int, int] = {}
    queries, keys = [], []
    for i, token in enumerate(ids):
        if token in latest and latest[token] + 1 < i:
            queries.append(i)
            keys.append(latest[token] + 1)
        latest[token] = i
    return queries, keys


def text_induction_scores(patterns: torch.Tensor, ids: list[int]) -> torch.Tensor:
    """[layer, head]: mean attention along induction_targets(ids), from patterns [layer, head, q, k] of that text
    (zeros when no token repeats)."""
    queries, keys = induction_targets(list(ids))
    if not queries:
        return torch.zeros(patterns.shape[:2])
    return patterns[:, :, queries, keys].mean(-1)


def induction_id_range(vocab_size: int) -> tuple[int, int]:
    """[low, high) of the random tokens: merged tokens (256 …), below 20,000 and below the last id (where our
    tokenizers keep <|endoftext|>); all ids of a vocabulary too small for that.

    >>> induction_id_range(50257), induction_id_range(2257), induction_id_range(100)
    ((256, 20000), (256, 2256), (0, 100))
    """
    high = min(vocab_size - 1, 20000)
    return (256, high) if high - 256 >= 64 else (0, vocab_size)


def strongest_heads(scores: dict[str, torch.Tensor]) -> dict[str, tuple[int, int, float]]:
    """(layer, head, score) of the highest-scoring head for each behaviour.

    >>> strongest_heads({"induction": torch.tensor([[0.1, 0.2], [0.9, 0.3]])})
    {'induction': (1, 0, 0.8999999761581421)}
    """
    best = {}
    for name, values in scores.items():
        index = int(values.argmax())
        layer, head = divmod(index, values.shape[1])
        best[name] = (layer, head, float(values[layer, head]))
    return best


def head_scores(model: LanguageModel, cache, induction: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """All four scores [layer, head]. Induction does not depend on the input: pass it in when already measured."""
    scores = pattern_scores(cache.stack("pattern")[:, 0].cpu())
    scores["induction"] = induction_scores(model) if induction is None else induction
    return scores
