"""The models: GPT-2 (gpt.py), activation capture and editing (cache.py), checkpoints, LoRA."""

from core.model.gpt import GPT, GPTConfig, KVCache, count_parameters

__all__ = ["GPT", "GPTConfig", "KVCache", "count_parameters"]
