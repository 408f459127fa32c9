"""Checkpoints: our folder format, the Hugging Face GPT-2 layout, and `load_model` for every kind of folder.

Our format (version 1), a folder with
    model.safetensors   the weights (lm_head left out when tied to the token embedding)
    config.json         {"format": "llm-playground", "version": 1, "arch": "gpt2" | "llama",
                        "config": GPTConfig or LlamaConfig fields}; no arch means gpt2
    card.json           the model card: how it was trained, losses, a sample
    tokenizer.json      when the model's tokenizer is a Hugging Face file (config "tokenizer": "tokenizer.json")
    bpe.tiktoken, bpe.json   a trained tokenizer (config.tokenizer is its name), when the model has one
No pickle anywhere: safetensors only (optimizer state, in core.train, uses
`torch.load(weights_only=True)`).

The Hugging Face layout is what `GPT2LMHeadModel.save_pretrained` writes:
config.json (model_type "gpt2") + model.safetensors, with Conv1D matrices
stored [in, out], i.e. transposed against our nn.Linear.

Hugging Face folders of the Llama family are core.model.hf_llama's; names like "HuggingFaceTB/SmolLM2-135M"
come from the Hub (core.model.hub) when the machine is online.

Left out: sharded checkpoints of our own format.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.assets import ASSETS
from core.errors import PlaygroundError
from core.model import hf_llama, hub
from core.model.base import LanguageModel
from core.model.families import build, config_from_dict, count_parameters
from core.model.gpt import GPTConfig
from core.model.limits import memory_bytes, read_config_json
from core.tokens.encodings import ALIASES, SPECS, TOKENIZER_NAMES, has_trained_tokenizer, load_tokenizer
from core.tokens.hf_tokenizer import TOKENIZER_FILE, TOKENIZER_KEY

FORMAT, VERSION = "llm-playground", 1
MODELS_DIR = ASSETS / "models"
DEFAULT_MODEL = "shakespeare"
DEFAULT_MODELS = {"en": DEFAULT_MODEL, "de": "shakespeare-faust-llama"}  # by the language of the session


def default_model(language: str = "en") -> str:
    """The bundled model a session in this language starts with (German sessions get one that reads German)."""
    return DEFAULT_MODELS.get(language, DEFAULT_MODEL)
HUB_MODELS = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2")
HF_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def bundled_models() -> list[str]:
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "config.json").exists()) if MODELS_DIR.exists() else []


def save_checkpoint(model: LanguageModel, folder, card: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write model.safetensors + config.json + card.json (+ tokenizer.json when the model's tokenizer is one).
    dtype (e.g. torch.float16) shrinks the file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and model.config.tied_embeddings:
            continue  # safetensors refuses shared tensors; wte holds it
        t = tensor.detach().to("cpu")
        state[name] = (t.to(dtype) if dtype is not None and t.is_floating_point() else t).contiguous()
    _atomic(folder / "model.safetensors", lambda p: save_file(state, str(p), metadata={"format": FORMAT}))
    config = {"format": FORMAT, "version": VERSION, "arch": model.arch, "config": model.config.to_dict()}
    _atomic(folder / "config.json", lambda p: p.write_text(json.dumps(config, indent=2)))
    if model.config.tokenizer == TOKENIZER_FILE:
        _copy_tokenizer(model.tokenizer, folder)
    if card is not None:
        _atomic(folder / "card.json", lambda p: p.write_text(json.dumps(card, indent=2, ensure_ascii=False)))
    tokenizer = getattr(model, "tokenizer", None)
    if getattr(tokenizer, "trained", False):
        tokenizer.save(folder)
    return folder


def _copy_tokenizer(tokenizer, folder: Path) -> None:
    """The tokenizer.json (and the tokenizer_config.json naming its end-of-text token) beside the weights."""
    source = Path(getattr(tokenizer, "name", ""))
    if not source.is_file():
        raise PlaygroundError("The model's tokenizer.json is not known, so {folder} would have no tokenizer.",
                              folder=folder)
    for name in (TOKENIZER_FILE, "tokenizer_config.json"):
        if (source.parent / name).is_file() and (source.parent / name).resolve() != (folder / name).resolve():
            _atomic(folder / name, lambda p, n=name: shutil.copyfile(source.parent / n, p))
    if not (folder / "tokenizer_config.json").exists():
        eos = tokenizer.token_text(tokenizer.eot_id)
        _atomic(folder / "tokenizer_config.json", lambda p: p.write_text(json.dumps({"eos_token": eos})))


def _atomic(path: Path, write) -> None:
    """Write to a temporary file and rename, so a crash never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict:
    """A config or card file as a JSON object, refused by kind and size before it is read (core.model.limits)."""
    data = read_config_json(path)
    if not isinstance(data, dict):
        raise PlaygroundError("{path} must hold a JSON object with named fields, not a {kind}.", path=path,
                              kind=type(data).__name__)
    return data


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise PlaygroundError("{parent} has no model.safetensors file.", parent=path.parent)
    if path.stat().st_size > memory_bytes():
        raise PlaygroundError("{path} is larger than this machine's memory.", path=path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise PlaygroundError(
            "{path} is not a valid safetensors file ({problem}).",
            path=path, problem=str(e)[:80]) from None


def _build(config, state: dict[str, torch.Tensor], source: str) -> LanguageModel:
    if config.tied_embeddings:
        state.pop("lm_head.weight", None)
    held, wanted = sum(t.numel() for t in state.values()), count_parameters(config)
    if held != wanted:  # the quick test, before even the shapes are built
        raise PlaygroundError("The weights in {source} do not match its config: the file holds {held:,} numbers, the "
                              "config wants {wanted:,}.", source=source, held=held, wanted=wanted)
    with torch.device("meta"):  # the shapes the config wants, compared before any memory is allocated
        expected = build(config).state_dict()
    if config.tied_embeddings:
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
    model = build(config)
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    return model


def load_checkpoint(folder) -> LanguageModel:
    """A checkpoint folder of ours."""
    folder = Path(folder)
    meta = _read_json(folder / "config.json")
    if meta.get("format") != FORMAT:
        raise PlaygroundError(
            "{folder} is not an llm-playground checkpoint (config.json has no format '{format}').",
            folder=folder, format=FORMAT)
    version = meta.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise PlaygroundError("{folder}/config.json has no format version number.", folder=folder)
    if version > VERSION:
        raise PlaygroundError(
            "{folder} was written by a newer llm-playground (format version {version}).",
            folder=folder, version=version)
    config = config_from_dict(meta.get("config"), meta.get("arch", "gpt2"))
    return _build(config, _read_safetensors(folder / "model.safetensors"), str(folder))


def tokenizer_for(folder, config):
    """A shipped encoding by the config's name, or the trained tokenizer saved in the model's folder."""
    if config.tokenizer in SPECS or config.tokenizer in ALIASES:
        return load_tokenizer(config.tokenizer)
    if folder is not None and has_trained_tokenizer(folder):
        tokenizer = load_tokenizer(folder)
        if tokenizer.name == config.tokenizer and tokenizer.n_vocab <= config.vocab_size:
            return tokenizer
    raise PlaygroundError(
        "The model in {folder} was trained with the tokenizer {name}, whose files (bpe.json, bpe.tiktoken) are "
        "not in its folder.", folder=folder, name=config.tokenizer)


def read_card(folder) -> dict:
    """The model card, or {} when there is none or it cannot be read (a card only describes; it never stops a load)."""
    path = Path(folder) / "card.json"
    try:
        return _read_json(path) if path.exists() else {}
    except PlaygroundError:
        return {}


# --- Hugging Face GPT-2 layout -------------------------------------------------------------

def config_from_hf(hf: dict, folder=None) -> GPTConfig:
    """A GPT-2 config.json as our config; its tokenizer is the one we exported with (a trained one has its files
    in the folder), else GPT-2's."""
    tokenizer = hf.get(TOKENIZER_KEY, "gpt2")
    if tokenizer not in TOKENIZER_NAMES and not (folder is not None and has_trained_tokenizer(folder)):
        raise PlaygroundError("config.json names the tokenizer '{name}', which this playground does not have.",
                              name=str(tokenizer)[:40])
    return GPTConfig(
        vocab_size=hf["vocab_size"], context_length=hf.get("n_positions", hf.get("n_ctx", 1024)),
        n_layer=hf["n_layer"], n_head=hf["n_head"], n_embd=hf["n_embd"], dropout=0.0,
        bias=True, qkv_bias=True, tied_embeddings=hf.get("tie_word_embeddings", True), tokenizer=tokenizer,
    )


def config_to_hf(config: GPTConfig, eot: int | None = None) -> dict:
    """GPT2LMHeadModel's config.json; the end-of-text id is the model's own tokenizer's (50256 for GPT-2,
    100257 for cl100k_base, given for a trained one), and the tokenizer's name travels along so the folder
    reloads with it."""
    eot = load_tokenizer(config.tokenizer).eot_id if eot is None else eot
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
        "vocab_size": config.vocab_size, "n_positions": config.context_length, "n_ctx": config.context_length,
        "n_embd": config.n_embd, "n_layer": config.n_layer, "n_head": config.n_head, "n_inner": None,
        "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
        "resid_pdrop": config.dropout, "embd_pdrop": config.dropout, "attn_pdrop": config.dropout,
        "tie_word_embeddings": config.tied_embeddings, "bos_token_id": eot, "eos_token_id": eot,
        "scale_attn_weights": True, "use_cache": True, TOKENIZER_KEY: config.tokenizer,
    }


