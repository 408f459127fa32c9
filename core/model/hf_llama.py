"""Hugging Face folders of the Llama family (llama, mistral, qwen2, qwen3; SmolLM2 is a llama): config.json to
LlamaConfig and back, weights streamed from the safetensors shards into the model, the size and memory a
model needs before it is loaded, and the export transformers opens as LlamaForCausalLM (or Qwen2/Qwen3).

A folder is what `...ForCausalLM.save_pretrained` writes: config.json, model.safetensors or the shards
listed in model.safetensors.index.json, and (for the pages) tokenizer.json.

Loading is safe in this order: the config is checked (a supported family, no mixture of experts, no sliding
window shorter than the context, a known rope type); the tensor names, shapes and dtypes are read from the
shards' headers only and compared with what the config implies; the memory the model needs (fp32) is held
against the limit; only then is the model allocated and each tensor copied from its shard into place, one
at a time, so there is never a second full copy in memory.

Left out: quantised weights (GPTQ, AWQ, bitsandbytes), PyTorch .bin checkpoints (unsafe to read), adapters.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from core.errors import PlaygroundError
from core.model.hub import INDEX, SINGLE, shard_names
from core.model.llama import LLAMA3_KEYS, Llama, LlamaConfig, count_parameters
from core.tokens.hf_tokenizer import TOKENIZER_FILE, TOKENIZER_KEY

MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")
MOE_KEYS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_intermediate_size")
IGNORED = (".rotary_emb.inv_freq",)  # buffers some old checkpoints saved
BYTES_PER_PARAMETER = 4  # the playground computes in fp32, whatever the file stores


def config_from_hf(hf: dict, source) -> LlamaConfig:
    """config.json of a Llama-family model -> LlamaConfig; one sentence for what the playground cannot run."""
    model_type = hf.get("model_type")
    if model_type not in MODEL_TYPES:
        raise PlaygroundError(
            "{source} holds a '{model_type}' model; the playground runs GPT-2 and the Llama family ({types}).",
            source=source, model_type=model_type, types=", ".join(MODEL_TYPES))
    if any(hf.get(key) for key in MOE_KEYS):
        raise PlaygroundError("{source} is a mixture-of-experts model; only dense models are supported.", source=source)
    if hf.get("hidden_act", "silu") != "silu":
        raise PlaygroundError("{source} uses the activation {act}; the Llama family here uses SiLU (SwiGLU).",
                              source=source, act=hf.get("hidden_act"))
    try:
        fields = _read_fields(hf, model_type)
        window = _sliding_window(hf, model_type)
    except (KeyError, TypeError, ValueError) as e:
        raise PlaygroundError("{source}/config.json lacks or garbles the field {field}.", source=source,
                              field=str(e)[:60]) from None
    if window is not None and window < fields["context_length"]:
        raise PlaygroundError(
            "{source} attends through a sliding window of {window} tokens, shorter than its context of {context}; "
            "sliding-window attention is not supported.", source=source, window=window, context=fields["context_length"])
    if fields.pop("partial_rotary") != 1.0:
        raise PlaygroundError("{source} rotates only part of each head; partial rotary embeddings are not supported.",
                              source=source)
    return LlamaConfig(**fields)


def _read_fields(hf: dict, model_type: str) -> dict:
    """LlamaConfig's fields from config.json (the rope as transformers 4 writes it, rope_theta + rope_scaling,
    or as 5 does, rope_parameters)."""
    rope = {**(hf.get("rope_scaling") or {}), **(hf.get("rope_parameters") or {})}
    kind = rope.get("rope_type") or rope.get("type") or "default"
    scaling = None
    if kind != "default":
        rope.setdefault("original_max_position_embeddings", hf["max_position_embeddings"])
        scaling = {"rope_type": kind, **{k: rope[k] for k in LLAMA3_KEYS if k in rope}}
    attention_bias = bool(hf.get("attention_bias", False))
    return dict(
        vocab_size=int(hf["vocab_size"]), context_length=int(hf["max_position_embeddings"]),
        n_layer=int(hf["num_hidden_layers"]), n_head=int(hf["num_attention_heads"]),
        n_kv_head=int(hf.get("num_key_value_heads") or hf["num_attention_heads"]),
        n_embd=int(hf["hidden_size"]), d_mlp=int(hf["intermediate_size"]),
        head_dim=int(hf.get("head_dim") or (128 if model_type == "qwen3" else 0)),
        rope_theta=float(rope.get("rope_theta", hf.get("rope_theta", 10000.0))), rope_scaling=scaling,
        norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        qkv_bias={"qwen2": True, "mistral": False}.get(model_type, attention_bias),
        o_bias=model_type in ("llama", "qwen3") and attention_bias,
        mlp_bias=model_type == "llama" and bool(hf.get("mlp_bias", False)), qk_norm=model_type == "qwen3",
        tied_embeddings=bool(hf.get("tie_word_embeddings", False)), dropout=0.0,
        tokenizer=str(hf.get(TOKENIZER_KEY, TOKENIZER_FILE)),  # a model we trained names its tiktoken-style tokenizer
        partial_rotary=float(rope.get("partial_rotary_factor", hf.get("partial_rotary_factor", 1.0))),
    )


def _sliding_window(hf: dict, model_type: str) -> int | None:
    """The window a config really uses: Mistral's whenever set (4096 when the key is missing, as in
    transformers), Qwen's only with use_sliding_window."""
    if model_type == "mistral":
        window = hf.get("sliding_window", 4096)
    elif model_type in ("qwen2", "qwen3"):
        window = hf.get("sliding_window") if hf.get("use_sliding_window") else None
    else:
        window = None
    if "sliding_attention" in (hf.get("layer_types") or []):
        window = hf.get("sliding_window") or window
    return int(window) if window else None


