"""The Llama family in one readable file: Llama 2/3.x, Mistral, Qwen2/2.5, Qwen3 (dense), SmolLM2.

What changes against GPT-2 (core.model.gpt):
  RMSNorm        x / sqrt(mean(x²) + eps) · weight: no mean subtracted, no bias
  rotary (RoPE)  no position vectors are added; q and k of each head are rotated by an angle that grows
                 with the position, pair (i, i + d_head/2) at frequency rope_theta^(-2i/d_head), so Q·Kᵀ
                 depends on the distance between two tokens (Llama 3 rescales the low frequencies)
  SwiGLU MLP     down(silu(gate(x)) · up(x)), three matrices instead of two
  grouped-query  n_kv_head ≤ n_head key/value heads; query head h reads key/value head
  attention      h // (n_head / n_kv_head)
  options        q/k/v bias (Qwen2), per-head RMSNorm of q and k (Qwen3), tied or untied embeddings

Parameter names are Hugging Face's (`model.embed_tokens`, `model.layers.{i}.self_attn.q_proj`,
`...mlp.gate_proj`, `model.layers.{i}.input_layernorm`, `model.norm`, `lm_head`), so their weights
load unchanged (core.model.hf_llama). As in the GPT, attention runs the fused kernel normally and the
explicit softmax path while a `Cache` captures or edits; every activation passes
`cache.point(name, layer, value)` under the GPT's names (ln1/ln2 are the RMSNorm outputs; k and v have
n_kv_head heads, pattern has one row block per query head), plus:
    q_rot, k_rot  [batch, head, pos, d_head]  q and k after rotation (and Qwen3's q/k norm): what Q·Kᵀ reads
    mlp_pre       [batch, pos, d_mlp]         gate(x), before SiLU
    mlp_up        [batch, pos, d_mlp]         up(x)
    mlp_post      [batch, pos, d_mlp]         silu(gate(x)) · up(x), what down reads
and no pos_embed.

Left out: mixture of experts, sliding-window attention, rope types other than default and llama3,
partial rotary dimensions (core.model.hf_llama refuses such configs with one sentence).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.errors import PlaygroundError
from core.model.base import KVCache, LanguageModel, attend, point, pre_norm_block
from core.model.cache import Cache
from core.model.limits import check_config_size, config_from_dict

# the fields a saved config must have
SIZES = ("vocab_size", "context_length", "n_layer", "n_head", "n_kv_head", "n_embd", "d_mlp")

GLOBAL_NAMES = ("embed", "ln_final")
LAYER_NAMES = (
    "resid_pre", "ln1", "q", "k", "v", "q_rot", "k_rot", "attn_scores", "pattern", "z", "attn_out",
    "resid_mid", "ln2", "mlp_pre", "mlp_up", "mlp_post", "mlp_out", "resid_post",
)
ROPE_TYPES = ("default", "llama3")
LLAMA3_KEYS = ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")


@dataclass
class LlamaConfig:
    """Defaults: the shape of SmolLM2-135M."""
    vocab_size: int = 49152
    context_length: int = 8192  # longest input; Hugging Face calls it max_position_embeddings
    n_layer: int = 30
    n_head: int = 9  # query heads
    n_kv_head: int = 3  # key/value heads (grouped-query attention); n_head for plain multi-head attention
    n_embd: int = 576
    d_mlp: int = 1536  # SwiGLU hidden width (intermediate_size)
    head_dim: int = 0  # 0: n_embd // n_head (Qwen3 and some Llamas set their own)
    rope_theta: float = 100000.0
    rope_scaling: dict | None = None  # None, or Llama 3's {"rope_type": "llama3", "factor", ...}
    norm_eps: float = 1e-5
    qkv_bias: bool = False  # Qwen2 has biases on q, k and v
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False  # Qwen3: RMSNorm over each head's q and k before the rotation
    tied_embeddings: bool = True
    dropout: float = 0.0
    tokenizer: str = "gpt2"  # a shipped tiktoken name, or "tokenizer.json" (the file beside the weights)
    arch: ClassVar[str] = "llama"

    def __post_init__(self):
        # Types and sizes first, before anything (a model, an estimate) is built from them.
        check_config_size(lambda: count_parameters(self), **{name: getattr(self, name) for name in SIZES})
        if self.n_head % self.n_kv_head:
            raise PlaygroundError(
                "Impossible model config: n_head={n_head} query heads cannot share n_kv_head={n_kv_head} key/value "
                "heads evenly.", n_head=self.n_head, n_kv_head=self.n_kv_head)
        if not self.head_dim and self.n_embd % self.n_head:
            raise PlaygroundError(
                "Impossible model config: the width n_embd={n_embd} must be divisible by n_head={n_head}.",
                n_embd=self.n_embd, n_head=self.n_head)
        if self.d_head % 2:
            raise PlaygroundError("Impossible model config: rotary embeddings need an even head width, not {d_head}.",
                                  d_head=self.d_head)
        if not 0.0 <= self.dropout < 1.0:
            raise PlaygroundError("Impossible model config: dropout must be in [0, 1), not {dropout}.",
                                  dropout=self.dropout)
        if not self.rope_theta > 0:
            raise PlaygroundError("Impossible model config: rope_theta must be positive, not {theta}.",
                                  theta=self.rope_theta)
        kind = (self.rope_scaling or {}).get("rope_type", "default")
        if kind not in ROPE_TYPES:
            raise PlaygroundError(
                "This model uses '{kind}' rope scaling; only the plain rotary embedding and Llama 3's (llama3) are "
                "supported.", kind=kind)
        if kind == "llama3":
            missing = [k for k in LLAMA3_KEYS if k not in self.rope_scaling]
            if missing:
                raise PlaygroundError("The llama3 rope scaling lacks {missing}.", missing=", ".join(missing))

    @property
    def d_head(self) -> int:
        return self.head_dim or self.n_embd // self.n_head

    @property
    def bias(self) -> bool:
        """Whether any Linear has a bias (GPTConfig's field of the same name)."""
        return self.qkv_bias or self.o_bias or self.mlp_bias

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LlamaConfig:
        """A config as config.json stores it; the sizes must all be there (the rest has defaults)."""
        return config_from_dict(cls, data, SIZES)


def count_parameters(config: LlamaConfig) -> int:
    """Parameters of a Llama-family model with this config, from the formula.

    >>> count_parameters(LlamaConfig())  # SmolLM2-135M
    134515008
    """
    d, L, V, m = config.n_embd, config.n_layer, config.vocab_size, config.d_mlp
    q, kv = config.n_head * config.d_head, config.n_kv_head * config.d_head
    attn = d * q + 2 * d * kv + q * d
    attn += (q + 2 * kv if config.qkv_bias else 0) + (d if config.o_bias else 0) + (2 * config.d_head if config.qk_norm else 0)
    mlp = 3 * d * m + (2 * m + d if config.mlp_bias else 0)
    per_block = 2 * d + attn + mlp  # two RMSNorm weights
    head = 0 if config.tied_embeddings else V * d
    return V * d + L * per_block + d + head


def default_mlp_width(n_embd: int) -> int:
    """The Llama papers' SwiGLU width for training from scratch: 8/3 · n_embd (same parameters as a 4 · n_embd
    GELU MLP), rounded up to a multiple of 64."""
    return 64 * math.ceil(8 * n_embd / 3 / 64)


def rotary_frequencies(config: LlamaConfig) -> torch.Tensor:
    """The angle per position of each rotated pair [d_head / 2], with Llama 3's rescaling of long wavelengths:
    wavelengths beyond original_context / low_freq_factor are slowed down by `factor`, those below
    original_context / high_freq_factor stay, the ones between are blended."""
    dh = config.d_head
    inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dh, 2, dtype=torch.float, device="cpu") / dh))
    scaling = config.rope_scaling or {}
    if scaling.get("rope_type", "default") != "llama3":
        return inv_freq
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    original = scaling["original_max_position_embeddings"]
    wavelength = 2 * math.pi / inv_freq
    slowed = torch.where(wavelength > original / low, inv_freq / factor, inv_freq)
    blend = (original / wavelength - low) / (high - low)
    blended = (1 - blend) * slowed / factor + blend * slowed
    between = ~(wavelength < original / high) & ~(wavelength > original / low)
    return torch.where(between, blended, slowed)


