"""Checkpoints: our folder format, the Hugging Face GPT-2 layout, and `load_model`.

Our format (version 1), a folder with
    model.safetensors   the weights (lm_head left out when tied to wte)
    config.json         {"format": "llm-playground", "version": 1, "config": GPTConfig fields}
    card.json           the model card: how it was trained, losses, a sample
No pickle anywhere: safetensors only (optimizer state, in core.train, uses
`torch.load(weights_only=True)`).

The Hugging Face layout is what `GPT2LMHeadModel.save_pretrained` writes:
config.json (model_type "gpt2") + model.safetensors, with Conv1D matrices
stored [in, out], i.e. transposed against our nn.Linear.

Left out: sharded checkpoints, other architectures than GPT-2.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.assets import ASSETS
from core.errors import PlaygroundError
from core.model.gpt import GPT, GPTConfig
from core.tokens.encodings import TOKENIZER_NAMES, load_tokenizer

FORMAT, VERSION = "llm-playground", 1
MODELS_DIR = ASSETS / "models"
DEFAULT_MODEL = "shakespeare"
HUB_MODELS = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2")
HF_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def bundled_models() -> list[str]:
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "config.json").exists()) if MODELS_DIR.exists() else []


def save_checkpoint(model: GPT, folder, card: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write model.safetensors + config.json + card.json. dtype (e.g. torch.float16) shrinks the file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and model.config.tied_embeddings:
            continue  # safetensors refuses shared tensors; wte holds it
        t = tensor.detach().to("cpu")
        state[name] = (t.to(dtype) if dtype is not None and t.is_floating_point() else t).contiguous()
    _atomic(folder / "model.safetensors", lambda p: save_file(state, str(p), metadata={"format": FORMAT}))
    config = {"format": FORMAT, "version": VERSION, "config": model.config.to_dict()}
    _atomic(folder / "config.json", lambda p: p.write_text(json.dumps(config, indent=2)))
    if card is not None:
        _atomic(folder / "card.json", lambda p: p.write_text(json.dumps(card, indent=2, ensure_ascii=False)))
    return folder


def _atomic(path: Path, write) -> None:
    """Write to a temporary file and rename, so a crash never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise PlaygroundError(
            "{path} is not a readable JSON file ({problem}).",
            path=path, problem=e.__class__.__name__) from None


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise PlaygroundError("{parent} has no model.safetensors file.", parent=path.parent)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise PlaygroundError(
            "{path} is not a valid safetensors file ({problem}).",
            path=path, problem=str(e)[:80]) from None


def _build(config: GPTConfig, state: dict[str, torch.Tensor], source: str) -> GPT:
    model = GPT(config)
    expected = model.state_dict()
    if config.tied_embeddings:
        state.pop("lm_head.weight", None)
        expected = {k: v for k, v in expected.items() if k != "lm_head.weight"}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        detail = (f"{wrong[0]} has shape {tuple(state[wrong[0]].shape)}, config wants {tuple(expected[wrong[0]].shape)}"
                  if wrong else f"missing {missing[:2]}" if missing else f"unexpected {unexpected[:2]}")
        raise PlaygroundError(
            "The weights in {source} do not match its config: {detail}.",
            source=source, detail=detail)
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    return model


def load_checkpoint(folder) -> GPT:
    """A checkpoint folder of ours."""
    folder = Path(folder)
    meta = _read_json(folder / "config.json")
    if meta.get("format") != FORMAT:
        raise PlaygroundError(
            "{folder} is not an llm-playground checkpoint (config.json has no format '{format}').",
            folder=folder, format=FORMAT)
    if meta.get("version", 0) > VERSION:
        raise PlaygroundError(
            "{folder} was written by a newer llm-playground (format version {version}).",
            folder=folder, version=meta['version'])
    config = GPTConfig.from_dict(meta["config"])
    return _build(config, _read_safetensors(folder / "model.safetensors"), str(folder))


def read_card(folder) -> dict:
    path = Path(folder) / "card.json"
    return _read_json(path) if path.exists() else {}


# --- Hugging Face GPT-2 layout -------------------------------------------------------------

TOKENIZER_KEY = "llm_playground_tokenizer"  # our tokenizer's name in an exported config.json (transformers keeps it)


def config_from_hf(hf: dict) -> GPTConfig:
    """A GPT-2 config.json as our config; its tokenizer is the one we exported with, else GPT-2's."""
    tokenizer = hf.get(TOKENIZER_KEY, "gpt2")
    if tokenizer not in TOKENIZER_NAMES:
        raise PlaygroundError("config.json names the tokenizer '{name}', which this playground does not have.",
                              name=str(tokenizer)[:40])
    return GPTConfig(
        vocab_size=hf["vocab_size"], context_length=hf.get("n_positions", hf.get("n_ctx", 1024)),
        n_layer=hf["n_layer"], n_head=hf["n_head"], n_embd=hf["n_embd"], dropout=0.0,
        bias=True, qkv_bias=True, tied_embeddings=hf.get("tie_word_embeddings", True), tokenizer=tokenizer,
    )


