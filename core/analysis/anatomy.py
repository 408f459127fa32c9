"""The model's anatomy: every stage of the forward pass with its tensor shape and parameter count, and the
logit lens (what the model would predict if it stopped after each layer).

GPT-2: token + position embedding, LayerNorm, multi-head attention, GELU MLP. The Llama family: token
embedding only, RMSNorm, rotary embedding of q and k, grouped-query attention, SwiGLU MLP.

Stages inside the blocks count the parameters of one block (`params`) and of all blocks (`total`):

    >>> attn = next(s for s in stages(GPTConfig(), 10) if s.key == "attn")
    >>> attn.params, attn.total  # GPT-2 small: 12 blocks
    (2362368, 28348416)
    >>> sum(s.total for s in stages(GPTConfig(), 10)) == count_parameters(GPTConfig())
    True
    >>> sum(s.total for s in stages(LlamaConfig(), 10)) == count_parameters(LlamaConfig())
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.model.base import LanguageModel
from core.model.families import count_parameters
from core.model.gpt import GPTConfig
from core.model.llama import LlamaConfig


@dataclass(frozen=True)
class Stage:
    key: str  # an id for the page
    name: str
    shape: tuple  # output shape for one input of T tokens
    params: int  # in one block for a stage inside the blocks, else in the whole model
    per_block: bool = False  # inside each of the n_layer blocks
    blocks: int = 1  # how many blocks repeat it (n_layer when per_block)

    @property
    def total(self) -> int:
        """Parameters of this stage in the whole model."""
        return self.params * self.blocks


def stages(config: GPTConfig | LlamaConfig, T: int) -> list[Stage]:
    """The stages in order, for one input of T tokens."""
    return llama_stages(config, T) if config.arch == "llama" else gpt_stages(config, T)


def llama_stages(config: LlamaConfig, T: int) -> list[Stage]:
    d, V, L, m = config.n_embd, config.vocab_size, config.n_layer, config.d_mlp
    H, Hkv, dh = config.n_head, config.n_kv_head, config.d_head
    attn = d * H * dh + 2 * d * Hkv * dh + H * dh * d + (H * dh + 2 * Hkv * dh if config.qkv_bias else 0) \
        + (d if config.o_bias else 0) + (2 * dh if config.qk_norm else 0)
    mlp = 3 * d * m + (2 * m + d if config.mlp_bias else 0)
    return [
        Stage("tokens", "Token ids", (T,), 0),
        Stage("wte", "Token embedding (no position vectors)", (T, d), V * d),
        Stage("rms1", "RMSNorm 1", (T, d), d, True, L),
        Stage("rope", f"Rotary embedding: q and k turned by position (θ = {config.rope_theta:g})", (H, T, dh), 0, True, L),
        Stage("gqa", f"Grouped-query attention ({H} query heads, {Hkv} key/value heads of {dh})", (T, d), attn,
              True, L),
        Stage("add1", "Residual add", (T, d), 0, True, L),
        Stage("rms2", "RMSNorm 2", (T, d), d, True, L),
        Stage("swiglu", f"SwiGLU MLP {d} → 2 × {m} (SiLU(gate) · up) → {d}", (T, d), mlp, True, L),
        Stage("add2", "Residual add", (T, d), 0, True, L),
        Stage("rms_f", "Final RMSNorm", (T, d), d),
        *_output_stages(config, T),
    ]


def gpt_stages(config: GPTConfig, T: int) -> list[Stage]:
    d, V, L, H = config.n_embd, config.vocab_size, config.n_layer, config.n_head
    ln = 2 * d if config.bias else d
    b = 1 if config.bias else 0
    attn = d * 3 * d + (3 * d if config.qkv_bias else 0) + d * d + b * d
    mlp = d * 4 * d + b * 4 * d + 4 * d * d + b * d
    def block(key: str, name: str, params: int) -> Stage:
        return Stage(key, name, (T, d), params, per_block=True, blocks=L)

    return [
        Stage("tokens", "Token ids", (T,), 0),
        Stage("wte", "Token embedding", (T, d), V * d),
        Stage("wpe", "Position embedding (added)", (T, d), config.context_length * d),
        block("ln1", "LayerNorm 1", ln),
        block("attn", f"Multi-head attention ({H} heads of {config.d_head})", attn),
        block("add1", "Residual add", 0),
        block("ln2", "LayerNorm 2", ln),
        block("mlp", f"MLP {d} → {4 * d} (GELU) → {d}", mlp),
        block("add2", "Residual add", 0),
        Stage("ln_f", "Final LayerNorm", (T, d), ln),
        *_output_stages(config, T),
    ]


def _output_stages(config, T: int) -> list[Stage]:
    V, d = config.vocab_size, config.n_embd
    return [Stage("unembed", "Unembedding" + (" (tied to the token embedding)" if config.tied_embeddings else ""),
                  (T, V), 0 if config.tied_embeddings else V * d),
            Stage("logits", "Logits → next-token probabilities", (T, V), 0)]


def check_total(config: GPTConfig | LlamaConfig) -> bool:
    return sum(s.total for s in stages(config, 1)) == count_parameters(config)


@torch.no_grad()
def logit_lens(model: LanguageModel, cache, top_k: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each layer's residual stream (after the block): the final norm then the unembedding.

    Returns probabilities [layer, pos, vocab] is too big to keep for 50k tokens, so: top ids [layer, pos, k],
    their probabilities [layer, pos, k], and every layer's probabilities of the final prediction [layer, pos].
    """
    resid = cache.stack("resid_post")[:, 0].to(model.device)  # (layer, pos, d)
    probs = torch.softmax(model.unembed(model.final_norm(resid)).float(), dim=-1)  # (layer, pos, vocab)
    top = torch.topk(probs, top_k, dim=-1)
    final = probs[-1].argmax(-1)  # the model's own prediction at each position
    final_prob = probs.gather(-1, final.expand(probs.shape[0], -1).unsqueeze(-1)).squeeze(-1)
    return top.indices.cpu(), top.values.cpu(), final_prob.cpu()


def layernorm_stats(before: torch.Tensor, after_normalise: torch.Tensor | None = None) -> dict[str, list[float]]:
    """Mean and variance per token of a [pos, d] tensor, before and after (x − μ)/σ."""
    mean = before.mean(-1)
    var = before.var(-1, unbiased=False)
    normalised = (before - mean[:, None]) / torch.sqrt(var[:, None] + 1e-5)
    return {"mean_before": mean.tolist(), "variance_before": var.tolist(),
            "mean_after": normalised.mean(-1).tolist(), "variance_after": normalised.var(-1, unbiased=False).tolist()}


def rmsnorm_stats(before: torch.Tensor, eps: float = 1e-6) -> dict[str, list[float]]:
    """Root mean square per token of a [pos, d] tensor, before and after x / RMS(x) (the mean is left alone)."""
    rms = before.pow(2).mean(-1).sqrt()
    normalised = before * torch.rsqrt(before.pow(2).mean(-1, keepdim=True) + eps)
    return {"mean_before": before.mean(-1).tolist(), "rms_before": rms.tolist(),
            "mean_after": normalised.mean(-1).tolist(), "rms_after": normalised.pow(2).mean(-1).sqrt().tolist()}
