"""Shared fixtures: a tiny random GPT, the bundled model, and a GPT-2 folder written by transformers itself."""

import json
import os
from pathlib import Path

import pytest
import torch

import core
from core.model.gpt import GPT, GPTConfig

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("LLM_PLAYGROUND_RUNS", str(ROOT / ".pytest_cache" / "runs"))
# Only now: playground.runs fixes its folder when it is first imported, and the tests' runs must not land in the
# repository's runs/ (the app's model picker lists those).
from playground.loaders import forward_threads  # noqa: E402

# The threads the server gives a forward pass (playground.loaders), from the start: the same summation order in every
# test, so a page's numbers and a program's compare exactly whichever ran first.
torch.set_num_threads(forward_threads())


@pytest.fixture
def tiny_config():
    return GPTConfig(vocab_size=97, context_length=32, n_layer=2, n_head=4, n_embd=32, tokenizer="gpt2")


@pytest.fixture
def tiny_model(tiny_config):
    torch.manual_seed(0)
    return GPT(tiny_config).eval()


@pytest.fixture(scope="session")
def bundled():
    return core.load_model(core.DEFAULT_MODEL, device="cpu")


@pytest.fixture(scope="session")
def hf_folder(tmp_path_factory):
    """A small random GPT-2 written by transformers' own save_pretrained (the format real checkpoints use)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    config = transformers.GPT2Config(vocab_size=50257, n_positions=64, n_embd=48, n_layer=2, n_head=4,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = transformers.GPT2LMHeadModel(config).eval()
    folder = tmp_path_factory.mktemp("hf-gpt2")
    model.save_pretrained(folder, safe_serialization=True)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "gpt2"
    return folder


@pytest.fixture(scope="session")
def llama_folders(tmp_path_factory):
    """Random-weight Hugging Face folders of the Llama family, written by transformers: {family: folder}."""
    pytest.importorskip("transformers")
    from tests.support.llama import write_folder
    root = tmp_path_factory.mktemp("hf-llama")
    return {family: write_folder(root / family, family) for family in ("llama", "qwen2", "qwen3")}


@pytest.fixture(scope="session")
def llama_folder(llama_folders):
    """The Llama 3-style one: grouped-query attention, llama3 rope scaling, untied head, a start token."""
    return llama_folders["llama"]