def load_hf_folder(folder) -> LanguageModel:
    """A folder as GPT2LMHeadModel.save_pretrained writes it (config.json + model.safetensors)."""
    folder = Path(folder)
    hf = _read_json(folder / "config.json")
    if hf.get("model_type") != "gpt2":
        raise PlaygroundError(
            "{folder} holds a '{model_type}' model; only GPT-2 models load here.",
            folder=folder, model_type=hf.get('model_type'))
    try:
        config = config_from_hf(hf, folder)
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


def export_hf(model: LanguageModel, folder) -> Path:
    """Write our model so transformers opens it: `GPT2LMHeadModel.from_pretrained(folder)` for a GPT, and
    `LlamaForCausalLM` (Qwen2/Qwen3 for their options) for the Llama family, with the same logits."""
    if model.arch == "llama":
        return hf_llama.export_folder(model, folder)
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
    tokenizer = model.tokenizer or load_tokenizer(c.tokenizer)
    if tokenizer.trained:
        tokenizer.save(folder)  # a trained tokenizer travels with the folder, so it reloads with it
    (folder / "config.json").write_text(json.dumps(config_to_hf(c, tokenizer.eot_id), indent=2))
    return folder


def hub_cache_dir() -> Path:
    return Path(os.environ.get("LLM_PLAYGROUND_CACHE", Path.home() / ".cache" / "llm-playground"))


