"""Ablation, patching and direct logit attribution against the same edits made by hand with PyTorch module hooks
on transformers' own GPT2LMHeadModel (random weights, biases and norms too, loaded into core through
core.load_model); attribution adds up to the logit; a mean ablation on a constant input changes nothing; the
hooks leave no trace."""

import pytest
import torch

import core
from core import PlaygroundError
from core.analysis.interventions import (
    ablate_heads,
    direct_logit_attribution,
    patch_heads,
    patch_residual,
)
from core.analysis.vectors import single_token

TOL = 1e-4


@pytest.fixture(scope="module")
def gpt2_pair(tmp_path_factory):
    """(transformers' GPT2LMHeadModel, the same weights loaded by core.load_model). Every parameter gets random
    values (transformers starts biases at 0 and norms at 1, which would hide a bias or γ handled wrongly), large
    enough (initializer_range 0.2) that the two prompts' logit differences differ clearly."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(3)
    config = transformers.GPT2Config(vocab_size=50257, n_positions=64, n_embd=48, n_layer=3, n_head=4,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, initializer_range=0.2)
    hf = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(torch.randn_like(p) * 0.1)
    folder = tmp_path_factory.mktemp("hf-gpt2-biased")
    hf.save_pretrained(folder, safe_serialization=True)
    return hf, core.load_model(str(folder), device="cpu")


GPT2 = core.load_tokenizer("gpt2")
CLEAN = GPT2.encode("When Mary and John went to the store, John gave a drink to")
CORRUPTED = GPT2.encode("When Mary and John went to the store, Mary gave a drink to")
TARGET, DISTRACTOR = 5335, 1757  # " Mary", " John"


def hf_last_logits(hf, ids, hooks=()) -> torch.Tensor:
    """transformers' logits at the last position with PyTorch hooks [(module, pre_hook, with_kwargs)] in place."""
    handles = [module.register_forward_pre_hook(fn, with_kwargs=kw) for module, fn, kw in hooks]
    try:
        with torch.no_grad():
            return hf(torch.tensor([ids])).logits[0, -1].float()
    finally:
        for h in handles:
            h.remove()


def capture_inputs(hf, ids, modules) -> list[torch.Tensor]:
    """The first positional input of each module during one run (c_proj: the heads' z side by side; a block:
    the residual stream entering it)."""
    seen = []
    hf_last_logits(hf, ids, [(m, lambda mod, args: seen.append(args[0].detach().clone()), False) for m in modules])
    return seen


def head_columns(hf, head):
    d_head = hf.config.n_embd // hf.config.n_head
    return slice(head * d_head, (head + 1) * d_head)


def set_columns(cols, value):
    def pre_hook(module, args):  # c_proj reads [batch, pos, n_head * d_head]
        y = args[0].clone()
        y[..., cols] = value
        return (y,)
    return pre_hook


def test_zero_and_mean_ablation_equal_hand_made_module_hooks(gpt2_pair):
    hf, model = gpt2_pair
    c = hf.config
    reference = GPT2.encode("The quick brown fox jumps over the lazy dog. The end")
    base = torch.log_softmax(hf_last_logits(hf, CLEAN), -1)[TARGET]
    projections = [hf.transformer.h[layer].attn.c_proj for layer in range(c.n_layer)]
    ref_z = capture_inputs(hf, reference, projections)
    zero = ablate_heads(model, CLEAN, TARGET)
    mean = ablate_heads(model, CLEAN, TARGET, "mean", reference)
    assert zero.change.shape == mean.change.shape == (c.n_layer, c.n_head)
    assert abs(zero.base - float(base)) <= TOL
    for layer in range(c.n_layer):
        for head in range(c.n_head):
            cols = head_columns(hf, head)
            for result, value in ((zero, 0.0), (mean, ref_z[layer][0, :, cols].mean(0))):
                logits = hf_last_logits(hf, CLEAN, [(projections[layer], set_columns(cols, value), False)])
                expected = torch.log_softmax(logits, -1)[TARGET] - base
                assert abs(float(result.change[layer, head]) - float(expected)) <= TOL, (result.kind, layer, head)
    assert zero.change.abs().max() > 1e-3  # the edits do something


