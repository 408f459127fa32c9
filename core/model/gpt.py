"""GPT-2 in one readable file: a config dataclass and the model.

Parameter names follow GPT-2 (`transformer.wte`, `transformer.h.{i}.attn.c_attn`,
`...mlp.c_fc`, `transformer.ln_f`, `lm_head`), so real GPT-2 weights load unchanged
(core.checkpoints transposes Hugging Face's Conv1D matrices).

Attention runs the fused kernel (`scaled_dot_product_attention`) normally and the
explicit softmax path only while a `Cache` captures or edits activations (every
activation passes `cache.point(name, layer, value)`, see core.model.cache); a test
proves both agree. `forward` returns logits for every position, because the pages
look at all of them. A `KVCache` lets generation feed one token per step. What every family
shares (checks, logits, run_with_cache, run_with_hooks, the accessors pages use) is
core.model.base.LanguageModel.

Left out: dropout on attention weights inside the fused kernel during capture
(capture always runs in eval mode), and anything but learned absolute positions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import ClassVar

import torch
import torch.nn as nn

from core.errors import PlaygroundError
from core.model.base import KVCache, LanguageModel, attend, point, pre_norm_block
from core.model.cache import GLOBAL_NAMES, LAYER_NAMES, Cache
from core.model.limits import check_config_size, config_from_dict

SIZES = ("vocab_size", "context_length", "n_layer", "n_head", "n_embd")  # the fields a saved config must have


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    context_length: int = 1024  # longest input; GPT-2 calls it n_positions
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in LayerNorms and Linears, as GPT-2
    qkv_bias: bool = True  # bias of the query/key/value projection (GPT-2 has it; the book's config not)
    tied_embeddings: bool = True  # lm_head shares the token embedding matrix
    tokenizer: str = "gpt2"
    arch: ClassVar[str] = "gpt2"

    def __post_init__(self):
        # Types and sizes first, before anything (a model, an estimate) is built from them.
        check_config_size(lambda: count_parameters(self), **{name: getattr(self, name) for name in SIZES})
        if self.n_embd % self.n_head:
            raise PlaygroundError(
                "Impossible model config: the width n_embd={n_embd} must be divisible by n_head={n_head}.",
                n_embd=self.n_embd, n_head=self.n_head)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise PlaygroundError(
                "Impossible model config: dropout must be in [0, 1), not {dropout}.",
                dropout=repr(self.dropout)[:40])
        for name in ("bias", "qkv_bias", "tied_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise PlaygroundError("Impossible model config: {name} must be true or false, not {value}.",
                                      name=name, value=repr(getattr(self, name))[:40])
        if not isinstance(self.tokenizer, str) or not self.tokenizer:
            raise PlaygroundError("Impossible model config: tokenizer must be a name, not {value}.",
                                  value=repr(self.tokenizer)[:40])

    @property
    def d_head(self) -> int:
        return self.n_embd // self.n_head

    @property
    def n_kv_head(self) -> int:
        return self.n_head  # every head has its own keys and values

    @property
    def d_mlp(self) -> int:
        return 4 * self.n_embd

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GPTConfig:
        """A config as config.json stores it; the sizes must all be there (the rest has defaults)."""
        return config_from_dict(cls, data, SIZES)


def count_parameters(config: GPTConfig) -> int:
    """Parameters of a GPT with this config, from the formula (tests check the model against it).

    >>> count_parameters(GPTConfig())  # GPT-2 124M
    124439808
    """
    d, L, V, T = config.n_embd, config.n_layer, config.vocab_size, config.context_length
    b = 1 if config.bias else 0
    ln = 2 * d if config.bias else d
    attn = d * 3 * d + (3 * d if config.qkv_bias else 0) + d * d + b * d
    mlp = d * 4 * d + b * 4 * d + 4 * d * d + b * d
    per_block = 2 * ln + attn + mlp
    embeddings = V * d + T * d
    head = 0 if config.tied_embeddings else V * d
    return embeddings + L * per_block + ln + head


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.d_head = config.n_head, config.d_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.qkv_bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, layer: int, cache: Cache | None = None, kv: KVCache | None = None):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, nh, T, hs)
        q, k, v = (t.view(B, T, self.n_head, self.d_head).transpose(1, 2) for t in (q, k, v))
        if kv is not None:
            k, v = kv.append(layer, k, v)  # (B, nh, past+T, hs)
        if cache is not None:
            q, k, v = (cache.point(name, layer, t) for name, t in (("q", q), ("k", k), ("v", v)))
        z = attend(q, k, v, layer, cache, self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        y = z.transpose(1, 2).contiguous().view(B, T, C)  # concatenate heads
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's "gelu_new"
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, layer: int, cache: Cache | None = None):
        pre = point(cache, "mlp_pre", layer, self.c_fc(x))
        post = point(cache, "mlp_post", layer, self.gelu(pre))
        return self.dropout(self.c_proj(post))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, layer: int, cache: Cache | None = None, kv: KVCache | None = None):
        return pre_norm_block(x, layer, cache, self.ln_1, lambda h: self.attn(h, layer, cache, kv), self.ln_2,
                              lambda h: self.mlp(h, layer, cache))


class GPT(LanguageModel):
    arch = "gpt2"

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.context_length, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tied_embeddings:
            self.lm_head.weight = self.transformer.wte.weight
        self.tokenizer = None  # set by load_model; a model does not need one to run
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2's scaled init of the residual projections
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def hidden(self, ids: torch.Tensor, cache: Cache | None = None, kv: KVCache | None = None) -> torch.Tensor:
        """ids [batch, time] -> the final LayerNorm's output [batch, time, d_model], before the unembedding
        (what a classification head reads)."""
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        past = kv.length if kv is not None else 0
        self.check_ids(ids, past)
        pos = torch.arange(past, past + ids.shape[1], device=ids.device)
        tok_emb = point(cache, "embed", None, self.transformer.wte(ids))  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C)
        if cache is not None:
            pos_emb = cache.point("pos_embed", None, pos_emb.unsqueeze(0).expand_as(tok_emb))
        x = self.transformer.drop(tok_emb + pos_emb)
        for layer, block in enumerate(self.transformer.h):
            x = block(x, layer, cache, kv)
        return point(cache, "ln_final", None, self.transformer.ln_f(x))

    hook_names = (GLOBAL_NAMES, LAYER_NAMES)  # the hook points of this model: (without a layer, per layer)

    # --- the shared interface (core.model.base) ----------------------------------------------------------
    @property
    def token_embedding(self) -> torch.Tensor:
        return self.transformer.wte.weight

    @property
    def position_embedding(self) -> torch.Tensor:
        return self.transformer.wpe.weight

    @property
    def blocks(self) -> nn.ModuleList:
        return self.transformer.h

    @property
    def final_norm(self) -> nn.LayerNorm:
        return self.transformer.ln_f

    def head_weights(self, layer: int, head: int) -> dict[str, torch.Tensor]:
        """W_Q, W_K, W_V as [d_model, d_head] and their biases, W_O [d_head, d_model] and b_O of one head
        (nn.Linear stores [out, in]; c_attn holds Q, K and V one after the other)."""
        attn = self.transformer.h[layer].attn
        d, dh = self.config.n_embd, self.config.d_head
        weight = attn.c_attn.weight.detach()  # (3d, d)
        bias = attn.c_attn.bias.detach() if attn.c_attn.bias is not None else weight.new_zeros(3 * d)
        cols = slice(head * dh, (head + 1) * dh)
        out = {}
        for i, name in enumerate("QKV"):
            out[f"W_{name}"] = weight[i * d:(i + 1) * d][cols].T
            out[f"b_{name}"] = bias[i * d:(i + 1) * d][cols]
        proj = attn.c_proj
        out["W_O"] = proj.weight.detach()[:, cols].T
        out["b_O"] = proj.bias.detach() if proj.bias is not None else weight.new_zeros(d)
        return out

    def rotate_qk(self, layer: int, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        """Learned absolute positions are added to the input, so q and k go to Q·Kᵀ as they are."""
        return q, k
