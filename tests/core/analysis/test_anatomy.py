"""Anatomy: parameter counts per stage against the formula, the logit lens, LayerNorm statistics; the pages."""

import pytest
import torch

from core.analysis.anatomy import layernorm_stats, logit_lens, stages
from core.model.gpt import GPT, GPTConfig, count_parameters


@pytest.mark.parametrize("kwargs,expected", [
    ({}, 124_439_808), ({"tied_embeddings": False}, 163_037_184),
    ({"qkv_bias": False}, 124_412_160), ({"qkv_bias": False, "tied_embeddings": False}, 163_009_536),
])
def test_stage_parameters_add_up_to_gpt2(kwargs, expected):
    config = GPTConfig(**kwargs)
    assert sum(s.total for s in stages(config, 7)) == expected == count_parameters(config)


@pytest.mark.parametrize("kwargs", [dict(n_layer=3, n_head=2, n_embd=16, vocab_size=100, context_length=8, bias=False),
                                    dict(n_layer=1, n_head=1, n_embd=8, vocab_size=10, context_length=4,
                                         tied_embeddings=False)])
def test_stage_parameters_match_real_models(kwargs):
    config = GPTConfig(**kwargs)
    assert sum(s.total for s in stages(config, 3)) == GPT(config).num_parameters()


def test_block_stages_count_one_block(bundled):
    """The bundled model (width 128, 6 blocks), by hand: LayerNorm 2·128; attention 128·384 + 384 (W_QKV, b_QKV)
    + 128·128 + 128 (W_O, b_O); MLP 128·512 + 512 + 512·128 + 128. Each block's own module agrees."""
    by_key = {s.key: s for s in stages(bundled.config, 5)}
    assert (by_key["ln1"].params, by_key["attn"].params, by_key["mlp"].params) == (256, 66_048, 131_712)
    assert by_key["attn"].total == 6 * 66_048 and by_key["wte"].total == by_key["wte"].params == 50257 * 128
    block = bundled.transformer.h[0]
    assert by_key["attn"].params == sum(p.numel() for p in block.attn.parameters())
    assert by_key["mlp"].params == sum(p.numel() for p in block.mlp.parameters())


def test_stage_shapes(bundled):
    c = bundled.config
    by_key = {s.key: s for s in stages(c, 11)}
    assert by_key["wte"].shape == (11, c.n_embd) and by_key["logits"].shape == (11, c.vocab_size)


def test_logit_lens_last_layer_equals_the_model(bundled):
    ids = bundled.tokenizer.encode("To be, or not to be")
    logits, cache = bundled.run_with_cache([ids])
    top_ids, top_probs, final_prob = logit_lens(bundled, cache, top_k=3)
    probs = torch.softmax(logits[0], -1)
    assert torch.equal(top_ids[-1], torch.topk(probs, 3, -1).indices)
    assert torch.allclose(top_probs[-1], torch.topk(probs, 3, -1).values, atol=1e-5)
    assert torch.allclose(final_prob[-1], probs.max(-1).values, atol=1e-5)
    assert top_ids.shape == (bundled.config.n_layer, len(ids), 3)


def test_layernorm_stats():
    stats = layernorm_stats(torch.tensor([[1.0, 2.0, 3.0, 6.0]]))
    assert stats["mean_before"] == [3.0] and stats["variance_before"] == [3.5]
    assert stats["mean_after"][0] == pytest.approx(0, abs=1e-6)
    assert stats["variance_after"][0] == pytest.approx(1, abs=1e-4)
