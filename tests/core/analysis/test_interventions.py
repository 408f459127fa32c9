"""Ablation, patching and direct logit attribution against the same edits made by hand with PyTorch module hooks
on transformers' own models (GPT2LMHeadModel, and LlamaForCausalLM / Qwen2 / Qwen3 with grouped-query attention,
rotary positions and RMSNorm), random weights, loaded into core through core.load_model; attribution adds up to
the logit; a mean ablation on a constant input changes nothing; the hooks leave no trace."""

from dataclasses import dataclass

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
FAMILIES = ["gpt2", "llama", "qwen2", "qwen3"]
GPT2 = core.load_tokenizer("gpt2")


@dataclass
class Pair:
    """transformers' model, the same weights in core, and where the hand-made hooks go in transformers' model."""
    hf: torch.nn.Module
    model: torch.nn.Module  # core's model of either family
    blocks: list  # a block's first input: the residual stream entering it
    projections: list  # the attention output projection's input: the heads' z side by side
    final_norm: torch.nn.Module
    d_head: int
    clean: list
    corrupted: list
    target: int
    distractor: int
    path: str  # the folder, to load a second copy

    def w_o(self, layer: int, head: int) -> torch.Tensor:
        """Head `head`'s rows of the output projection as [d_head, d_model] (GPT-2's Conv1D stores [in, out],
        nn.Linear [out, in])."""
        weight = self.projections[layer].weight.detach()
        cols = self.columns(head)
        return weight[cols] if self.model.arch == "gpt2" else weight[:, cols].T

    def columns(self, head: int) -> slice:
        return slice(head * self.d_head, (head + 1) * self.d_head)


def gpt2_folder(folder):
    """A GPT2LMHeadModel with every parameter random (transformers starts biases at 0 and norms at 1, which would
    hide a bias or γ handled wrongly), large enough (initializer_range 0.2) that the prompts' answers differ."""
    import transformers
    torch.manual_seed(3)
    config = transformers.GPT2Config(vocab_size=50257, n_positions=64, n_embd=48, n_layer=3, n_head=4,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, initializer_range=0.2)
    hf = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(torch.randn_like(p) * 0.1)
    hf.save_pretrained(folder, safe_serialization=True)
    return hf


@pytest.fixture(scope="module", params=FAMILIES)
def pair(request, tmp_path_factory):
    pytest.importorskip("transformers")
    if request.param == "gpt2":
        folder = tmp_path_factory.mktemp("hf-gpt2-biased")
        hf = gpt2_folder(folder)
        clean = GPT2.encode("When Mary and John went to the store, John gave a drink to")
        corrupted = GPT2.encode("When Mary and John went to the store, Mary gave a drink to")
        model = core.load_model(str(folder), device="cpu")
        return Pair(hf, model, list(hf.transformer.h), [b.attn.c_proj for b in hf.transformer.h], hf.transformer.ln_f,
                    model.config.d_head, clean, corrupted, 5335, 1757, str(folder))
    from tests.support.llama import reference
    folder = request.getfixturevalue("llama_folders")[request.param]
    hf = reference(folder)
    model = core.load_model(folder, device="cpu")
    ids = torch.randint(2, model.config.vocab_size, (12,), generator=torch.Generator().manual_seed(5)).tolist()
    corrupted = ids[:8] + [(ids[8] + 7) % model.config.vocab_size] + ids[9:]
    layers = list(hf.model.layers)
    return Pair(hf, model, layers, [layer.self_attn.o_proj for layer in layers], hf.model.norm, model.config.d_head,
                ids, corrupted, 11, 23, str(folder))


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
    """The first positional input of each module during one run (an output projection: the heads' z side by side;
    a block: the residual stream entering it; the final norm: the last residual stream)."""
    seen = []
    hf_last_logits(hf, ids, [(m, lambda mod, args: seen.append(args[0].detach().clone()), False) for m in modules])
    return seen


def set_columns(cols, value):
    def pre_hook(module, args):  # the output projection reads [batch, pos, n_head * d_head]
        y = args[0].clone()
        y[..., cols] = value
        return (y,)
    return pre_hook


