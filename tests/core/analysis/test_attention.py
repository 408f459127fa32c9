"""Attention and embeddings: the step-by-step head equals the cache; scores; the two pages."""

import math

import pytest
import torch

from core import PlaygroundError
from core.analysis.attention import (
    head_steps,
    head_weights,
    induction_id_range,
    induction_scores,
    induction_targets,
    pattern_scores,
    strongest_heads,
    text_induction_scores,
)
from core.analysis.vectors import (
    analogy,
    cosine_matrix,
    nearest,
    pca,
    single_token,
    sinusoidal_positions,
)


@pytest.fixture(scope="module")
def run(bundled):
    ids = bundled.tokenizer.encode("ROMEO:\nBut, soft! what light through yonder window breaks?")
    logits, cache = bundled.run_with_cache([ids])
    return ids, cache


def test_every_pattern_row_sums_to_one_and_future_is_zero(bundled, run):
    _, cache = run
    for layer in range(bundled.config.n_layer):
        p = cache["pattern", layer]
        T = p.shape[-1]
        assert torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1)), atol=1e-5)
        assert p[..., torch.triu(torch.ones(T, T, dtype=torch.bool), 1)].abs().max() == 0


@pytest.mark.parametrize("layer,head", [(0, 0), (2, 3), (5, 1)])
def test_step_by_step_equals_the_cache(bundled, run, layer, head):
    _, cache = run
    s = head_steps(bundled, cache, layer, head)
    assert torch.allclose(s["Q"], cache["q", layer][0, head], atol=1e-5)
    assert torch.allclose(s["K"], cache["k", layer][0, head], atol=1e-5)
    assert torch.allclose(s["V"], cache["v", layer][0, head], atol=1e-5)
    assert torch.allclose(s["masked"], cache["attn_scores", layer][0, head], atol=1e-5)
    assert torch.allclose(s["scaled"], s["QK"] / math.sqrt(bundled.config.d_head))
    assert torch.allclose(s["pattern"], cache["pattern", layer][0, head], atol=1e-6)
    assert torch.allclose(s["z"], cache["z", layer][0, head], atol=1e-5)
    assert torch.allclose(s["out"], cache["attn_out", layer][0], atol=1e-5)


def test_head_weights_shapes_and_range(bundled):
    w = head_weights(bundled, 1, 2)
    assert w["W_Q"].shape == (bundled.config.n_embd, bundled.config.d_head)
    with pytest.raises(PlaygroundError, match="Layer 9 does not exist"):
        head_weights(bundled, 9, 0)


def test_pattern_scores_on_a_hand_made_pattern():
    T = 4
    previous = torch.zeros(T, T)
    previous[0, 0] = 1
    for q in range(1, T):
        previous[q, q - 1] = 1
    first = torch.zeros(T, T)
    first[:, 0] = 1
    scores = pattern_scores(torch.stack([previous, first]).unsqueeze(0))  # (1 layer, 2 heads, T, T)
    assert scores["previous_token"].tolist()[0] == pytest.approx([1.0, 1 / 3])
    assert scores["first_token"].tolist()[0] == pytest.approx([1 / 3, 1.0])


def test_induction_on_a_text_and_on_a_hand_made_pattern():
    ids = [9, 5, 6, 7, 5, 6, 7, 9]
    queries, keys = induction_targets(ids)
    assert (queries, keys) == ([4, 5, 6, 7], [2, 3, 4, 1])  # 9 (position 7) looks after its first copy: position 1
    T = len(ids)
    perfect, uniform = torch.zeros(T, T), torch.tril(torch.ones(T, T))
    perfect[queries, keys] = 1
    uniform = uniform / uniform.sum(-1, keepdim=True)
    scores = text_induction_scores(torch.stack([perfect, uniform]).unsqueeze(0), ids)  # (1 layer, 2 heads)
    expected_uniform = sum(1 / (q + 1) for q in queries) / len(queries)
    assert scores.tolist()[0] == pytest.approx([1.0, expected_uniform])
    assert text_induction_scores(torch.ones(1, 1, 3, 3), [1, 2, 3]).tolist() == [[0.0]]  # nothing repeats
    assert strongest_heads({"x": torch.tensor([[0.1, 0.2], [0.9, 0.3]])})["x"][:2] == (1, 0)


def test_induction_tokens_are_merged_tokens_of_any_vocabulary():
    assert induction_id_range(50257) == (256, 20000)  # GPT-2: the common merged tokens
    assert induction_id_range(2257) == (256, 2256)  # bpe-2000: every merge, never <|endoftext|> (2256)
    assert induction_id_range(97) == (0, 97)


def test_induction_score_range(bundled):
    s = induction_scores(bundled, length=20)
    assert s.shape == (bundled.config.n_layer, bundled.config.n_head) and (0 <= s).all() and (s <= 1).all()


def test_vector_helpers_against_formulas(bundled):
    x = torch.tensor([[3.0, 4.0], [4.0, 3.0], [0.0, 1.0]])
    assert cosine_matrix(x)[0, 1].item() == pytest.approx(24 / 25)
    coords, ratio = pca(torch.tensor([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]]), 1)
    assert ratio.tolist() == pytest.approx([1.0]) and coords.abs().flatten().tolist() == pytest.approx([2, 0, 2])
    pe = sinusoidal_positions(10, 8)
    assert pe[3, 2].item() == pytest.approx(math.sin(3 / 10000 ** (2 / 8)))
    assert pe[3, 3].item() == pytest.approx(math.cos(3 / 10000 ** (2 / 8)))
    wte = bundled.transformer.wte.weight.detach()
    king = single_token(bundled.tokenizer, " king")
    assert nearest(wte, wte[king], bundled.tokenizer, 1)[0].token_id == king
    assert len(analogy(wte, bundled.tokenizer, " king", " man", " woman")) == 10
    with pytest.raises(PlaygroundError, match="pick a word that is one token"):
        single_token(bundled.tokenizer, " Königin")
