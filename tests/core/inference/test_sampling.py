"""Every stage of the sampling pipeline against hand-computed values, the lecture's table, and the two pages."""

import math

import pytest
import torch

from core import PlaygroundError, SamplingSettings
from core.inference.sampling import (
    STAGES,
    apply_logit_bias,
    apply_penalties,
    apply_temperature,
    entropy_bits,
    min_p_filter,
    next_token_distribution,
    parse_logit_bias,
    pipeline_stages,
    softmax,
    stage_summary,
    top_k_filter,
    top_p_filter,
)
from core.tokens.encodings import load_tokenizer

INF = float("-inf")
LECTURE = torch.tensor([3.23, -7.1, 5.57, 0.39, 2.4])


def test_lecture_softmax_table():
    assert softmax(LECTURE, 1.0).tolist() == pytest.approx([0.084, 2.75e-6, 0.874, 0.0049, 0.0367], rel=0.02)
    by_hand = [math.exp(v) for v in LECTURE.tolist()]
    assert softmax(LECTURE, 1.0).tolist() == pytest.approx([v / sum(by_hand) for v in by_hand], rel=1e-6)
    assert softmax(LECTURE, 0.01)[2].item() == pytest.approx(1.0)
    assert softmax(LECTURE, 5.0).tolist() == pytest.approx([0.2417, 0.0306, 0.3860, 0.1370, 0.2047], abs=1e-4)
    assert softmax(LECTURE, 0).tolist() == [0, 0, 1, 0, 0]


def test_temperature():
    assert apply_temperature(torch.tensor([2.0, 4.0]), 2.0).tolist() == [1.0, 2.0]
    assert apply_temperature(torch.tensor([2.0, 4.0]), 0).tolist() == [INF, 4.0]


def test_logit_bias():
    out = apply_logit_bias(torch.tensor([1.0, 2.0, 3.0]), {0: 5.0, 2: -100})
    assert out.tolist() == [6.0, 2.0, INF]
    with pytest.raises(PlaygroundError, match="outside the vocabulary"):
        apply_logit_bias(torch.tensor([1.0]), {3: 1.0})


def test_penalties_by_hand():
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0])
    context = [0, 0, 1]  # token 0 twice, token 1 once
    assert apply_penalties(logits, context, repetition=2.0).tolist() == [1.0, -2.0, 0.5, 3.0]
    assert apply_penalties(logits, context, frequency=0.5).tolist() == [1.0, -1.5, 0.5, 3.0]
    assert apply_penalties(logits, context, presence=0.5).tolist() == [1.5, -1.5, 0.5, 3.0]


def test_top_k_top_p_min_p_by_hand():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert torch.isneginf(top_k_filter(logits, 2)).tolist() == [False, False, True, True]
    # top-p 0.7: 0.5 < 0.7, 0.5 + 0.3 = 0.8 ≥ 0.7 → keep two
    assert torch.isneginf(top_p_filter(logits, 0.7)).tolist() == [False, False, True, True]
    assert torch.isneginf(top_p_filter(logits, 0.5)).tolist() == [False, True, True, True]
    assert torch.isneginf(top_p_filter(logits, 0.81)).tolist() == [False, False, False, True]
    # min-p 0.25: threshold 0.25 × 0.5 = 0.125 → drop 0.05
    assert torch.isneginf(min_p_filter(logits, 0.25)).tolist() == [False, False, False, True]


def test_pipeline_in_order_and_renormalised():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    settings = SamplingSettings(temperature=1.0, top_k=3, top_p=0.7)
    probs = next_token_distribution(logits, settings)
    assert probs.tolist() == pytest.approx([0.5 / 0.8, 0.3 / 0.8, 0, 0])
    rows = stage_summary(pipeline_stages(logits, settings))
    assert [r["stage"] for r in rows] == list(STAGES)
    assert [r["tokens_left"] for r in rows] == [4, 4, 4, 4, 4, 3, 2, 2]  # the classroom filter is off here
    assert rows[5]["mass_kept"] == pytest.approx(0.95) and rows[6]["mass_kept"] == pytest.approx(0.8 / 0.95)


def test_everything_removed_is_a_clear_error():
    with pytest.raises(PlaygroundError, match="removed every token"):
        next_token_distribution(torch.zeros(3), SamplingSettings(logit_bias={0: -100, 1: -100, 2: -100}))