def test_zero_and_mean_ablation_equal_hand_made_module_hooks(pair):
    hf, model, c = pair.hf, pair.model, pair.model.config
    reference = pair.corrupted[::-1] + pair.clean
    base = torch.log_softmax(hf_last_logits(hf, pair.clean), -1)[pair.target]
    ref_z = capture_inputs(hf, reference, pair.projections)
    zero = ablate_heads(model, pair.clean, pair.target)
    mean = ablate_heads(model, pair.clean, pair.target, "mean", reference)
    assert zero.change.shape == mean.change.shape == (c.n_layer, c.n_head)
    assert abs(zero.base - float(base)) <= TOL
    for layer in range(c.n_layer):
        for head in range(c.n_head):
            cols = pair.columns(head)
            for result, value in ((zero, 0.0), (mean, ref_z[layer][0, :, cols].mean(0))):
                logits = hf_last_logits(hf, pair.clean, [(pair.projections[layer], set_columns(cols, value), False)])
                expected = torch.log_softmax(logits, -1)[pair.target] - base
                assert abs(float(result.change[layer, head]) - float(expected)) <= TOL, (result.kind, layer, head)
    assert zero.change.abs().max() > 1e-3  # the edits do something


def test_residual_and_head_patching_equal_hand_made_module_hooks(pair):
    hf, model, c = pair.hf, pair.model, pair.model.config
    clean_resid = capture_inputs(hf, pair.clean, pair.blocks)
    clean_z = capture_inputs(hf, pair.clean, pair.projections)

    def diff(logits):
        return float(logits[pair.target] - logits[pair.distractor])
    clean, corrupted = diff(hf_last_logits(hf, pair.clean)), diff(hf_last_logits(hf, pair.corrupted))

    def patch_position(layer, pos):
        def pre_hook(module, args, kwargs):  # a block's residual input, put back at one position
            x = args[0].clone()
            x[:, pos] = clean_resid[layer][:, pos]
            return (x, *args[1:]), kwargs
        return pre_hook

    resid = patch_residual(model, pair.clean, pair.corrupted, pair.target, pair.distractor)
    heads = patch_heads(model, pair.clean, pair.corrupted, pair.target, pair.distractor)
    assert abs(resid.clean - clean) <= TOL and abs(resid.corrupted - corrupted) <= TOL
    assert abs(clean - corrupted) > 0.05  # the prompts really differ for this model
    assert resid.restored.shape == (c.n_layer, len(pair.clean)) and heads.restored.shape == (c.n_layer, c.n_head)
    for layer in range(c.n_layer):
        for pos in range(len(pair.clean)):
            patched = diff(hf_last_logits(hf, pair.corrupted, [(pair.blocks[layer], patch_position(layer, pos), True)]))
            assert abs(float(resid.patched[layer, pos]) - patched) <= TOL, (layer, pos)
        for head in range(c.n_head):
            cols = pair.columns(head)
            hook = set_columns(cols, clean_z[layer][..., cols])
            patched = diff(hf_last_logits(hf, pair.corrupted, [(pair.projections[layer], hook, False)]))
            assert abs(float(heads.patched[layer, head]) - patched) <= TOL, (layer, head)
    for result in (resid, heads):  # the fraction restored, from the formula
        expected = (result.patched - result.corrupted) / (result.clean - result.corrupted)
        assert torch.allclose(result.restored, expected, atol=1e-6)
    # The clean residual stream at the differing position of layer 0 brings the clean run back whole; positions
    # before it, where the prompts agree, change nothing there.
    first = next(i for i, (a, b) in enumerate(zip(pair.clean, pair.corrupted)) if a != b)
    assert abs(float(resid.patched[0, first]) - clean) <= TOL
    assert (resid.patched[0, :first] - corrupted).abs().max() <= TOL


