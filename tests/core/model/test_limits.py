"""Configs are checked before anything is allocated: types, positive sizes, the parameter count and memory they
imply; config files are refused by kind and size before they are read; every malformed config gives one sentence."""

import json
import os

import pytest
import torch

import core
from core import PlaygroundError
from core.model import limits
from core.model.checkpoints import load_checkpoint, load_model, save_checkpoint
from core.model.gpt import GPT, GPTConfig, count_parameters

GOOD = {"vocab_size": 60, "context_length": 16, "n_layer": 1, "n_head": 2, "n_embd": 8, "tokenizer": "gpt2"}

BAD_SIZES = [
    ({"n_layer": 10000, "n_embd": 768, "n_head": 12, "vocab_size": 50257}, "parameters"),
    ({"vocab_size": 10**9, "n_embd": 768, "n_head": 12}, "parameters"),
    ({"vocab_size": 1e9}, "whole number"),
    ({"n_layer": 0}, "at least 1"),
    ({"n_layer": -3}, "at least 1"),
    ({"n_head": "4"}, "whole number"),
    ({"n_embd": 8.0}, "whole number"),
    ({"n_embd": 8.5}, "whole number"),
    ({"context_length": None}, "whole number"),
    ({"context_length": True}, "whole number"),
    ({"n_layer": [1]}, "whole number"),
    ({"n_layer": {"a": 1}}, "whole number"),
    ({"n_embd": 10, "n_head": 3}, "divisible"),
    ({"context_length": 10**12}, "parameters"),
    ({"n_embd": 2**40, "n_head": 1}, "parameters"),
    ({"dropout": 1.0}, "dropout"),
    ({"dropout": "0.1"}, "dropout"),
    ({"dropout": None}, "dropout"),
    ({"dropout": float("nan")}, "dropout"),
    ({"bias": "yes"}, "true or false"),
    ({"tied_embeddings": 1}, "true or false"),
    ({"qkv_bias": None}, "true or false"),
    ({"tokenizer": 5}, "tokenizer"),
    ({"tokenizer": ""}, "tokenizer"),
]


@pytest.fixture
def no_model_is_built(monkeypatch):
    """Fails the test if a model with weights is made (the shapes-only model on the meta device is allowed)."""
    original = GPT.__init__

    def guarded(self, config):
        if torch.empty(0).device.type != "meta":
            raise AssertionError("a model was built before its config was refused")
        original(self, config)
    monkeypatch.setattr(GPT, "__init__", guarded)


@pytest.mark.parametrize("change,words", BAD_SIZES, ids=[str(c)[:40] for c, _ in BAD_SIZES])
def test_impossible_configs_are_refused_before_anything_is_made(change, words):
    with pytest.raises(PlaygroundError, match=words):  # the sizes are refused by the config itself
        GPTConfig(**{**GOOD, **change})


def test_the_limit_comes_from_the_server_config(monkeypatch):
    config = GPTConfig(**GOOD)
    monkeypatch.setenv(limits.MAX_PARAMETERS_ENV, str(count_parameters(config) - 1))
    with pytest.raises(PlaygroundError, match="LLM_PLAYGROUND_MAX_PARAMETERS"):
        GPTConfig(**GOOD)
    monkeypatch.setenv(limits.MAX_PARAMETERS_ENV, "not a number")  # a typo falls back to the default
    assert GPTConfig(**GOOD).n_layer == 1


def test_memory_of_the_machine_is_a_limit(monkeypatch):
    monkeypatch.setattr(limits, "memory_bytes", lambda: 1000)
    with pytest.raises(PlaygroundError, match="GiB for its weights alone"):
        GPTConfig(**GOOD)


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(GPT(GPTConfig(**GOOD)), tmp_path / "model")


def rewrite_config(folder, meta):
    (folder / "config.json").write_text(json.dumps(meta))