def download_hub_model(name: str, cache_dir: Path | None = None) -> Path:
    """Fetch a GPT-2 model from the Hugging Face Hub (online only) into a local cache folder."""
    return hub.download(f"openai-community/{name}", tokenizer=False, cache_dir=cache_dir)


def _check_hub_config(hf: dict, name: str) -> None:
    """Refuse a Hub model before its weights are downloaded: unsupported, or too big for this server."""
    config = hf_llama.config_from_hf(hf, name)
    hf_llama.check_memory(count_parameters(config), name)


def saved_config(name_or_path: str | os.PathLike):
    """The config of a bundled model or a model folder (either family) from its config.json alone (no weights are
    read): what a run's memory and disk estimates need."""
    key = str(name_or_path)
    folder = MODELS_DIR / key if key in bundled_models() else Path(key).expanduser()
    if key in HUB_MODELS and not (folder / "config.json").exists():
        folder = hub.cache_root() / f"openai-community/{key}"
    if not (folder / "config.json").is_file():
        raise PlaygroundError("{path} has no config.json: it is not a model folder.", path=folder)
    meta = _read_json(folder / "config.json")
    if meta.get("format") == FORMAT:
        return config_from_dict(meta.get("config"), meta.get("arch", "gpt2"))
    if meta.get("model_type") != "gpt2":
        return hf_llama.read_config(folder)
    try:
        return config_from_hf(meta)
    except KeyError as e:
        raise PlaygroundError("{folder}/config.json lacks the GPT-2 field {field}.", folder=folder, field=e) from None


