"""The model's anatomy: every stage of the forward pass with its tensor shape and parameter count, and the
logit lens (what the model would predict if it stopped after each layer).

    >>> sum(s.params for s in stages(GPTConfig(), 10)) == count_parameters(GPTConfig())
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.model.gpt import GPT, GPTConfig, count_parameters


@dataclass(frozen=True)
class Stage:
    key: str  # an id for the page
    name: str
    shape: tuple  # output shape for one input of T tokens
    params: int
    per_block: bool = False  # inside each of the n_layer blocks (params counted for all blocks)


def stages(config: GPTConfig, T: int) -> list[Stage]:
    d, V, L, H = config.n_embd, config.vocab_size, config.n_layer, config.n_head
    ln = 2 * d if config.bias else d
    b = 1 if config.bias else 0
    attn = d * 3 * d + (3 * d if config.qkv_bias else 0) + d * d + b * d
    mlp = d * 4 * d + b * 4 * d + 4 * d * d + b * d
    return [
        Stage("tokens", "Token ids", (T,), 0),
        Stage("wte", "Token embedding", (T, d), V * d),
        Stage("wpe", "Position embedding (added)", (T, d), config.context_length * d),
        Stage("ln1", "LayerNorm 1", (T, d), L * ln, True),
        Stage("attn", f"Multi-head attention ({H} heads of {config.d_head})", (T, d), L * attn, True),
        Stage("add1", "Residual add", (T, d), 0, True),
        Stage("ln2", "LayerNorm 2", (T, d), L * ln, True),
        Stage("mlp", f"MLP {d} → {4 * d} (GELU) → {d}", (T, d), L * mlp, True),
        Stage("add2", "Residual add", (T, d), 0, True),
        Stage("ln_f", "Final LayerNorm", (T, d), ln),
        Stage("unembed", "Unembedding" + (" (tied to the token embedding)" if config.tied_embeddings else ""),
              (T, V), 0 if config.tied_embeddings else V * d),
        Stage("logits", "Logits → next-token probabilities", (T, V), 0),
    ]


def check_total(config: GPTConfig) -> bool:
    return sum(s.params for s in stages(config, 1)) == count_parameters(config)


@torch.no_grad()
def logit_lens(model: GPT, cache, top_k: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each layer's residual stream (after the block): ln_f then the unembedding.

    Returns probabilities [layer, pos, vocab] is too big to keep for 50k tokens, so: top ids [layer, pos, k],
    their probabilities [layer, pos, k], and every layer's probabilities of the final prediction [layer, pos].
    """
    resid = cache.stack("resid_post")[:, 0].to(model.device)  # (layer, pos, d)
    probs = torch.softmax(model.lm_head(model.transformer.ln_f(resid)).float(), dim=-1)  # (layer, pos, vocab)
    top = torch.topk(probs, top_k, dim=-1)
    final = probs[-1].argmax(-1)  # the model's own prediction at each position
    final_prob = probs.gather(-1, final.expand(probs.shape[0], -1).unsqueeze(-1)).squeeze(-1)
    return top.indices.cpu(), top.values.cpu(), final_prob.cpu()


def layernorm_stats(before: torch.Tensor, after_normalise: torch.Tensor | None = None) -> dict[str, list[float]]:
    """Mean and variance per token of a [pos, d] tensor, before and after (x − μ)/σ."""
    mean = before.mean(-1)
    var = before.var(-1, unbiased=False)
    normalised = (before - mean[:, None]) / torch.sqrt(var[:, None] + 1e-5)
    return {"mean before": mean.tolist(), "variance before": var.tolist(),
            "mean after": normalised.mean(-1).tolist(), "variance after": normalised.var(-1, unbiased=False).tolist()}
