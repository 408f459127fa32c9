"""The model: shapes, fused vs explicit attention, the cache, parameter counts, bad input."""

import math

import pytest
import torch

from core import GPT, GPTConfig, PlaygroundError, count_parameters
from core.model.cache import GLOBAL_NAMES, LAYER_NAMES


def test_forward_gives_logits_for_every_position(tiny_model, tiny_config):
    ids = torch.randint(0, tiny_config.vocab_size, (3, 17))
    logits = tiny_model(ids)
    assert logits.shape == (3, 17, tiny_config.vocab_size)


def test_fused_and_explicit_attention_agree(tiny_model, tiny_config):
    ids = torch.randint(0, tiny_config.vocab_size, (2, tiny_config.context_length))
    fused = tiny_model(ids)
    explicit, _ = tiny_model.run_with_cache(ids)
    assert torch.allclose(fused, explicit, atol=1e-5)


def test_bundled_model_fused_and_explicit_agree(bundled):
    ids = torch.tensor([bundled.tokenizer.encode("ROMEO:\nWhat light through yonder window breaks?")])
    fused = bundled(ids)
    explicit, _ = bundled.run_with_cache(ids)
    assert (fused - explicit).abs().max().item() <= 1e-5 * max(1.0, fused.abs().max().item())


def test_cache_has_every_name_with_documented_shapes(tiny_model, tiny_config):
    B, T, H, D = 2, 9, tiny_config.n_head, tiny_config.d_head
    _, cache = tiny_model.run_with_cache(torch.randint(0, tiny_config.vocab_size, (B, T)))
    for layer in range(tiny_config.n_layer):
        for name in LAYER_NAMES:
            assert (name, layer) in cache
        assert cache["pattern", layer].shape == (B, H, T, T)
        assert cache["attn_scores", layer].shape == (B, H, T, T)
        assert cache["q", layer].shape == (B, H, T, D)
        assert cache["mlp_post", layer].shape == (B, T, 4 * tiny_config.n_embd)
    for name in GLOBAL_NAMES:
        assert cache[name].shape == (B, T, tiny_config.n_embd)


def test_cache_relations_follow_the_formulas(tiny_model, tiny_config):
    """Hand computation of one layer's attention from the cached q and k, and the residual sums."""
    _, cache = tiny_model.run_with_cache(torch.randint(0, tiny_config.vocab_size, (1, 7)))
    q, k, v = cache["q", 1], cache["k", 1], cache["v", 1]
    scores = q @ k.transpose(-1, -2) / math.sqrt(tiny_config.d_head)
    mask = torch.triu(torch.ones(7, 7, dtype=torch.bool), diagonal=1)
    scores = scores.masked_fill(mask, float("-inf"))
    assert torch.allclose(scores, cache["attn_scores", 1])
    pattern = cache["pattern", 1]
    assert torch.allclose(pattern, torch.softmax(scores, -1))
    assert torch.allclose(pattern.sum(-1), torch.ones(1, tiny_config.n_head, 7), atol=1e-6)
    assert pattern.masked_select(mask).abs().max() == 0
    assert torch.allclose(cache["z", 1], pattern @ v, atol=1e-6)
    assert torch.allclose(cache["resid_pre", 0], cache["embed"] + cache["pos_embed"])
    assert torch.allclose(cache["resid_mid", 1], cache["resid_pre", 1] + cache["attn_out", 1])
    assert torch.allclose(cache["resid_post", 1], cache["resid_mid", 1] + cache["mlp_out", 1])
    assert torch.allclose(cache["resid_pre", 1], cache["resid_post", 0])


def test_cache_names_filter(tiny_model):
    _, cache = tiny_model.run_with_cache(torch.tensor([[1, 2, 3]]), names={"pattern"})
    assert set(name for name, _ in cache.keys()) == {"pattern"}
    with pytest.raises(KeyError):
        cache["q", 0]


@pytest.mark.parametrize("kwargs,expected", [
    ({}, 124_439_808),
    ({"tied_embeddings": False}, 163_037_184),
    ({"qkv_bias": False}, 124_412_160),
    ({"qkv_bias": False, "tied_embeddings": False}, 163_009_536),
    ({"n_layer": 24, "n_head": 16, "n_embd": 1024}, 354_823_168),  # GPT-2 medium
])
def test_parameter_counts(kwargs, expected):
    config = GPTConfig(**kwargs)
    assert count_parameters(config) == expected
    if config.n_layer == 12:
        assert GPT(config).num_parameters() == expected


@pytest.mark.parametrize("kwargs", [
    dict(vocab_size=50, context_length=8, n_layer=1, n_head=3, n_embd=8, bias=False),
    dict(vocab_size=50, context_length=8, n_layer=3, n_head=2, n_embd=8, tied_embeddings=False),
])
def test_parameter_formula_matches_small_models(kwargs):
    config = GPTConfig(**{**kwargs, "n_embd": 12 if kwargs["n_head"] == 3 else 8})
    assert GPT(config).num_parameters() == count_parameters(config)


def test_impossible_configs():
    with pytest.raises(PlaygroundError, match="divisible"):
        GPTConfig(n_embd=100, n_head=3)
    with pytest.raises(PlaygroundError, match="at least 1"):
        GPTConfig(n_layer=0)


def test_bad_inputs_are_one_sentence(tiny_model, tiny_config):
    with pytest.raises(PlaygroundError, match="at most 32"):
        tiny_model(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(PlaygroundError, match="outside this model's vocabulary"):
        tiny_model(torch.tensor([[5, 97]]))
    with pytest.raises(PlaygroundError, match="empty"):
        tiny_model(torch.zeros(1, 0, dtype=torch.long))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: the padded unembedding is a GPU-only path")
def test_training_mode_padded_unembedding_gives_the_same_logits(tiny_config):
    """Training on a GPU pads the vocabulary to a multiple of 64 for speed; the logits must not change."""
    torch.manual_seed(0)
    model = GPT(tiny_config).cuda()  # vocab 97: 31 zero rows of padding
    ids = torch.randint(0, tiny_config.vocab_size, (2, 9), device="cuda")
    model.eval()
    plain = model(ids)
    model.train()
    padded = model(ids)
    assert padded.shape == plain.shape and torch.allclose(padded, plain, atol=1e-5)
