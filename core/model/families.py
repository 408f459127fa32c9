"""The model families the playground runs, in one table: arch name -> config class, model class, parameter formula.

    >>> small = {"vocab_size": 10, "context_length": 16, "n_layer": 2, "n_head": 2, "n_kv_head": 1, "n_embd": 8}
    >>> count_parameters(config_from_dict(small, "gpt2")), count_parameters(config_from_dict({**small, "d_mlp": 16}, "llama"))
    (1968, 1272)

Everything else asks a model (`model.arch`, core.model.base's interface) rather than this table.
"""

from __future__ import annotations

from core.errors import PlaygroundError
from core.model import gpt, llama
from core.model.base import LanguageModel

FAMILIES = {
    "gpt2": (gpt.GPTConfig, gpt.GPT, gpt.count_parameters),
    "llama": (llama.LlamaConfig, llama.Llama, llama.count_parameters),
}
ARCHS = tuple(FAMILIES)


def _family(arch: str):
    if arch not in FAMILIES:
        raise PlaygroundError("Unknown model architecture '{arch}'; choose one of {options}.", arch=arch,
                              options=", ".join(ARCHS))
    return FAMILIES[arch]


def config_from_dict(data: dict, arch: str = "gpt2"):
    return _family(arch)[0].from_dict(data)


def build(config) -> LanguageModel:
    """A model with fresh random weights for this config."""
    return _family(config.arch)[1](config)


def count_parameters(config) -> int:
    """Parameters of a model with this config (GPTConfig or LlamaConfig), from the family's formula."""
    return _family(config.arch)[2](config)
