"""Generation: greedy determinism, seeds, the KV cache, the context limit, the bundled model's text."""

import re

import pytest
import torch

import core
from core import PlaygroundError, generate
from core.inference.generate import stream_text


def test_greedy_is_deterministic_and_matches_argmax(tiny_model):
    out = generate(tiny_model, [1, 2, 3], 10, temperature=0)
    assert out == generate(tiny_model, [1, 2, 3], 10, temperature=0)
    ids = [1, 2, 3]
    for _ in range(10):  # the same by hand, one full forward pass per token
        ids.append(int(tiny_model(torch.tensor([ids]))[0, -1].argmax()))
    assert out == ids


def test_seed_reproducible_and_different_seeds_differ(tiny_model):
    a = generate(tiny_model, [5], 20, temperature=1.0, seed=7)
    assert a == generate(tiny_model, [5], 20, temperature=1.0, seed=7)
    assert a != generate(tiny_model, [5], 20, temperature=1.0, seed=8)


def test_kv_cache_gives_the_same_tokens(tiny_model, tiny_config):
    # 40 new tokens on a context of 32: crosses the context limit too.
    with_cache = generate(tiny_model, [3, 1, 4], 40, temperature=1.0, seed=1, use_kv_cache=True)
    without = generate(tiny_model, [3, 1, 4], 40, temperature=1.0, seed=1, use_kv_cache=False)
    assert with_cache == without and len(with_cache) == 43


def test_tensor_in_tensor_out(tiny_model):
    out = generate(tiny_model, torch.tensor([[1, 2]]), 3, temperature=0)
    assert isinstance(out, torch.Tensor) and out.shape == (1, 5)


def test_top_k_one_is_greedy(tiny_model):
    assert generate(tiny_model, [9], 8, top_k=1, seed=3) == generate(tiny_model, [9], 8, temperature=0)


def test_bad_arguments(tiny_model):
    with pytest.raises(PlaygroundError, match="empty"):
        generate(tiny_model, [], 5)
    with pytest.raises(PlaygroundError, match="Temperature"):
        generate(tiny_model, [1], 5, temperature=-1)
    with pytest.raises(PlaygroundError, match="top-p"):
        generate(tiny_model, [1], 5, top_p=1.5)


def test_steps_expose_distribution_and_choice(tiny_model):
    steps = list(core.generation_steps(tiny_model, [1, 2], 5, core.SamplingSettings(temperature=0.0)))
    assert len(steps) == 5
    for step in steps:
        assert step.token == step.greedy_token and abs(step.probs.sum().item() - 1) < 1e-6


def test_bundled_model_writes_shakespeare(bundled):
    tok = bundled.tokenizer
    text = tok.decode(generate(bundled, tok.encode("ROMEO:\n"), 120, temperature=0.8, top_k=40, seed=1))
    words = re.findall(r"[A-Za-z']+", text)
    common = {"the", "and", "to", "of", "i", "my", "a", "you", "that", "in", "is", "not", "me", "thou", "your", "with"}
    assert len(words) > 40 and sum(w.lower() in common for w in words) >= 8  # real English words
    assert "\n" in text[8:]  # line breaks
    assert re.search(r"\n[A-Z][A-Za-z ]+:\n", text[6:])  # a speaker name on its own line


def test_stream_keeps_each_steps_likeliest_tokens(bundled):
    prompt = bundled.tokenizer.encode("ROMEO:\n")
    chunks = list(stream_text(bundled, prompt, 3, core.SamplingSettings(temperature=0.8, top_k=40), seed=2))
    with torch.no_grad():  # the first step by the formula: softmax(z / T) over the 40 largest logits
        z = bundled(torch.tensor([prompt]))[0, -1].float()
    kept = torch.topk(z, 40)
    probs = torch.softmax(kept.values / 0.8, -1)
    first = chunks[0]
    assert [i for i, _ in first.alternatives] == kept.indices[:5].tolist()
    assert [p for _, p in first.alternatives] == pytest.approx(probs[:5].tolist(), abs=1e-5)
    for chunk in chunks:
        assert len(chunk.alternatives) == 5
        assert all(a >= b for (_, a), (_, b) in zip(chunk.alternatives, chunk.alternatives[1:]))
        if chunk.token in dict(chunk.alternatives):
            assert dict(chunk.alternatives)[chunk.token] == pytest.approx(chunk.prob)
