"""GPT-2 in one readable file: a config dataclass and the model.

Parameter names follow GPT-2 (`transformer.wte`, `transformer.h.{i}.attn.c_attn`,
`...mlp.c_fc`, `transformer.ln_f`, `lm_head`), so real GPT-2 weights load unchanged
(core.checkpoints transposes Hugging Face's Conv1D matrices).

Attention runs the fused kernel (`scaled_dot_product_attention`) normally and the
explicit softmax path only while a `Cache` captures or edits activations (every
activation passes `cache.point(name, layer, value)`, see core.model.cache); a test
proves both agree. `forward` returns logits for every position, because the pages
look at all of them. A `KVCache` lets generation feed one token per step.

Left out: dropout on attention weights inside the fused kernel during capture
(capture always runs in eval mode), and anything but learned absolute positions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.errors import PlaygroundError
from core.model.cache import GLOBAL_NAMES, LAYER_NAMES, Cache, hook_edits


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

    def __post_init__(self):
        for name in ("vocab_size", "context_length", "n_layer", "n_head", "n_embd"):
            if int(getattr(self, name)) < 1:
                raise PlaygroundError("Impossible model config: {name} must be at least 1.", name=name)
        if self.n_embd % self.n_head:
            raise PlaygroundError(
                "Impossible model config: the width n_embd={n_embd} must be divisible by n_head={n_head}.",
                n_embd=self.n_embd, n_head=self.n_head)
        if not 0.0 <= self.dropout < 1.0:
            raise PlaygroundError(
                "Impossible model config: dropout must be in [0, 1), not {dropout}.",
                dropout=self.dropout)

    @property
    def d_head(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GPTConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


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


class KVCache:
    """Keys and values of the tokens seen so far, per layer, for one-token-at-a-time generation.

    Buffers are allocated once for `max_length` positions and filled in place: appending by
    concatenation would copy the whole cache at every step.
    """

    def __init__(self, n_layer: int, max_length: int):
        self.max_length = max_length
        self.buffers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layer
        self.length = 0  # positions filled in every layer (updated after the last layer)
        self.n_layer = n_layer

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        B, H, T, D = k.shape
        if self.buffers[layer] is None:
            shape = (B, H, self.max_length, D)
            self.buffers[layer] = (k.new_empty(shape), v.new_empty(shape))
        start, end = self.length, self.length + T
        kb, vb = self.buffers[layer]
        kb[:, :, start:end] = k
        vb[:, :, start:end] = v
        if layer == self.n_layer - 1:
            self.length = end
        return kb[:, :, :end], vb[:, :, :end]


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
        S = k.shape[2]
        if cache is None:
            # One new query may see every key: no mask, so the fastest kernel runs.
            needs_mask = T > 1 and S != T
            z = F.scaled_dot_product_attention(
                q, k, v,
                attn_mask=_causal_mask(T, S, x.device) if needs_mask else None,
                is_causal=S == T and T > 1,
                dropout_p=self.dropout if self.training else 0.0,
            )
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.d_head)  # (B, nh, T, S)
            scores = cache.point("attn_scores", layer, scores.masked_fill(~_causal_mask(T, S, x.device), float("-inf")))
            pattern = cache.point("pattern", layer, torch.softmax(scores, dim=-1))
            z = cache.point("z", layer, pattern @ v)  # (B, nh, T, hs)
        y = z.transpose(1, 2).contiguous().view(B, T, C)  # concatenate heads
        return self.resid_dropout(self.c_proj(y))


def _causal_mask(T: int, S: int, device) -> torch.Tensor:
    """True where query i (the last T of S positions) may look at key j."""
    return torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's "gelu_new"
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, layer: int, cache: Cache | None = None):
        pre = _point(cache, "mlp_pre", layer, self.c_fc(x))
        post = _point(cache, "mlp_post", layer, self.gelu(pre))
        return self.dropout(self.c_proj(post))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, layer: int, cache: Cache | None = None, kv: KVCache | None = None):
        x = _point(cache, "resid_pre", layer, x)
        ln1 = _point(cache, "ln1", layer, self.ln_1(x))
        attn_out = _point(cache, "attn_out", layer, self.attn(ln1, layer, cache, kv))
        mid = _point(cache, "resid_mid", layer, x + attn_out)
        ln2 = _point(cache, "ln2", layer, self.ln_2(mid))
        mlp_out = _point(cache, "mlp_out", layer, self.mlp(ln2, layer, cache))
        return _point(cache, "resid_post", layer, mid + mlp_out)


def _point(cache: Cache | None, name: str, layer: int | None, value: torch.Tensor) -> torch.Tensor:
    """A hook point: the value itself when nothing captures or edits (training, generation)."""
    return value if cache is None else cache.point(name, layer, value)


class GPT(nn.Module):
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

    @property
    def device(self) -> torch.device:
        return self.transformer.wte.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())  # tied weights count once

    def check_ids(self, ids: torch.Tensor, past: int = 0) -> None:
        T = ids.shape[1]
        if T == 0:
            raise PlaygroundError("The input is empty: give at least one token.")
        if past + T > self.config.context_length:
            raise PlaygroundError(
                "The input has {length} tokens but this model reads at most {context_length}; shorten it (keep the "
                "end).",
                length=past + T, context_length=self.config.context_length)
        if self.training:
            return  # training batches come from the tokenizer; reading min/max would sync the GPU every step
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= self.config.vocab_size:
            bad = lo if lo < 0 else hi
            raise PlaygroundError(
                "Token id {bad} is outside this model's vocabulary (0 to {last}).",
                bad=bad, last=self.config.vocab_size - 1)

    def forward(self, ids: torch.Tensor, cache: Cache | None = None, kv: KVCache | None = None) -> torch.Tensor:
        """ids [batch, time] -> logits [batch, time, vocab] for every position."""
        x = self.hidden(ids, cache, kv)
        pad = -self.config.vocab_size % 64
        if self.training and pad and x.is_cuda:
            # GPU matrix products run fastest on multiples of 64: pad the unembedding with zero rows, drop their
            # logits (on the CPU the extra copy costs more than it saves).
            return F.linear(x, F.pad(self.lm_head.weight, (0, 0, 0, pad)))[..., :self.config.vocab_size]
        return self.lm_head(x)

    def hidden(self, ids: torch.Tensor, cache: Cache | None = None, kv: KVCache | None = None) -> torch.Tensor:
        """ids [batch, time] -> the final LayerNorm's output [batch, time, d_model], before the unembedding
        (what a classification head reads)."""
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        past = kv.length if kv is not None else 0
        self.check_ids(ids, past)
        pos = torch.arange(past, past + ids.shape[1], device=ids.device)
        tok_emb = _point(cache, "embed", None, self.transformer.wte(ids))  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C)
        if cache is not None:
            pos_emb = cache.point("pos_embed", None, pos_emb.unsqueeze(0).expand_as(tok_emb))
        x = self.transformer.drop(tok_emb + pos_emb)
        for layer, block in enumerate(self.transformer.h):
            x = block(x, layer, cache, kv)
        return _point(cache, "ln_final", None, self.transformer.ln_f(x))

    hook_names = (GLOBAL_NAMES, LAYER_NAMES)  # the hook points of this model: (without a layer, per layer)

    def run_with_cache(self, ids, names=None) -> tuple[torch.Tensor, Cache]:
        """Forward pass that also returns the activations: `logits, cache = model.run_with_cache(ids)`.

        `names` limits what is kept (e.g. {"pattern"}); the explicit attention path runs either way.
        """
        return self._run(ids, Cache(names))

    def run_with_hooks(self, ids, fwd_hooks=(), return_cache: bool = False, names=None):
        """Forward pass with edited activations: `fwd_hooks=[(name, layer, fn)]`, `name` a cache name (`layer`
        None for embed, pos_embed, ln_final), `fn(activation)` returning the value to use instead (or None to
        keep it). The hooks live for this one call. Returns the logits, or (logits, cache) with return_cache
        (the cache holds the edited activations; `names` limits what it keeps)."""
        edits = hook_edits(fwd_hooks, self.hook_names[1], self.hook_names[0], self.config.n_layer)
        logits, cache = self._run(ids, Cache(names if return_cache else set(), edits))
        return (logits, cache) if return_cache else logits

    @torch.no_grad()
    def _run(self, ids, cache: Cache) -> tuple[torch.Tensor, Cache]:
        ids = torch.as_tensor(ids, device=self.device)
        was_training = self.training
        self.eval()
        try:
            logits = self(ids, cache=cache)
        finally:
            self.train(was_training)
        return logits, cache