def test_residual_and_head_patching_equal_hand_made_module_hooks(gpt2_pair):
    hf, model = gpt2_pair
    c = hf.config
    blocks = list(hf.transformer.h)
    projections = [b.attn.c_proj for b in blocks]
    clean_resid = capture_inputs(hf, CLEAN, blocks)
    clean_z = capture_inputs(hf, CLEAN, projections)

    def diff(logits):
        return float(logits[TARGET] - logits[DISTRACTOR])
    clean, corrupted = diff(hf_last_logits(hf, CLEAN)), diff(hf_last_logits(hf, CORRUPTED))

    def patch_position(layer, pos):
        def pre_hook(module, args, kwargs):  # a block's residual input, put back at one position
            x = args[0].clone()
            x[:, pos] = clean_resid[layer][:, pos]
            return (x, *args[1:]), kwargs
        return pre_hook

    resid = patch_residual(model, CLEAN, CORRUPTED, TARGET, DISTRACTOR)
    heads = patch_heads(model, CLEAN, CORRUPTED, TARGET, DISTRACTOR)
    assert abs(resid.clean - clean) <= TOL and abs(resid.corrupted - corrupted) <= TOL
    assert resid.restored.shape == (c.n_layer, len(CLEAN)) and heads.restored.shape == (c.n_layer, c.n_head)
    for layer in range(c.n_layer):
        for pos in range(len(CLEAN)):
            patched = diff(hf_last_logits(hf, CORRUPTED, [(blocks[layer], patch_position(layer, pos), True)]))
            assert abs(float(resid.patched[layer, pos]) - patched) <= TOL, (layer, pos)
        for head in range(c.n_head):
            cols = head_columns(hf, head)
            patched = diff(hf_last_logits(hf, CORRUPTED, [(projections[layer],
                                                           set_columns(cols, clean_z[layer][..., cols]), False)]))
            assert abs(float(heads.patched[layer, head]) - patched) <= TOL, (layer, head)
    for result in (resid, heads):  # the fraction restored, from the formula
        expected = (result.patched - result.corrupted) / (result.clean - result.corrupted)
        assert torch.allclose(result.restored, expected, atol=1e-6)
    # Putting the whole clean residual stream back at the differing position of layer 0 restores everything;
    # positions where the prompts agree restore nothing at layer 0.
    differing = [i for i, (a, b) in enumerate(zip(CLEAN, CORRUPTED)) if a != b]
    assert abs(float(resid.patched[0, differing[0]]) - clean) <= TOL
    assert (resid.patched[0, :differing[0]] - corrupted).abs().max() <= TOL


def test_direct_logit_attribution_adds_up_and_matches_transformers(gpt2_pair):
    hf, model = gpt2_pair
    c = hf.config
    result = direct_logit_attribution(model, CLEAN, TARGET)
    logit = hf_last_logits(hf, CLEAN)[TARGET]
    assert abs(result.logit - float(logit)) <= TOL
    assert abs(result.total - result.logit) <= TOL
    assert result.residual_error <= TOL
    assert set(result.other) == {"token embedding", "position embedding", "attention biases", "final norm bias"}
    # Each head by hand from transformers' tensors: its c_proj share at the last position, centred, divided by the
    # final residual stream's std there, times γ, dotted with the unembedding row.
    projections = [hf.transformer.h[layer].attn.c_proj for layer in range(c.n_layer)]
    z = capture_inputs(hf, CLEAN, projections)
    (final,) = capture_inputs(hf, CLEAN, [hf.transformer.ln_f])
    x = final[0, -1]
    ln_f = hf.transformer.ln_f
    with torch.no_grad():
        read = ln_f.weight / torch.sqrt(x.var(unbiased=False) + ln_f.eps) * hf.lm_head.weight[TARGET]
        for layer in range(c.n_layer):
            for head in range(c.n_head):
                cols = head_columns(hf, head)
                part = z[layer][0, -1, cols] @ projections[layer].weight[cols]  # Conv1D: x @ W, W [in, out]
                assert abs(float((part - part.mean()) @ read) - float(result.heads[layer, head])) <= TOL
        assert abs(float(ln_f.bias @ hf.lm_head.weight[TARGET]) - result.other["final norm bias"]) <= TOL
    difference = direct_logit_attribution(model, CLEAN, TARGET, minus=DISTRACTOR)
    assert abs(difference.total - (result.logit - float(hf_last_logits(hf, CLEAN)[DISTRACTOR]))) <= TOL
    assert torch.allclose(difference.heads, result.heads - direct_logit_attribution(model, CLEAN, DISTRACTOR).heads,
                          atol=TOL)


