"""The Llama family against transformers' own LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM: logits,
every attention pattern, greedy continuations, the KV cache, parameter counts, the cache's names, bad configs."""

import math

import pytest
import torch

import core
from core import PlaygroundError
from core.model.families import count_parameters
from core.model.hf_llama import config_from_hf
from core.model.llama import Llama, LlamaConfig, rotary_cos_sin, rotary_frequencies, rotate
from tests.support.llama import reference

transformers = pytest.importorskip("transformers")

TEXT = "I had always thought Jack Gisburn rather a cheap genius--though a good fellow enough."


@pytest.fixture(scope="module")
def loaded(llama_folders):
    return {family: core.load_model(folder, device="cpu") for family, folder in llama_folders.items()}


@pytest.mark.parametrize("family", ["llama", "qwen2", "qwen3"])
def test_same_logits_patterns_and_greedy_tokens_as_transformers(family, llama_folders, loaded):
    ours, theirs = loaded[family], reference(llama_folders[family])
    ids = torch.tensor([ours.tokenizer.encode(TEXT)])
    assert ids.shape[1] > 30
    with torch.no_grad():
        out = theirs(ids, output_attentions=True)
    logits, cache = ours.run_with_cache(ids)
    assert (logits - out.logits).abs().max().item() <= 1e-4
    assert len(out.attentions) == ours.config.n_layer
    for layer, attention in enumerate(out.attentions):  # [batch, query head, q, k] in both
        assert cache["pattern", layer].shape == attention.shape
        assert (cache["pattern", layer] - attention).abs().max().item() <= 1e-5
    assert (ours(ids) - out.logits).abs().max().item() <= 1e-4  # the fused path too
    prompt = ids[:, :12]
    with torch.no_grad():
        expected = theirs.generate(prompt, max_new_tokens=20, min_new_tokens=20, do_sample=False,
                                   eos_token_id=None, pad_token_id=0)
    assert expected.shape[1] == 32
    assert core.generate(ours, prompt, 20, temperature=0).tolist() == expected.tolist()


def test_kv_cache_generation_equals_full_recomputation(loaded):
    model = loaded["llama"]
    prompt = model.tokenizer.encode(TEXT)[:9]
    with_cache = list(core.generation_steps(model, prompt, 25, core.SamplingSettings(temperature=0.9), seed=3))
    without = list(core.generation_steps(model, prompt, 25, core.SamplingSettings(temperature=0.9), seed=3,
                                         use_kv_cache=False))
    assert [s.token for s in with_cache] == [s.token for s in without]
    for a, b in zip(with_cache, without):
        assert (a.logits - b.logits).abs().max().item() <= 1e-4
    # and one token at a time through the cache equals one forward pass over everything
    ids = torch.tensor([prompt + [s.token for s in with_cache]])
    kv = core.model.KVCache(model.config.n_layer, ids.shape[1])
    steps = [model(ids[:, :9], kv=kv)[0, -1]] + [model(ids[:, t:t + 1], kv=kv)[0, -1] for t in range(9, ids.shape[1])]
    full = model(ids)[0, 8:]
    assert (torch.stack(steps) - full).abs().max().item() <= 1e-4


def test_generation_past_the_context_slides_the_window(loaded):
    model = loaded["qwen2"]
    prompt = model.tokenizer.encode(TEXT * 3)[-120:]  # context 128: the window slides after 8 new tokens
    fast = core.generate(model, prompt, 12, temperature=0)
    slow = core.generate(model, prompt, 12, temperature=0, use_kv_cache=False)
    assert fast == slow and len(fast) == 132