@pytest.mark.parametrize("kwargs,message", [
    (dict(temperature=-1), "Temperature"), (dict(top_p=0), "top-p"), (dict(top_p=1.5), "top-p"),
    (dict(top_k=0), "top-k"), (dict(repetition_penalty=0), "repetition"),
])
def test_impossible_settings(kwargs, message):
    with pytest.raises(PlaygroundError, match=message):
        SamplingSettings(**kwargs)


def test_entropy():
    assert entropy_bits(torch.tensor([0.5, 0.5])) == pytest.approx(1.0)
    assert entropy_bits(torch.tensor([1.0, 0.0])) == 0.0


def test_parse_logit_bias():
    tok = load_tokenizer("gpt2")
    assert parse_logit_bias('" the": -100\n" love": 5\n995: 1', tok) == {262: -100.0, 1842: 5.0, 995: 1.0}
    with pytest.raises(PlaygroundError, match="not one"):
        parse_logit_bias('" wherefore": 1', tok)
    with pytest.raises(PlaygroundError, match="not in the vocabulary"):
        parse_logit_bias("99999: 1", tok)
    with pytest.raises(PlaygroundError, match="not a number"):
        parse_logit_bias('" the": lots', tok)


def exact_nucleus(logits: torch.Tensor, p: float) -> set[int]:
    """The smallest set of most likely tokens whose probability sums to at least p, summed in float64 by numpy
    (pairwise summation of the sorted probabilities, independent of our code)."""
    import numpy as np
    probs = np.exp(logits.double().numpy() - logits.double().numpy().max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    mass_before = np.concatenate([[0.0], np.cumsum(probs[order])[:-1]])
    return set(order[mass_before < p].tolist())


def test_top_p_matches_the_exact_nucleus_and_transformers_at_high_p():
    transformers = pytest.importorskip("transformers")
    warper = transformers.TopPLogitsWarper(top_p=0.999)
    generator = torch.Generator().manual_seed(0)
    for case in range(80):
        logits = torch.randn(50257, generator=generator) * (1 + case % 5)
        ours = set(torch.nonzero(~torch.isneginf(top_p_filter(logits, 0.999))).flatten().tolist())
        theirs = warper(None, logits.double()[None])[0]
        assert ours == exact_nucleus(logits, 0.999), case
        assert ours == set(torch.nonzero(~torch.isneginf(theirs)).flatten().tolist()), case


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_a_non_finite_logit_bias_is_refused(value):
    with pytest.raises(PlaygroundError, match="finite"):
        SamplingSettings(logit_bias={5: value})
    with pytest.raises(PlaygroundError, match="finite"):
        apply_logit_bias(torch.zeros(10), {5: value})
    with pytest.raises(PlaygroundError, match="not allowed"):
        parse_logit_bias(f"5: {value}", load_tokenizer("gpt2"))
    assert torch.isneginf(apply_logit_bias(torch.zeros(10), {5: float("-inf")})[5])  # −inf still bans


@pytest.mark.parametrize("raw", ["1, nan", "inf, 2", "1e308, 1", "3, -1000.5"])
def test_parse_logits_refuses_what_is_not_a_logit(raw):
    from core.inference.sampling import parse_logits
    with pytest.raises(PlaygroundError, match="between -1000 and 1000"):
        parse_logits(raw)


def test_parse_logits_reads_the_lecture_vector():
    from core.inference.sampling import parse_logits
    assert parse_logits("3.23, -7.1, 5.57, 0.39; 2.4").tolist() == [3.23, -7.1, 5.57, 0.39, 2.4]
    with pytest.raises(PlaygroundError, match="between 2 and 20"):
        parse_logits("1")


@pytest.mark.parametrize("raw, values", [
    ("3,23; -7,1; 5,57; 0,39; 2,4", [3.23, -7.1, 5.57, 0.39, 2.4]),  # German: decimal commas between semicolons
    ("3,23; −7; 5", [3.23, -7.0, 5.0]),  # a typographic minus
    ("3, 23; 4", [3.0, 23.0, 4.0]),  # a comma with a space separates
    ("3,23, 7", [3.0, 23.0, 7.0])])  # no semicolon: commas separate
def test_parse_logits_reads_german_decimal_commas(raw, values):
    from core.inference.sampling import parse_logits
    assert parse_logits(raw).tolist() == values