def load_model(name_or_path: str | os.PathLike = DEFAULT_MODEL, device=None) -> LanguageModel:
    """The bundled model by name, a checkpoint folder of ours, a Hugging Face folder (GPT-2 or the Llama family),
    or (online) a Hub name: a GPT-2 size, or a repository such as "HuggingFaceTB/SmolLM2-135M". Returns the
    model in eval mode with .tokenizer set."""
    key = str(name_or_path)
    path = Path(key).expanduser()
    folder = None
    if key in bundled_models():
        folder = path = MODELS_DIR / key
        model = load_checkpoint(path)
    elif path.is_dir():
        meta = _read_json(path / "config.json") if (path / "config.json").exists() else None
        if meta is None:
            raise PlaygroundError("{path} has no config.json: it is not a model folder.", path=path)
        folder = path
        model = _load_folder(path, meta)
    elif key in HUB_MODELS:
        path = download_hub_model(key)
        model = load_hf_folder(path)
    elif path.exists():
        raise PlaygroundError(
            "{path} is a file; give the folder that holds config.json and model.safetensors.",
            path=path)
    elif hub.is_repo_id(key):
        path = hub.download(key, check=lambda hf: _check_hub_config(hf, key))
        model = _load_folder(path, _read_json(path / "config.json"))
    else:
        options = ", ".join(bundled_models() + list(HUB_MODELS[:2]) + ["HuggingFaceTB/SmolLM2-135M"])
        raise PlaygroundError(
            "Unknown model '{key}': give a model folder or one of {options}.",
            key=key, options=options)
    device = torch.device(device) if device else default_device()
    model.to(device).eval()
    tokenizer = model.config.tokenizer
    model.tokenizer = load_tokenizer(path / TOKENIZER_FILE) if tokenizer == TOKENIZER_FILE \
        else tokenizer_for(folder, model.config)
    return model


def _load_folder(path: Path, meta: dict) -> LanguageModel:
    if meta.get("format") == FORMAT:
        return load_checkpoint(path)
    if meta.get("model_type") == "gpt2":
        return load_hf_folder(path)
    if TOKENIZER_KEY not in meta and not (path / TOKENIZER_FILE).is_file():  # the pages cannot show it without one
        hf_llama.read_config(path)  # an unsupported model says so before the missing file does
        raise PlaygroundError("{path} has no tokenizer.json; the playground needs the model's tokenizer.", path=path)
    return hf_llama.load_folder(path)


def requirements(name_or_path) -> hf_llama.Requirements:
    """What loading a local model folder (or the bundled model) costs, read from its config and the weights'
    headers without loading it: parameters, bytes on disk, memory needed."""
    key = str(name_or_path)
    path = MODELS_DIR / key if key in bundled_models() else Path(key).expanduser()
    meta = _read_json(path / "config.json")
    if meta.get("format") != FORMAT and meta.get("model_type") != "gpt2":
        return hf_llama.requirements(path)
    config = config_from_dict(meta["config"], meta.get("arch", "gpt2")) if meta.get("format") == FORMAT \
        else config_from_hf(meta)
    weights = path / "model.safetensors"
    n = count_parameters(config)
    return hf_llama.Requirements(n, weights.stat().st_size if weights.exists() else 0, n * hf_llama.BYTES_PER_PARAMETER,
                                 "")


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