def test_cache_names_shapes_and_relations(loaded):
    model = loaded["llama"]
    c = model.config
    B, T, H, Hkv, D = 2, 11, c.n_head, c.n_kv_head, c.d_head
    _, cache = model.run_with_cache(torch.randint(0, c.vocab_size, (B, T), generator=torch.Generator().manual_seed(0)))
    assert "pos_embed" not in model.hook_names[0] and "q_rot" in model.hook_names[1]
    for layer in range(c.n_layer):
        for name in model.hook_names[1]:
            assert (name, layer) in cache, name
    assert cache["q", 1].shape == cache["q_rot", 1].shape == (B, H, T, D)
    assert cache["k", 1].shape == cache["v", 1].shape == cache["k_rot", 1].shape == (B, Hkv, T, D)
    assert cache["pattern", 1].shape == cache["attn_scores", 1].shape == (B, H, T, T)
    assert cache["mlp_pre", 0].shape == cache["mlp_up", 0].shape == cache["mlp_post", 0].shape == (B, T, c.d_mlp)
    # hand computation of layer 1 from the cache: rotation, grouped heads, softmax, SwiGLU, residual sums
    positions = torch.arange(T)
    cos, sin = rotary_cos_sin(rotary_frequencies(c), positions)
    assert torch.allclose(cache["q_rot", 1], rotate(cache["q", 1], cos, sin))
    groups = H // Hkv
    k_for_head = cache["k_rot", 1].repeat_interleave(groups, dim=1)  # query head h reads kv head h // groups
    scores = cache["q_rot", 1] @ k_for_head.transpose(-1, -2) / math.sqrt(D)
    scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    assert torch.allclose(scores, cache["attn_scores", 1], atol=1e-5)
    assert torch.allclose(cache["z", 1], cache["pattern", 1] @ cache["v", 1].repeat_interleave(groups, dim=1), atol=1e-5)
    assert torch.allclose(cache["mlp_post", 0], torch.nn.functional.silu(cache["mlp_pre", 0]) * cache["mlp_up", 0])
    x = cache["resid_pre", 0]
    rms = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + c.norm_eps) * model.blocks[0].input_layernorm.weight
    assert torch.allclose(cache["ln1", 0], rms, atol=1e-6)
    assert torch.allclose(cache["resid_pre", 0], cache["embed"])  # no position vectors are added
    assert torch.allclose(cache["resid_mid", 1], cache["resid_pre", 1] + cache["attn_out", 1])
    assert torch.allclose(cache["resid_post", 1], cache["resid_mid", 1] + cache["mlp_out", 1])


def test_rotation_is_a_rotation_and_scores_depend_on_distance_only():
    config = LlamaConfig(vocab_size=10, context_length=64, n_layer=1, n_head=2, n_kv_head=1, n_embd=16, d_mlp=32,
                         rope_theta=10000.0)
    inv_freq = rotary_frequencies(config)
    assert torch.allclose(inv_freq, torch.tensor([10000.0 ** (-2 * i / 8) for i in range(4)]))
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(8, generator=g), torch.randn(8, generator=g)
    cos, sin = rotary_cos_sin(inv_freq, torch.arange(40))
    q_at, k_at = rotate(q.expand(40, 8), cos, sin), rotate(k.expand(40, 8), cos, sin)
    # pair i is (x_i, x_{i+4}), turned by the angle position · inv_freq[i], as a 2×2 rotation matrix by hand
    angle = 7 * inv_freq[1]
    by_hand = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) @ q[[1, 5]]
    assert torch.allclose(q_at[7, [1, 5]], by_hand, atol=1e-6)
    assert torch.allclose(q_at.norm(dim=-1), q.norm().expand(40), atol=1e-5)  # lengths stay
    dots = q_at @ k_at.T  # [query position, key position]
    for distance in (0, 3, 17):
        same = torch.diagonal(dots, offset=-distance)  # query at m, key at m - distance
        assert torch.allclose(same, same[0].expand_as(same), atol=1e-4)