def test_direct_logit_attribution_adds_up_on_the_bundled_model(bundled):
    ids = bundled.tokenizer.encode("When Mary and John went to the store, John gave a drink to")
    result = direct_logit_attribution(bundled, ids, single_token(bundled.tokenizer, " Mary"))
    assert abs(result.total - result.logit) <= TOL and result.residual_error <= TOL


def test_mean_ablation_on_a_constant_input_changes_nothing(gpt2_pair, tmp_path):
    """With every position alike (one token repeated, no position embedding), each head's z is the same at every
    position, so its mean is the activation itself."""
    hf, _ = gpt2_pair
    hf.save_pretrained(tmp_path, safe_serialization=True)
    model = core.load_model(str(tmp_path), device="cpu")
    with torch.no_grad():
        model.transformer.wpe.weight.zero_()
    ids = [262] * 9
    result = ablate_heads(model, ids, TARGET, "mean", reference=ids)
    assert result.change.abs().max() <= 1e-5
    assert ablate_heads(model, ids, TARGET).change.abs().max() > 1e-3  # zeroing does change it


def test_experiments_leave_no_trace(gpt2_pair):
    _, model = gpt2_pair
    ids = torch.tensor([CLEAN])
    with torch.no_grad():
        before = model(ids)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    ablate_heads(model, CLEAN, TARGET, "mean", CORRUPTED)
    patch_residual(model, CLEAN, CORRUPTED, TARGET, DISTRACTOR)
    patch_heads(model, CLEAN, CORRUPTED, TARGET, DISTRACTOR)
    direct_logit_attribution(model, CLEAN, TARGET)
    with torch.no_grad():
        assert torch.equal(model(ids), before)
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_batched_copies_are_split_into_chunks_with_the_same_result(gpt2_pair, monkeypatch):
    from core.analysis import interventions
    _, model = gpt2_pair
    whole = patch_residual(model, CLEAN, CORRUPTED, TARGET, DISTRACTOR)
    monkeypatch.setattr(interventions, "CHUNK_TOKENS", 3 * len(CLEAN))  # three copies per forward pass
    assert torch.allclose(patch_residual(model, CLEAN, CORRUPTED, TARGET, DISTRACTOR).restored, whole.restored,
                          atol=1e-5)


def test_bad_experiments_are_one_sentence(gpt2_pair):
    _, model = gpt2_pair
    with pytest.raises(PlaygroundError, match="same number of tokens"):
        patch_residual(model, CLEAN, CORRUPTED[:-1], TARGET, DISTRACTOR)
    with pytest.raises(PlaygroundError, match="nothing to restore"):
        patch_heads(model, CLEAN, CLEAN, TARGET, DISTRACTOR)
    with pytest.raises(PlaygroundError, match="same token"):
        patch_heads(model, CLEAN, CORRUPTED, TARGET, TARGET)
    with pytest.raises(PlaygroundError, match="zero' or 'mean"):
        ablate_heads(model, CLEAN, TARGET, "resample")
