"""What every model family shares: the contract the pages, analyses, generation and training rely on.

A family (GPT-2 in core.model.gpt, the Llama family in core.model.llama) subclasses `LanguageModel` and
provides the forward pass (`hidden`) and a few accessors, so no caller needs to know which family it holds:

    model.arch                  "gpt2" | "llama"
    model.config                vocab_size, context_length, n_layer, n_head, n_kv_head, n_embd, d_head, d_mlp,
                                tokenizer (every family's config has these)
    model.tokenizer             set by core.load_model
    model.token_embedding       the token embedding matrix [vocab, d_model]
    model.position_embedding    learned positions [context, d_model], or None (rotary positions)
    model.blocks                the transformer blocks (nn.ModuleList)
    model.final_norm(x)         the norm before the unembedding (LayerNorm or RMSNorm)
    model.unembed(x)            d_model -> vocabulary logits (lm_head)
    model.head_weights(l, h)    W_Q, b_Q, W_K, b_K, W_V, b_V [d_model, d_head] of query head h and its key/value
                                head, W_O [d_head, d_model] of head h, b_O
    model.output_projection(l)  W_O of every head [n_head, d_head, d_model] and b_O (from head_weights)
    model.kv_head(h)            the key/value head query head h reads (grouped-query attention; GPT: h)
    model.rotate_qk(l, q, k, positions)  what happens to q and k between the projection and Q·Kᵀ
                                (GPT: nothing; Llama: rotary embedding, Qwen3 also its q/k norms)
    model.hook_names            (names without a layer, names per layer) of run_with_cache / run_with_hooks

Left out: families whose blocks are not "norm, attention, add, norm, MLP, add" (parallel blocks, MoE).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.errors import PlaygroundError
from core.model.cache import Cache, hook_edits


class KVCache:
    """Keys and values of the tokens seen so far, per layer, for one-token-at-a-time generation.

    Buffers are allocated once for `max_length` positions and filled in place: appending by
    concatenation would copy the whole cache at every step. `length` is also the position of the
    next token (rotary embeddings need it).
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


def require_numbers(logits: torch.Tensor) -> torch.Tensor:
    """The logits, or one sentence when they hold NaN (a model whose weights are damaged: nothing computed from
    them would mean anything)."""
    if torch.isnan(logits).any():
        raise PlaygroundError("The model's logits are not numbers (NaN): its weights are damaged; choose another model.")
    return logits


def causal_mask(T: int, S: int, device) -> torch.Tensor:
    """True where query i (the last T of S positions) may look at key j."""
    return torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)


def point(cache: Cache | None, name: str, layer: int | None, value: torch.Tensor) -> torch.Tensor:
    """A hook point: the value itself when nothing captures or edits (training, generation)."""
    return value if cache is None else cache.point(name, layer, value)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layer: int, cache: Cache | None,
           dropout: float = 0.0) -> torch.Tensor:
    """softmax(Q·Kᵀ/√d_head, causal) · V for q [B, H, T, D] and k, v [B, H, S, D] (the last T of S positions
    are the queries) -> z [B, H, T, D]. The fused kernel runs normally; the explicit path while a cache
    captures or edits, through the points attn_scores, pattern and z."""
    T, S = q.shape[2], k.shape[2]
    if cache is None:
        needs_mask = T > 1 and S != T  # one new query may see every key: no mask, so the fastest kernel runs
        return F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(T, S, q.device) if needs_mask else None,
                                              is_causal=S == T and T > 1, dropout_p=dropout)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, H, T, S)
    scores = cache.point("attn_scores", layer, scores.masked_fill(~causal_mask(T, S, q.device), float("-inf")))
    pattern = cache.point("pattern", layer, torch.softmax(scores, dim=-1))
    return cache.point("z", layer, pattern @ v)


def pre_norm_block(x, layer: int, cache: Cache | None, norm1, attend, norm2, mlp) -> torch.Tensor:
    """The block every family shares, each stage a hook point: x + attend(norm1(x)), then + mlp(norm2(·))."""
    x = point(cache, "resid_pre", layer, x)
    ln1 = point(cache, "ln1", layer, norm1(x))
    attn_out = point(cache, "attn_out", layer, attend(ln1))
    mid = point(cache, "resid_mid", layer, x + attn_out)
    ln2 = point(cache, "ln2", layer, norm2(mid))
    mlp_out = point(cache, "mlp_out", layer, mlp(ln2))
    return point(cache, "resid_post", layer, mid + mlp_out)


class LanguageModel(nn.Module):
    """The shared part of every family: input checks, logits, capture and hooks."""

    arch = ""
    hook_names: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    lm_head: nn.Linear

    @property
    def device(self) -> torch.device:
        return self.token_embedding.device

    @property
    def unembed(self) -> nn.Linear:
        return self.lm_head

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())  # tied weights count once

    def kv_head(self, head: int) -> int:
        return head // (self.config.n_head // self.config.n_kv_head)

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

    def run_with_cache(self, ids, names=None) -> tuple[torch.Tensor, Cache]:
        """Forward pass that also returns the activations: `logits, cache = model.run_with_cache(ids)`.

        `names` limits what is kept (e.g. {"pattern"}); the explicit attention path runs either way.
        """
        return self._run(ids, Cache(names))

    def run_with_hooks(self, ids, fwd_hooks=(), return_cache: bool = False, names=None, positions=None):
        """Forward pass with edited activations: `fwd_hooks=[(name, layer, fn)]`, `name` a cache name (`layer`
        None for the names without a layer, e.g. embed, ln_final), `fn(activation)` returning the value to use
        instead (or None to keep it). The hooks live for this one call. Returns the logits, or (logits, cache)
        with return_cache (the cache holds the edited activations; `names` limits what it keeps). `positions`
        (an index of the time axis, e.g. -1) unembeds only those positions, `logits[:, positions]`: for
        analyses that read the prediction alone and run many edited copies at once."""
        edits = hook_edits(fwd_hooks, self.hook_names[1], self.hook_names[0], self.config.n_layer)
        logits, cache = self._run(ids, Cache(names if return_cache else set(), edits), positions)
        return (logits, cache) if return_cache else logits

    @torch.no_grad()
    def _run(self, ids, cache: Cache, positions=None) -> tuple[torch.Tensor, Cache]:
        ids = torch.as_tensor(ids, device=self.device)
        was_training = self.training
        self.eval()
        try:
            if positions is None:
                logits = self(ids, cache=cache)
            else:  # the unembedding (vocab × d_model per position) is most of a small model's work
                logits = self.unembed(self.hidden(ids, cache=cache)[:, positions])
        finally:
            self.train(was_training)
        return logits, cache

    def output_projection(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every head's share of a layer's attention output projection, W_O [n_head, d_head, d_model], and its
        bias b_O [d_model] (zeros without one): attn_out = Σ_h z_h · W_O[h] + b_O."""
        per_head = [self.head_weights(layer, h) for h in range(self.config.n_head)]
        return torch.stack([w["W_O"] for w in per_head]), per_head[0]["b_O"]