def test_llama3_rope_scaling_matches_transformers():
    hf = transformers.LlamaConfig(hidden_size=64, num_attention_heads=2, max_position_embeddings=131072,
                                  rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                                   "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                   "original_max_position_embeddings": 8192})
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    expected, scaling = ROPE_INIT_FUNCTIONS["llama3"](hf, "cpu")
    ours = config_from_hf(hf.to_dict(), "test")
    assert scaling == 1.0 and torch.equal(rotary_frequencies(ours), expected)


SMOLLM2_135M = dict(model_type="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                    num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                    rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True)
LLAMA_32_1B = dict(model_type="llama", vocab_size=128256, hidden_size=2048, intermediate_size=8192,
                   num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, head_dim=64,
                   max_position_embeddings=131072, rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=True,
                   rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                 "original_max_position_embeddings": 8192, "rope_type": "llama3"})


@pytest.mark.parametrize("hf,expected", [(SMOLLM2_135M, 134_515_008), (LLAMA_32_1B, 1_235_814_400)])
def test_parameter_counts_from_the_formula(hf, expected):
    config = config_from_hf(hf, "test")
    assert count_parameters(config) == core.count_parameters(config) == expected
    with torch.device("meta"):  # no memory, nothing downloaded
        ours = Llama(config)
        theirs = transformers.LlamaForCausalLM(transformers.LlamaConfig(**{k: v for k, v in hf.items()
                                                                            if k != "model_type"}))
    assert ours.num_parameters() == expected
    assert sum(p.numel() for p in theirs.parameters()) == expected


@pytest.mark.parametrize("options", [dict(qkv_bias=True), dict(qk_norm=True, head_dim=12), dict(tied_embeddings=False),
                                     dict(qkv_bias=True, o_bias=True, mlp_bias=True, n_kv_head=4)])
def test_parameter_formula_matches_small_models(options):
    config = LlamaConfig(**{**dict(vocab_size=50, context_length=16, n_layer=2, n_head=4, n_kv_head=2, n_embd=24,
                                   d_mlp=40), **options})
    assert Llama(config).num_parameters() == count_parameters(config)


def hf_config(**changes) -> dict:
    return {**SMOLLM2_135M, **changes}


@pytest.mark.parametrize("changes,match", [
    (dict(model_type="mixtral"), "'mixtral' model"),
    (dict(model_type="qwen3", num_experts=8), "mixture-of-experts"),
    (dict(model_type="mistral", sliding_window=4096), "sliding window of 4096 tokens"),
    (dict(model_type="mistral"), "sliding window of 4096"),  # transformers' default when the key is missing
    (dict(model_type="qwen2", use_sliding_window=True, sliding_window=1024), "sliding window of 1024"),
    (dict(rope_scaling={"rope_type": "yarn", "factor": 4.0}), "'yarn' rope scaling"),
    (dict(rope_scaling={"type": "linear", "factor": 2.0}), "'linear' rope scaling"),
    (dict(partial_rotary_factor=0.5), "partial rotary"),
    (dict(hidden_act="gelu"), "activation gelu"),
    (dict(num_key_value_heads=4), "cannot share"),
    (dict(num_hidden_layers=None), "garbles the field"),
])
def test_unsupported_configs_are_refused_with_one_sentence(changes, match):
    with pytest.raises(PlaygroundError, match=match):
        config_from_hf(hf_config(**changes), "test")


def test_supported_variants_read_right():
    assert config_from_hf(hf_config(model_type="mistral", sliding_window=None), "m").qkv_bias is False
    assert config_from_hf(hf_config(model_type="mistral", sliding_window=8192), "m").context_length == 8192
    qwen = config_from_hf(hf_config(model_type="qwen2", use_sliding_window=False, sliding_window=4096), "q")
    assert qwen.qkv_bias and not qwen.o_bias
    qwen3 = config_from_hf(hf_config(model_type="qwen3", head_dim=128), "q")
    assert qwen3.qk_norm and qwen3.d_head == 128 and not qwen3.qkv_bias
    v5 = config_from_hf({**hf_config(), "rope_theta": None, "rope_parameters": {"rope_type": "default",
                                                                               "rope_theta": 123.0}}, "v5")
    assert v5.rope_theta == 123.0 and v5.rope_scaling is None


def test_run_with_hooks_edits_a_key_value_head_for_its_whole_group(loaded):
    model = loaded["llama"]
    ids = torch.tensor([model.tokenizer.encode(TEXT)[:10]])
    plain, cache = model.run_with_cache(ids)

    def zero_kv_head_0(v):
        v = v.clone()
        v[:, 0] = 0
        return v
    logits, edited = model.run_with_hooks(ids, [("v", 1, zero_kv_head_0)], return_cache=True)
    groups = model.config.n_head // model.config.n_kv_head
    assert edited["z", 1][:, :groups].abs().max() == 0  # query heads 0..3 read kv head 0
    assert torch.allclose(edited["z", 1][:, groups:], cache["z", 1][:, groups:])
    assert not torch.allclose(logits, plain, atol=1e-4)
    with pytest.raises(PlaygroundError, match="no hook point 'pos_embed'"):
        model.run_with_hooks(ids, [("pos_embed", None, lambda x: x)])


def test_impossible_configs():
    with pytest.raises(PlaygroundError, match="cannot share"):
        LlamaConfig(n_head=9, n_kv_head=2)
    with pytest.raises(PlaygroundError, match="even head width"):
        LlamaConfig(n_embd=63, n_head=9, n_kv_head=3)
    with pytest.raises(PlaygroundError, match="at least 1"):
        LlamaConfig(n_layer=0)


def test_lora_on_every_projection_and_merge(llama_folder):
    from core.model.lora import apply_lora, lora_parameter_count, merge_lora

    model = core.load_model(llama_folder, device="cpu")
    c = model.config
    ids = torch.tensor([[1, 40, 50, 60, 70]])
    before = model(ids)
    q, kv = c.n_head * c.d_head, c.n_kv_head * c.d_head
    per_layer = (c.n_embd + q) + 2 * (c.n_embd + kv) + (q + c.n_embd) + 2 * (c.n_embd + c.d_mlp) + (c.d_mlp + c.n_embd)
    assert lora_parameter_count(model, 4) == 4 * c.n_layer * per_layer
    assert apply_lora(model, rank=4, alpha=8) == 4 * c.n_layer * per_layer
    assert torch.allclose(model(ids), before, atol=1e-6)  # B starts at zero: nothing changes
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(0, 0.05)
    adapted = model(ids)
    assert not torch.allclose(adapted, before, atol=1e-3)
    assert torch.allclose(merge_lora(model)(ids), adapted, atol=1e-5)
