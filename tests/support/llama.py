"""Hugging Face folders of the Llama family written by transformers itself (random weights, save_pretrained), with a
small tokenizer.json trained by the `tokenizers` library: what a downloaded SmolLM2, Qwen2.5 or Llama 3.2 looks
like, at a size the CPU tests can afford."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from core.assets import ASSETS

CORPUS = ASSETS / "corpora" / "the-verdict.txt"
EOS = "<|endoftext|>"


def train_tokenizer(path: Path, vocab_size: int = 400, style: str = "byte_level", bos: str | None = None) -> Path:
    """A BPE tokenizer.json: byte-level (GPT-2, SmolLM2, Llama 3, Qwen) or SentencePiece style with byte fallback
    (Llama 2, Mistral); `bos` adds a start token through the post-processor, as Llama 3's file does."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    specials = [EOS] + ([bos] if bos else [])
    if style == "byte_level":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tok = Tokenizer(models.BPE(byte_fallback=True, unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁",
                                                                                      prepend_scheme="first")])
        alphabet = []
        specials += [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, initial_alphabet=alphabet,
                                  show_progress=False)
    tok.train_from_iterator([CORPUS.read_text(encoding="utf-8")], trainer)
    if style != "byte_level":  # the byte pieces belong to the vocabulary, as in Llama 2's file, not to the specials
        spec = json.loads(tok.to_str())
        spec["added_tokens"] = [t for t in spec["added_tokens"] if not t["content"].startswith("<0x")]
        tok = Tokenizer.from_str(json.dumps(spec))
    if bos:
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))])
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def write_folder(folder: Path, family: str = "llama", seed: int = 0, **overrides) -> Path:
    """A random-weight LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM folder with its tokenizer.json.

    llama: grouped-query attention (8 query heads on 2 key/value heads), Llama 3 rope scaling, untied head;
    qwen2: q/k/v biases, tied embeddings; qwen3: q/k norms, its own head width."""
    import transformers

    folder = Path(folder)
    tokenizer = train_tokenizer(folder / "tokenizer.json", bos="<|begin_of_text|>" if family == "llama" else None)
    from tokenizers import Tokenizer

    n_vocab = Tokenizer.from_file(str(tokenizer)).get_vocab_size(with_added_tokens=True)
    common = dict(vocab_size=n_vocab, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                  num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5,
                  eos_token_id=0, bos_token_id=1 if family == "llama" else 0)
    if family == "llama":
        config = transformers.LlamaConfig(**{**common, "tie_word_embeddings": False, **overrides}, rope_parameters={
            "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
        cls = transformers.LlamaForCausalLM
    elif family == "qwen2":
        config = transformers.Qwen2Config(**{**common, "tie_word_embeddings": True, **overrides},
                                          rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
        cls = transformers.Qwen2ForCausalLM
    else:
        config = transformers.Qwen3Config(**{**common, "tie_word_embeddings": True, "head_dim": 16, **overrides},
                                          rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
        cls = transformers.Qwen3ForCausalLM
    torch.manual_seed(seed)
    model = cls(config).eval()
    with torch.no_grad():  # transformers initialises with std 0.02 and zero biases: too quiet to tell models apart
        for name, p in model.named_parameters():
            p.normal_(1.0 if name.endswith("norm.weight") else 0.0, 0.2 if name.endswith("norm.weight") else 0.1)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def reference(folder: Path):
    """transformers' own model of the folder, with the explicit attention so it returns the patterns."""
    import transformers

    return transformers.AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
