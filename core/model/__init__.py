"""The models: the shared interface (base.py), GPT-2 (gpt.py), the Llama family (llama.py), activation capture
and editing (cache.py), checkpoints and Hugging Face folders, LoRA."""

from core.model.base import KVCache, LanguageModel
from core.model.families import count_parameters
from core.model.gpt import GPT, GPTConfig
from core.model.llama import Llama, LlamaConfig

__all__ = ["GPT", "GPTConfig", "KVCache", "LanguageModel", "Llama", "LlamaConfig", "count_parameters"]