def config_to_hf(config: GPTConfig) -> dict:
    """GPT2LMHeadModel's config.json; the end-of-text id is the model's own tokenizer's (50256 for GPT-2,
    100257 for cl100k_base), and the tokenizer's name travels along so the folder reloads with it."""
    eot = load_tokenizer(config.tokenizer).eot_id
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
        "vocab_size": config.vocab_size, "n_positions": config.context_length, "n_ctx": config.context_length,
        "n_embd": config.n_embd, "n_layer": config.n_layer, "n_head": config.n_head, "n_inner": None,
        "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
        "resid_pdrop": config.dropout, "embd_pdrop": config.dropout, "attn_pdrop": config.dropout,
        "tie_word_embeddings": config.tied_embeddings, "bos_token_id": eot, "eos_token_id": eot,
        "scale_attn_weights": True, "use_cache": True, TOKENIZER_KEY: config.tokenizer,
    }


def load_hf_folder(folder) -> GPT:
    """A folder as GPT2LMHeadModel.save_pretrained writes it (config.json + model.safetensors)."""
    folder = Path(folder)
    hf = _read_json(folder / "config.json")
    if hf.get("model_type") != "gpt2":
        raise PlaygroundError(
            "{folder} holds a '{model_type}' model; only GPT-2 models load here.",
            folder=folder, model_type=hf.get('model_type'))
    try:
        config = config_from_hf(hf)
    except KeyError as e:
        raise PlaygroundError("{folder}/config.json lacks the GPT-2 field {field}.", folder=folder, field=e) from None
    state = {}
    for name, tensor in _read_safetensors(folder / "model.safetensors").items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # old GPT-2 files store the causal mask as a buffer
        if not name.startswith(("transformer.", "lm_head.")):
            name = "transformer." + name  # saved from GPT2Model rather than GPT2LMHeadModel
        state[name] = tensor.t() if name.endswith(HF_TRANSPOSED) else tensor
    return _build(config, state, str(folder))


def export_hf(model: GPT, folder) -> Path:
    """Write our model so `transformers.GPT2LMHeadModel.from_pretrained(folder)` opens it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c = model.config
    state = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and c.tied_embeddings:
            continue
        t = tensor.detach().float().cpu()
        state[name] = (t.t() if name.endswith(HF_TRANSPOSED) else t).contiguous()
    for i in range(c.n_layer):  # Hugging Face's GPT-2 always has these; zeros are the same function
        for key, size in ((f"transformer.h.{i}.attn.c_attn.bias", 3 * c.n_embd),
                          (f"transformer.h.{i}.attn.c_proj.bias", c.n_embd),
                          (f"transformer.h.{i}.mlp.c_fc.bias", 4 * c.n_embd),
                          (f"transformer.h.{i}.mlp.c_proj.bias", c.n_embd),
                          (f"transformer.h.{i}.ln_1.bias", c.n_embd),
                          (f"transformer.h.{i}.ln_2.bias", c.n_embd)):
            state.setdefault(key, torch.zeros(size))
    state.setdefault("transformer.ln_f.bias", torch.zeros(c.n_embd))
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(config_to_hf(c), indent=2))
    return folder


def download_hub_model(name: str, cache_dir: Path | None = None) -> Path:
    """Fetch a GPT-2 model from the Hugging Face Hub (online only) into a local cache folder."""
    cache_dir = cache_dir or Path(os.environ.get("LLM_PLAYGROUND_CACHE", Path.home() / ".cache" / "llm-playground"))
    folder = cache_dir / name
    if (folder / "model.safetensors").exists() and (folder / "config.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for file in ("config.json", "model.safetensors"):
            url = f"https://huggingface.co/openai-community/{name}/resolve/main/{file}"
            with urllib.request.urlopen(url, timeout=10) as response:
                tmp = folder / (file + ".part")
                with open(tmp, "wb") as out:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                os.replace(tmp, folder / file)
    except (urllib.error.URLError, OSError, TimeoutError):
        raise PlaygroundError(
            "'{name}' must be downloaded from the Hugging Face Hub, and this machine is offline; use the bundled "
            "model or a local GPT-2 folder.",
            name=name) from None
    return folder


def load_model(name_or_path: str | os.PathLike = DEFAULT_MODEL, device=None) -> GPT:
    """The bundled model by name, a checkpoint folder of ours, a Hugging Face GPT-2 folder,
    or (online) a GPT-2 name from the Hub. Returns the model in eval mode with .tokenizer set."""
    key = str(name_or_path)
    path = Path(key).expanduser()
    if key in bundled_models():
        model = load_checkpoint(MODELS_DIR / key)
    elif path.is_dir():
        meta = _read_json(path / "config.json") if (path / "config.json").exists() else None
        if meta is None:
            raise PlaygroundError("{path} has no config.json: it is not a model folder.", path=path)
        model = load_checkpoint(path) if meta.get("format") == FORMAT else load_hf_folder(path)
    elif key in HUB_MODELS:
        model = load_hf_folder(download_hub_model(key))
    elif path.exists():
        raise PlaygroundError(
            "{path} is a file; give the folder that holds config.json and model.safetensors.",
            path=path)
    else:
        options = ", ".join(bundled_models() + list(HUB_MODELS[:2]))
        raise PlaygroundError(
            "Unknown model '{key}': give a model folder or one of {options}.",
            key=key, options=options)
    device = torch.device(device) if device else default_device()
    model.to(device).eval()
    model.tokenizer = load_tokenizer(model.config.tokenizer)
    return model


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