MALFORMED = [
    ({"format": "llm-playground", "version": 1, "config": {k: v for k, v in GOOD.items() if k != "n_layer"}}, "lacks"),
    ({"format": "llm-playground", "version": 1}, "JSON object"),
    ({"format": "llm-playground", "version": 1, "config": None}, "JSON object"),
    ({"format": "llm-playground", "version": 1, "config": [1, 2]}, "JSON object"),
    ({"format": "llm-playground", "version": 1, "config": {**GOOD, "n_layer": "2"}}, "whole number"),
    ({"format": "llm-playground", "version": 1, "config": {**GOOD, "n_embd": 8.0}}, "whole number"),
    ({"format": "llm-playground", "version": 1, "config": {**GOOD, "vocab_size": None}}, "whole number"),
    ({"format": "llm-playground", "version": 1, "config": {**GOOD, "n_layer": 10000}}, "do not match"),
    ({"format": "llm-playground", "version": 1, "config": {**GOOD, "n_layer": 10**7, "n_embd": 768}}, "parameters"),
    ({"format": "llm-playground", "version": 2, "config": GOOD}, "newer"),
    ({"format": "llm-playground", "version": "1", "config": GOOD}, "version number"),
    ({"format": "llm-playground", "version": None, "config": GOOD}, "version number"),
    ({"format": "llm-playground", "config": {**GOOD, "n_embd": 16}}, "do not match"),
    ([1, 2, 3], "JSON object"),
    ("just text", "JSON object"),
    (None, "JSON object"),
    (42, "JSON object"),
    ({"model_type": "gpt2"}, "lacks the GPT-2 field"),
    ({"model_type": "gpt2", "vocab_size": "x", "n_layer": 1, "n_head": 2, "n_embd": 8}, "whole number"),
    ({"model_type": "gpt2", "vocab_size": 60, "n_layer": 1, "n_head": 2, "n_embd": 8, "n_positions": -1},
     "at least 1"),
    ({"model_type": "gpt2", "vocab_size": 60, "n_layer": 1, "n_head": 2, "n_embd": 8, "tie_word_embeddings": "no"},
     "true or false"),
    ({"model_type": "llama-9000"}, "runs GPT-2 and the Llama family"),
]


@pytest.mark.parametrize("meta,words", MALFORMED, ids=[str(m)[:50] for m, _ in MALFORMED])
def test_malformed_configs_give_one_sentence(saved, meta, words, no_model_is_built):
    rewrite_config(saved, meta)
    with pytest.raises(PlaygroundError, match=words):
        load_model(saved, device="cpu")


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe{}", b"nul\x00l", b"[" * 100_000, b'{"a": 1e999999}'],
                         ids=["empty", "open", "utf16", "nul", "deep", "inf"])
def test_damaged_config_files(saved, content):
    (saved / "config.json").write_bytes(content)
    with pytest.raises(PlaygroundError):
        load_checkpoint(saved)


def test_a_link_to_dev_zero_or_a_huge_file_is_refused_by_size(saved, tmp_path, monkeypatch):
    (saved / "config.json").unlink()
    os.symlink("/dev/zero", saved / "config.json")
    monkeypatch.setattr(limits, "open", lambda *a, **k: pytest.fail("read"), raising=False)  # refused unread
    with pytest.raises(PlaygroundError, match="not a regular file"):
        load_model(saved, device="cpu")
    (saved / "config.json").unlink()
    with open(saved / "config.json", "wb") as f:
        f.truncate(5 * 2**30)  # 5 GB, sparse: reading it would take the memory
    with pytest.raises(PlaygroundError, match="at most"):
        load_model(saved, device="cpu")
    (saved / "config.json").unlink()
    os.mkfifo(saved / "config.json")  # reading a named pipe would wait forever
    with pytest.raises(PlaygroundError, match="not a regular file"):
        load_model(saved, device="cpu")


@pytest.mark.parametrize("change,built_first", [({"n_embd": 4096, "n_head": 8}, []),
                                                 ({"vocab_size": 62, "context_length": 14}, ["meta"])])
def test_weights_that_do_not_match_are_refused_before_the_model_is_built(saved, monkeypatch, change, built_first):
    meta = json.loads((saved / "config.json").read_text())
    meta["config"].update(change)  # the second keeps the number of weights, so only the shapes tell
    rewrite_config(saved, meta)
    built = []
    original = GPT.__init__

    def recording_init(self, config):
        original(self, config)
        built.append(self.transformer.wte.weight.device.type)
    monkeypatch.setattr(GPT, "__init__", recording_init)
    with pytest.raises(PlaygroundError, match="do not match"):
        load_checkpoint(saved)
    assert built == built_first  # never a model with weights


def test_a_good_checkpoint_still_loads(saved):
    model = core.load_model(saved, device="cpu")
    assert model.config.n_layer == 1