def config_to_hf(config: LlamaConfig) -> tuple[dict, set[str]]:
    """LlamaConfig -> (config.json, the bias tensors transformers expects that we must write as zeros).

    Qwen3 if q/k norm, Qwen2 for q/k/v biases alone, otherwise Llama (whose one attention_bias switch covers
    q, k, v and o: a missing bias is written as zeros, the same function)."""
    c = config
    attention_bias = c.qkv_bias or c.o_bias
    if c.qk_norm:
        model_type = "qwen3"
    elif c.qkv_bias and not c.o_bias and not c.mlp_bias:
        model_type = "qwen2"
    else:
        model_type = "llama"
    hf = {
        "architectures": [{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[model_type]],
        "model_type": model_type, "vocab_size": c.vocab_size, "max_position_embeddings": c.context_length,
        "hidden_size": c.n_embd, "intermediate_size": c.d_mlp, "num_hidden_layers": c.n_layer,
        "num_attention_heads": c.n_head, "num_key_value_heads": c.n_kv_head, "head_dim": c.d_head,
        "hidden_act": "silu", "rms_norm_eps": c.norm_eps, "rope_theta": c.rope_theta,
        "rope_scaling": dict(c.rope_scaling) if c.rope_scaling else None,
        "tie_word_embeddings": c.tied_embeddings, "attention_dropout": 0.0, "initializer_range": 0.02,
        "torch_dtype": "float32", "use_cache": True,
    }
    zeros = set()
    if model_type == "llama":
        hf.update(attention_bias=attention_bias, mlp_bias=c.mlp_bias)
        if attention_bias:
            zeros = {"q_proj", "k_proj", "v_proj", "o_proj"} - ({"q_proj", "k_proj", "v_proj"} if c.qkv_bias else set()) \
                - ({"o_proj"} if c.o_bias else set())
    elif model_type == "qwen3":
        hf.update(attention_bias=attention_bias, use_sliding_window=False, sliding_window=None)
        if attention_bias:
            zeros = {"q_proj", "k_proj", "v_proj", "o_proj"} - ({"q_proj", "k_proj", "v_proj"} if c.qkv_bias else set()) \
                - ({"o_proj"} if c.o_bias else set())
    else:
        hf.update(use_sliding_window=False, sliding_window=None)
    return hf, zeros


# --- reading a folder -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Requirements:
    """What loading a model costs, known before it is loaded."""
    parameters: int
    file_bytes: int  # the weights on disk
    memory_bytes: int  # the weights in memory as the playground holds them (fp32)
    stored_dtype: str  # how the files store them, e.g. "BF16"

    @property
    def memory_gb(self) -> float:
        return self.memory_bytes / 1e9


def memory_limit_bytes() -> int:
    """The most memory one model's weights may take: LLM_PLAYGROUND_MAX_MODEL_GB, else half the machine's RAM."""
    if os.environ.get("LLM_PLAYGROUND_MAX_MODEL_GB"):
        return int(float(os.environ["LLM_PLAYGROUND_MAX_MODEL_GB"]) * 1e9)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 10**9


def check_memory(parameters: int, source) -> None:
    """Refuse a model whose fp32 weights would exceed the limit, before anything is allocated or downloaded."""
    needed, limit = parameters * BYTES_PER_PARAMETER, memory_limit_bytes()
    if needed > limit:
        raise PlaygroundError(
            "{source} has {params} parameters and needs {needed} GB of memory; this server allows {limit} GB per model.",
            source=source, params=f"{parameters:,}", needed=f"{needed / 1e9:.1f}", limit=f"{limit / 1e9:.1f}")


def read_config(folder: Path) -> LlamaConfig:
    path = folder / "config.json"
    try:
        hf = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PlaygroundError("{path} is not a readable JSON file ({problem}).", path=path,
                              problem=e.__class__.__name__) from None
    return config_from_hf(hf, folder)


def shard_files(folder: Path) -> list[Path]:
    if (folder / INDEX).exists():
        files = [folder / name for name in shard_names(folder / INDEX)]
    else:
        files = [folder / SINGLE]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise PlaygroundError("{folder} lacks the weights file {file}.", folder=folder, file=missing[0])
    return files


def _tensor_name(name: str) -> str:
    """Weights saved from LlamaModel (no head) lack the "model." prefix."""
    return name if name.startswith(("model.", "lm_head.")) else "model." + name


def read_headers(folder: Path) -> dict[str, tuple[Path, tuple, str]]:
    """{our tensor name: (shard, shape, dtype)} from the shards' headers, without reading any tensor."""
    found = {}
    for shard in shard_files(folder):
        try:
            with safe_open(str(shard), framework="pt") as f:
                for name in f.keys():
                    if name.endswith(IGNORED):
                        continue
                    part = f.get_slice(name)
                    found[_tensor_name(name)] = (shard, tuple(part.get_shape()), part.get_dtype())
        except (SafetensorError, OSError, ValueError) as e:
            raise PlaygroundError("{path} is not a valid safetensors file ({problem}).", path=shard,
                                  problem=str(e)[:80]) from None
    return found


def _skeleton(config: LlamaConfig) -> Llama:
    """The model without memory (on the meta device): its parameter names and shapes."""
    with torch.device("meta"):
        return Llama(config)


def _match(config: LlamaConfig, headers: dict, source) -> dict[str, tuple]:
    """The tensors to load; one sentence when the files and the config disagree."""
    expected = {name: tuple(t.shape) for name, t in _skeleton(config).state_dict().items()}
    if config.tied_embeddings:
        expected.pop("lm_head.weight")
        headers = {k: v for k, v in headers.items() if k != "lm_head.weight"}
    missing = sorted(set(expected) - set(headers))
    unexpected = sorted(set(headers) - set(expected))
    wrong = [k for k in expected if k in headers and headers[k][1] != expected[k]]
    if missing or unexpected or wrong:
        detail = (f"{wrong[0]} has shape {headers[wrong[0]][1]}, config wants {expected[wrong[0]]}" if wrong
                  else f"missing {missing[:2]}" if missing else f"unexpected {unexpected[:2]}")
        raise PlaygroundError("The weights in {source} do not match its config: {detail}.", source=source,
                              detail=detail)
    return headers


def requirements(folder) -> Requirements:
    """Parameters, bytes on disk and memory needed, from config.json and the shards' headers alone."""
    folder = Path(folder)
    config = read_config(folder)
    headers = _match(config, read_headers(folder), folder)
    dtypes = sorted({dtype for _, _, dtype in headers.values()})
    n = count_parameters(config)
    return Requirements(n, sum(f.stat().st_size for f in shard_files(folder)), n * BYTES_PER_PARAMETER,
                        "/".join(dtypes))


def load_folder(folder, device="cpu") -> Llama:
    """The model of a Hugging Face Llama-family folder, in eval mode, weights streamed in one tensor at a time."""
    folder = Path(folder)
    config = read_config(folder)
    headers = _match(config, read_headers(folder), folder)
    check_memory(count_parameters(config), folder)
    model = _skeleton(config).to_empty(device=device)
    model.inv_freq = model.inv_freq.to("cpu")
    if config.tied_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    targets = model.state_dict(keep_vars=True)
    by_shard: dict[Path, list[str]] = {}
    for name, (shard, _, _) in headers.items():
        by_shard.setdefault(shard, []).append(name)
    with torch.no_grad():
        for shard, names in by_shard.items():
            with safe_open(str(shard), framework="pt") as f:
                stored = {_tensor_name(n): n for n in f.keys()}
                for name in names:
                    targets[name].copy_(f.get_tensor(stored[name]))  # converts bf16/fp16 to fp32 in place
    return model.eval()


def export_folder(model: Llama, folder) -> Path:
    """Write the model so transformers' AutoModelForCausalLM (LlamaForCausalLM, Qwen2/Qwen3) opens it with the
    same logits; the tokenizer.json goes along when the model has one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c = model.config
    hf, zeros = config_to_hf(c)
    state = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and c.tied_embeddings:
            continue  # safetensors refuses shared tensors; embed_tokens holds it
        state[name] = tensor.detach().float().cpu().contiguous()
    for layer in range(c.n_layer):
        attn = model.model.layers[layer].self_attn
        for proj in zeros:
            state[f"model.layers.{layer}.self_attn.{proj}.bias"] = torch.zeros(getattr(attn, proj).out_features)
    save_file(state, str(folder / SINGLE), metadata={"format": "pt"})
    tokenizer = model.tokenizer
    if tokenizer is not None and hasattr(tokenizer, "eot_id"):
        hf["eos_token_id"] = tokenizer.eot_id
    if c.tokenizer != TOKENIZER_FILE:  # trained here with a tiktoken-style tokenizer: name it, ship a trained one
        hf[TOKENIZER_KEY] = c.tokenizer
        if tokenizer is not None and getattr(tokenizer, "trained", False):
            tokenizer.save(folder)
    (folder / "config.json").write_text(json.dumps(hf, indent=2))
    source = Path(getattr(tokenizer, "name", ""))
    if source.name == TOKENIZER_FILE and source.is_file() and source.resolve() != (folder / TOKENIZER_FILE).resolve():
        shutil.copyfile(source, folder / TOKENIZER_FILE)
    return folder
