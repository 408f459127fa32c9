"""The rotary views' numbers: frequencies by the formula, a pair's path equals the cached rotation, scores by
distance equal the model's own cached attention scores."""

import math

import pytest
import torch

import core
from core import PlaygroundError
from core.analysis.rotary import pair_frequencies, pair_path, scores_by_distance

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def run(llama_folders):
    out = {}
    for family in ("llama", "qwen3"):
        model = core.load_model(llama_folders[family], device="cpu")
        _, cache = model.run_with_cache([model.tokenizer.encode("I had always thought Jack Gisburn rather a cheap")])
        out[family] = (model, cache)
    return out


def test_frequencies_and_wavelengths_by_the_formula(run):
    model, _ = run["llama"]
    c = model.config
    f = pair_frequencies(c)
    assert len(f["frequency"]) == c.d_head // 2
    plain = [c.rope_theta ** (-2 * i / c.d_head) for i in range(c.d_head // 2)]
    assert f["unscaled wavelength"] == pytest.approx([2 * math.pi / x for x in plain], rel=1e-5)
    # Llama 3 scaling: the fast pairs stay, the slowest are slowed down by the factor
    assert f["wavelength"][0] == pytest.approx(f["unscaled wavelength"][0], rel=1e-5)
    assert f["wavelength"][-1] == pytest.approx(c.rope_scaling["factor"] * f["unscaled wavelength"][-1], rel=1e-5)


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_a_pairs_path_goes_through_the_cached_rotation(run, family):
    model, cache = run[family]
    half = model.config.d_head // 2
    q = cache["q", 1][0, 3]  # head 3, every position
    T = q.shape[0]
    for token in (0, 4, T - 1):
        path = pair_path(model, 1, q[token], 2, T)
        assert torch.allclose(path[token], cache["q_rot", 1][0, 3, token, [2, 2 + half]], atol=1e-5)
    lengths = path.norm(dim=-1)
    assert torch.allclose(lengths, lengths[0].expand_as(lengths), atol=1e-5)  # a turn keeps the length


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_scores_by_distance_equal_the_cached_scores(run, family):
    model, cache = run[family]
    head = 5
    kv = model.kv_head(head)
    scores = cache["attn_scores", 0][0, head]
    T = scores.shape[0]
    for query, key in ((T - 1, 0), (T - 1, T - 3), (6, 2)):
        by_distance = scores_by_distance(model, 0, cache["q", 0][0, head, query], cache["k", 0][0, kv, key], T)
        assert by_distance[query - key].item() == pytest.approx(scores[query, key].item(), abs=1e-5)


def test_gpt_has_no_rotary_to_show(bundled):
    with pytest.raises(PlaygroundError, match="no rotary embedding"):
        pair_path(bundled, 0, torch.zeros(bundled.config.d_head), 0, 4)


@pytest.fixture(scope="module")
def their_rotary(llama_folders):
    """transformers' own rotary embedding of the Llama 3-style folder (with its llama3 scaling)."""
    from tests.support.llama import reference
    return reference(llama_folders["llama"]).model.rotary_emb


def transformers_rotation(rotary, q, k, positions):
    """q and k [T, d_head] rotated at `positions` by transformers' rotary embedding and apply_rotary_pos_emb."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    cos, sin = rotary(q[None], positions[None])
    q_rot, k_rot = apply_rotary_pos_emb(q[None, None], k[None, None], cos, sin)
    return q_rot[0, 0], k_rot[0, 0]


def test_frequencies_equal_transformers_llama3_scaling(run, their_rotary):
    model, _ = run["llama"]
    assert pair_frequencies(model.config)["frequency"] == pytest.approx(their_rotary.inv_freq.tolist(), rel=1e-6)


def test_a_pairs_path_is_the_hand_rotation_and_transformers(run, their_rotary):
    """Pair i at position p is (x cos pθ − y sin pθ, y cos pθ + x sin pθ) with θ the pair's frequency; and the
    same numbers as transformers' apply_rotary_pos_emb."""
    model, cache = run["llama"]
    half = model.config.d_head // 2
    q = cache["q", 0][0, 2, 3]
    theta = pair_frequencies(model.config)["frequency"]
    T = 40
    theirs, _ = transformers_rotation(their_rotary, q.expand(T, -1), q.expand(T, -1), torch.arange(T))
    for pair in (0, 3, half - 1):
        path = pair_path(model, 0, q, pair, T)
        x, y = q[pair].item(), q[pair + half].item()
        by_hand = [(x * math.cos(p * theta[pair]) - y * math.sin(p * theta[pair]),
                    y * math.cos(p * theta[pair]) + x * math.sin(p * theta[pair])) for p in range(T)]
        assert path.tolist() == [pytest.approx(point, abs=1e-5) for point in by_hand]
        assert torch.allclose(path, theirs[:, [pair, pair + half]], atol=1e-5)


def test_scores_depend_on_the_distance_only(run, their_rotary):
    """Rotated by transformers at positions (s + d, s) for several s, the score is the one shown for distance d."""
    model, cache = run["llama"]
    q, k = cache["q", 1][0, 6], cache["k", 1][0, model.kv_head(6)]
    shown = scores_by_distance(model, 1, q[5], k[2], 30)
    for d in (0, 1, 7, 29):
        for s in (0, 3, 50):
            q_rot, _ = transformers_rotation(their_rotary, q[5][None], k[2][None], torch.tensor([s + d]))
            _, k_rot = transformers_rotation(their_rotary, q[5][None], k[2][None], torch.tensor([s]))
            score = (q_rot * k_rot).sum().item() / math.sqrt(model.config.d_head)
            assert shown[d].item() == pytest.approx(score, abs=1e-4)
    assert not torch.allclose(shown[1:], shown[:1].expand(29), atol=1e-3)  # the distance does change the score