def rotary_cos_sin(inv_freq: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin [positions, d_head] of the angle position · frequency, each pair's angle written twice
    (the first half of a head pairs with the second half)."""
    angles = positions[:, None].float() * inv_freq.to(positions.device)[None, :]  # (T, dh/2)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x_i, x_{i+d/2}) of x [..., T, d_head] by its angle: (x_i cos − x_{i+d/2} sin,
    x_{i+d/2} cos + x_i sin)."""
    half = x.shape[-1] // 2
    turned = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + turned * sin


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()  # the mean of squares in fp32, as Hugging Face does, also under bf16
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.to(x.dtype)


class Attention(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.d_head = config.n_head, config.n_kv_head, config.d_head
        d, q, kv = config.n_embd, config.n_head * config.d_head, config.n_kv_head * config.d_head
        self.q_proj = nn.Linear(d, q, bias=config.qkv_bias)
        self.k_proj = nn.Linear(d, kv, bias=config.qkv_bias)
        self.v_proj = nn.Linear(d, kv, bias=config.qkv_bias)
        self.o_proj = nn.Linear(q, d, bias=config.o_bias)
        if config.qk_norm:
            self.q_norm = RMSNorm(config.d_head, config.norm_eps)
            self.k_norm = RMSNorm(config.d_head, config.norm_eps)
        self.qk_norm = config.qk_norm
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def rotate_qk(self, q, k, cos, sin):
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        return rotate(q, cos, sin), rotate(k, cos, sin)

    def forward(self, x, layer: int, cos, sin, cache: Cache | None = None, kv: KVCache | None = None):
        B, T, _ = x.shape
        H, Hkv, D = self.n_head, self.n_kv_head, self.d_head
        q = self.q_proj(x).view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
        k = self.k_proj(x).view(B, T, Hkv, D).transpose(1, 2)  # (B, Hkv, T, D)
        v = self.v_proj(x).view(B, T, Hkv, D).transpose(1, 2)
        if cache is not None:
            q, k, v = (cache.point(name, layer, t) for name, t in (("q", q), ("k", k), ("v", v)))
        q, k = self.rotate_qk(q, k, cos, sin)
        if cache is not None:
            q, k = cache.point("q_rot", layer, q), cache.point("k_rot", layer, k)
        if kv is not None:
            k, v = kv.append(layer, k, v)  # (B, Hkv, past+T, D), keys stored already rotated
        S = k.shape[2]
        if H != Hkv:  # each key/value head serves n_head / n_kv_head query heads side by side
            k = k[:, :, None].expand(B, Hkv, H // Hkv, S, D).reshape(B, H, S, D)
            v = v[:, :, None].expand(B, Hkv, H // Hkv, S, D).reshape(B, H, S, D)
        z = attend(q, k, v, layer, cache, self.dropout if self.training else 0.0)  # (B, H, T, D)
        y = z.transpose(1, 2).reshape(B, T, H * D)  # concatenate heads
        return self.resid_dropout(self.o_proj(y))


class MLP(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.n_embd, config.d_mlp, bias=config.mlp_bias)
        self.up_proj = nn.Linear(config.n_embd, config.d_mlp, bias=config.mlp_bias)
        self.down_proj = nn.Linear(config.d_mlp, config.n_embd, bias=config.mlp_bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, layer: int, cache: Cache | None = None):
        gate = point(cache, "mlp_pre", layer, self.gate_proj(x))
        up = point(cache, "mlp_up", layer, self.up_proj(x))
        post = point(cache, "mlp_post", layer, F.silu(gate) * up)
        return self.dropout(self.down_proj(post))


class Block(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(config.n_embd, config.norm_eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.n_embd, config.norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, layer: int, cos, sin, cache: Cache | None = None, kv: KVCache | None = None):
        return pre_norm_block(x, layer, cache, self.input_layernorm,
                              lambda h: self.self_attn(h, layer, cos, sin, cache, kv),
                              self.post_attention_layernorm, lambda h: self.mlp(h, layer, cache))


class Llama(LanguageModel):
    arch = "llama"
    hook_names = (GLOBAL_NAMES, LAYER_NAMES)  # the hook points of this model: (without a layer, per layer)

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.model = nn.ModuleDict(dict(
            embed_tokens=nn.Embedding(config.vocab_size, config.n_embd),
            layers=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            norm=RMSNorm(config.n_embd, config.norm_eps),
        ))
        self.drop = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tied_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.inv_freq = rotary_frequencies(config)  # on the CPU; no buffer, so a model built on "meta" has it too
        self.tokenizer = None  # set by load_model; a model does not need one to run
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):  # GPT-2's scaled init of the residual outputs
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hidden(self, ids: torch.Tensor, cache: Cache | None = None, kv: KVCache | None = None) -> torch.Tensor:
        """ids [batch, time] -> the final RMSNorm's output [batch, time, d_model], before the unembedding."""
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        past = kv.length if kv is not None else 0
        self.check_ids(ids, past)
        cos, sin = rotary_cos_sin(self.inv_freq, torch.arange(past, past + ids.shape[1], device=ids.device))
        x = self.drop(point(cache, "embed", None, self.model.embed_tokens(ids)))  # (B, T, C)
        for layer, block in enumerate(self.model.layers):
            x = block(x, layer, cos, sin, cache, kv)
        return point(cache, "ln_final", None, self.model.norm(x))

    # --- the shared interface (core.model.base) ----------------------------------------------------------
    @property
    def token_embedding(self) -> torch.Tensor:
        return self.model.embed_tokens.weight

    position_embedding = None  # positions enter through the rotation of q and k

    @property
    def blocks(self) -> nn.ModuleList:
        return self.model.layers

    @property
    def final_norm(self) -> RMSNorm:
        return self.model.norm

    def head_weights(self, layer: int, head: int) -> dict[str, torch.Tensor]:
        """W_Q of query head `head`, W_K and W_V of the key/value head it reads, as [d_model, d_head], their
        biases, W_O [d_head, d_model] and b_O."""
        attn = self.model.layers[layer].self_attn
        dh = self.config.d_head
        out = {}
        for name, proj, index in (("Q", attn.q_proj, head), ("K", attn.k_proj, self.kv_head(head)),
                                  ("V", attn.v_proj, self.kv_head(head))):
            rows = slice(index * dh, (index + 1) * dh)
            out[f"W_{name}"] = proj.weight.detach()[rows].T
            out[f"b_{name}"] = proj.bias.detach()[rows] if proj.bias is not None else proj.weight.new_zeros(dh)
        out["W_O"] = attn.o_proj.weight.detach()[:, head * dh:(head + 1) * dh].T
        o_bias = attn.o_proj.bias
        out["b_O"] = o_bias.detach() if o_bias is not None else attn.o_proj.weight.new_zeros(self.config.n_embd)
        return out

    def rotate_qk(self, layer: int, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        """q and k [..., T, d_head] of tokens at `positions` as Q·Kᵀ reads them: rotated (Qwen3: normed first)."""
        cos, sin = rotary_cos_sin(self.inv_freq, positions.to(q.device))
        return self.model.layers[layer].self_attn.rotate_qk(q, k, cos, sin)
