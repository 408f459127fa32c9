"""The analyses on a Llama-family model: the step-by-step head with grouped-query attention and rotation equals
the cache, the anatomy's stages add up, the logit lens ends at the model's own prediction."""

import pytest
import torch

import core
from core.analysis.anatomy import logit_lens, rmsnorm_stats, stages
from core.analysis.attention import head_scores, head_steps, kv_groups
from core.model.families import count_parameters
from core.model.llama import Llama, LlamaConfig

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def run(llama_folders):
    model = core.load_model(llama_folders["qwen3"], device="cpu")  # q/k norms, own head width, biases none
    llama = core.load_model(llama_folders["llama"], device="cpu")  # grouped-query attention, llama3 rope
    text = "I had always thought Jack Gisburn rather a cheap genius"
    return {name: (m, *m.run_with_cache([m.tokenizer.encode(text)])) for name, m in (("qwen3", model), ("llama", llama))}


@pytest.mark.parametrize("name,layer,head", [("llama", 0, 0), ("llama", 1, 5), ("qwen3", 1, 7)])
def test_step_by_step_equals_the_cache(run, name, layer, head):
    model, _, cache = run[name]
    s = head_steps(model, cache, layer, head)
    kv = model.kv_head(head)
    assert int(s["kv_head"]) == kv == head // (model.config.n_head // model.config.n_kv_head)
    assert torch.allclose(s["Q"], cache["q", layer][0, head], atol=1e-5)
    assert torch.allclose(s["K"], cache["k", layer][0, kv], atol=1e-5)
    assert torch.allclose(s["V"], cache["v", layer][0, kv], atol=1e-5)
    assert torch.allclose(s["Q_rot"], cache["q_rot", layer][0, head], atol=1e-5)
    assert torch.allclose(s["K_rot"], cache["k_rot", layer][0, kv], atol=1e-5)
    assert torch.allclose(s["masked"], cache["attn_scores", layer][0, head], atol=1e-5)
    assert torch.allclose(s["pattern"], cache["pattern", layer][0, head], atol=1e-6)
    assert torch.allclose(s["z"], cache["z", layer][0, head], atol=1e-5)
    assert torch.allclose(s["out"], cache["attn_out", layer][0], atol=1e-5)
    assert not torch.allclose(s["Q_rot"][1:], s["Q"][1:], atol=1e-3)  # positions 1.. really turn


def test_groups_of_query_heads():
    config = LlamaConfig(n_head=9, n_kv_head=3)
    assert kv_groups(config) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert kv_groups(core.GPTConfig(n_head=4, n_embd=8)) == [[0], [1], [2], [3]]


@pytest.mark.parametrize("options", [{}, dict(qkv_bias=True, tied_embeddings=False), dict(qk_norm=True, head_dim=12),
                                     dict(o_bias=True, mlp_bias=True)])
def test_stage_parameters_add_up(options):
    config = LlamaConfig(**{**dict(vocab_size=70, context_length=16, n_layer=3, n_head=4, n_kv_head=2, n_embd=16,
                                   d_mlp=40), **options})
    assert sum(s.total for s in stages(config, 5)) == count_parameters(config) == Llama(config).num_parameters()
    keys = [s.key for s in stages(config, 5)]
    assert keys.index("rms1") < keys.index("rope") < keys.index("gqa") < keys.index("swiglu")
    assert "wpe" not in keys


def test_logit_lens_and_head_scores(run):
    model, logits, cache = run["llama"]
    top, probs, final = logit_lens(model, cache)
    assert top.shape[:2] == (model.config.n_layer, logits.shape[1])
    assert torch.equal(top[-1, :, 0], logits[0].argmax(-1))  # the last layer's lens is the model itself
    scores = head_scores(model, cache)
    assert all(v.shape == (model.config.n_layer, model.config.n_head) for v in scores.values())


def test_rmsnorm_stats_by_hand():
    x = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    stats = rmsnorm_stats(x, eps=0.0)
    assert stats["rms_before"] == pytest.approx([(12.5) ** 0.5, 1.0])
    assert stats["rms_after"] == pytest.approx([1.0, 1.0])
    assert stats["mean_before"] == pytest.approx([3.5, 1.0])
