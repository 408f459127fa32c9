"""Bits per character against a hand computation: a uniform model (log2 V bits per token), and a random model
scored token by token with the context the definition gives it."""

import math

import pytest
import torch

from core import PlaygroundError
from core.analysis.compression import bits_per_character, total_bits, windows
from core.assets import ASSETS
from core.model.gpt import GPT, GPTConfig
from core.tokens import bpe

TEXT = (ASSETS / "corpora" / "tinyshakespeare.txt").read_text()[:1500]


@pytest.fixture(scope="module")
def model():
    merges = bpe.train_bpe(TEXT, 40)
    tokenizer = bpe.build_tokenizer(merges, "bpe-40")
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=tokenizer.n_vocab, context_length=16, n_layer=2, n_head=2, n_embd=16,
                      tokenizer="bpe-40")).eval()
    m.tokenizer = tokenizer
    return m


def by_hand(model, ids, stride):
    """Token t (t ≥ 1) is scored in the first window whose last target e ≥ t; that window's input starts at
    e − W (0 for the first window), so t is predicted from ids[start:t]."""
    W, N = model.config.context_length, len(ids)
    ends = [min(W, N - 1)]
    while ends[-1] < N - 1:
        ends.append(min(ends[-1] + stride, N - 1))
    bits = 0.0
    for t in range(1, N):
        end = next(e for e in ends if e >= t)
        start = max(0, end - min(W, N - 1))
        with torch.no_grad():
            logits = model(torch.tensor([ids[start:t]]))[0, -1]
        bits += -torch.log_softmax(logits.double(), -1)[ids[t]].item() / math.log(2)
    return bits


@pytest.mark.parametrize("stride", [1, 5, 8, 16])
def test_total_bits_equals_the_hand_computation(model, stride):
    ids = model.tokenizer.encode(TEXT[:400])
    assert len(ids) > 3 * model.config.context_length
    assert total_bits(model, ids, stride=stride) == pytest.approx(by_hand(model, ids, stride), rel=1e-6)


def test_uniform_model_needs_log2_v_bits_per_token(model):
    uniform = GPT(model.config).eval()
    for p in uniform.parameters():
        torch.nn.init.zeros_(p)  # every logit 0: each token costs log2(V) bits
    uniform.tokenizer = model.tokenizer
    text = TEXT[:700]
    ids = model.tokenizer.encode(text)
    first = len(model.tokenizer.decode(ids[:1]))
    result = bits_per_character(uniform, text)
    assert result["characters"] == len(text) - first
    assert result["scored_tokens"] == len(ids) - 1
    assert result["bits_per_character"] == pytest.approx((len(ids) - 1) * math.log2(model.config.vocab_size)
                                                         / (len(text) - first))


def test_every_token_is_scored_once():
    for n, window, stride in [(2, 4, 2), (5, 4, 4), (10, 4, 2), (100, 16, 7), (17, 16, 1)]:
        spans = windows(n, window, stride)
        scored = [start + min(window, n - 1) - k + j + 1 for start, k in spans for j in range(k)]
        assert scored == list(range(1, n))  # targets 1 … n−1, in order, once each
        assert all(start >= 0 and start + min(window, n - 1) <= n - 1 for start, _ in spans)
    assert windows(1, 4, 2) == []


def test_bad_input(model):
    with pytest.raises(PlaygroundError):
        bits_per_character(model, "a")
    with pytest.raises(PlaygroundError):
        total_bits(model, [1, 2, 3], stride=17)
