"""llm-playground core: a GPT-2 and the Llama family you can read, run, capture, sample from and train.

Pure PyTorch + tiktoken (+ tokenizers for Hugging Face tokenizer.json); never imports streamlit, so notebooks
and scripts use it alone:

    >>> import core
    >>> model = core.load_model("shakespeare")
    >>> ids = model.tokenizer.encode("ROMEO:")
    >>> logits, cache = model.run_with_cache([ids])
    >>> cache["pattern", 0].shape          # [batch, head, query, key]
    >>> model.tokenizer.decode(core.generate(model, ids, 50, temperature=0.8, seed=1))
"""

from core.errors import PlaygroundError
from core.inference.generate import generate, generation_steps
from core.inference.sampling import SamplingSettings
from core.model.cache import Cache
from core.model.checkpoints import DEFAULT_MODEL, export_hf, load_model, requirements, save_checkpoint
from core.model.families import count_parameters
from core.model.gpt import GPT, GPTConfig
from core.model.llama import Llama, LlamaConfig
from core.tokens.encodings import load_tokenizer

__all__ = [
    "Cache", "DEFAULT_MODEL", "GPT", "GPTConfig", "Llama", "LlamaConfig", "PlaygroundError", "SamplingSettings",
    "count_parameters", "export_hf", "generate", "generation_steps", "load_model", "load_tokenizer", "requirements",
    "save_checkpoint",
]