def test_direct_logit_attribution_adds_up_and_matches_transformers(pair):
    hf, model, c = pair.hf, pair.model, pair.model.config
    result = direct_logit_attribution(model, pair.clean, pair.target)
    logits = hf_last_logits(hf, pair.clean)
    assert abs(result.logit - float(logits[pair.target])) <= TOL
    assert abs(result.total - result.logit) <= TOL
    assert result.residual_error <= TOL
    gpt2 = model.arch == "gpt2"
    assert set(result.other) == ({"token embedding", "position embedding", "attention biases", "final norm bias"}
                                 if gpt2 else {"token embedding", "attention biases"})
    # Each head by hand from transformers' tensors: its output projection share at the last position (centred for
    # LayerNorm), divided by the final residual stream's std (RMS for RMSNorm) there, times γ, dotted with the
    # unembedding row.
    z = capture_inputs(hf, pair.clean, pair.projections)
    (final,) = capture_inputs(hf, pair.clean, [pair.final_norm])
    x = final[0, -1]
    norm = pair.final_norm
    with torch.no_grad():
        eps = norm.eps if gpt2 else norm.variance_epsilon
        spread = x.var(unbiased=False) if gpt2 else x.pow(2).mean()
        read = norm.weight / torch.sqrt(spread + eps) * hf.lm_head.weight[pair.target]
        for layer in range(c.n_layer):
            for head in range(c.n_head):
                part = z[layer][0, -1, pair.columns(head)] @ pair.w_o(layer, head)
                part = part - part.mean() if gpt2 else part
                assert abs(float(part @ read) - float(result.heads[layer, head])) <= TOL, (layer, head)
        if gpt2:
            assert abs(float(norm.bias @ hf.lm_head.weight[pair.target]) - result.other["final norm bias"]) <= TOL
    difference = direct_logit_attribution(model, pair.clean, pair.target, minus=pair.distractor)
    assert abs(difference.total - float(logits[pair.target] - logits[pair.distractor])) <= TOL
    other = direct_logit_attribution(model, pair.clean, pair.distractor)
    assert torch.allclose(difference.heads, result.heads - other.heads, atol=TOL)


def test_direct_logit_attribution_adds_up_on_the_bundled_model(bundled):
    ids = bundled.tokenizer.encode("When Mary and John went to the store, John gave a drink to")
    result = direct_logit_attribution(bundled, ids, single_token(bundled.tokenizer, " Mary"))
    assert abs(result.total - result.logit) <= TOL and result.residual_error <= TOL


def test_mean_ablation_on_a_constant_input_changes_nothing(pair):
    """With every position alike (one token repeated; GPT-2's position embedding set to zero, rotary positions turn
    only q and k), each head's z is the same at every position, so its mean is the activation itself."""
    model = core.load_model(pair.path, device="cpu")
    if model.position_embedding is not None:
        with torch.no_grad():
            model.position_embedding.zero_()
    ids = [pair.clean[1]] * 9
    result = ablate_heads(model, ids, pair.target, "mean", reference=ids)
    assert result.change.abs().max() <= 1e-5
    assert ablate_heads(model, ids, pair.target).change.abs().max() > 1e-3  # zeroing does change it


def test_experiments_leave_no_trace(pair):
    model = pair.model
    ids = torch.tensor([pair.clean])
    with torch.no_grad():
        before = model(ids)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    ablate_heads(model, pair.clean, pair.target, "mean", pair.corrupted)
    patch_residual(model, pair.clean, pair.corrupted, pair.target, pair.distractor)
    patch_heads(model, pair.clean, pair.corrupted, pair.target, pair.distractor)
    direct_logit_attribution(model, pair.clean, pair.target)
    with torch.no_grad():
        assert torch.equal(model(ids), before)
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("hf-gpt2-small")
    gpt2_folder(folder)
    return core.load_model(str(folder), device="cpu")


CLEAN = GPT2.encode("When Mary and John went to the store, John gave a drink to")
CORRUPTED = GPT2.encode("When Mary and John went to the store, Mary gave a drink to")


def test_batched_copies_are_split_into_chunks_with_the_same_result(gpt2, monkeypatch):
    from core.analysis import interventions
    whole = patch_residual(gpt2, CLEAN, CORRUPTED, 5335, 1757)
    monkeypatch.setattr(interventions, "CHUNK_TOKENS", 3 * len(CLEAN))  # three copies per forward pass
    assert torch.allclose(patch_residual(gpt2, CLEAN, CORRUPTED, 5335, 1757).restored, whole.restored, atol=1e-5)


def test_bad_experiments_are_one_sentence(gpt2):
    with pytest.raises(PlaygroundError, match="same number of tokens"):
        patch_residual(gpt2, CLEAN, CORRUPTED[:-1], 5335, 1757)
    with pytest.raises(PlaygroundError, match="nothing to restore"):
        patch_heads(gpt2, CLEAN, CLEAN, 5335, 1757)
    with pytest.raises(PlaygroundError, match="same token"):
        patch_heads(gpt2, CLEAN, CORRUPTED, 5335, 5335)
    with pytest.raises(PlaygroundError, match="zero' or 'mean"):
        ablate_heads(gpt2, CLEAN, 5335, "resample")
