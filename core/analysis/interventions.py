"""Experiments that change the model and watch the prediction, all built on `model.run_with_hooks` (the one
hook mechanism, core.model.cache), for every model family with the hook points embed, resid_pre, z, mlp_out,
resid_post (and pos_embed where positions are learned) and the accessors final_norm, unembed and
output_projection:

    ablate_heads              knock out one head at a time: its z set to zero, or to its mean over a reference
                              text -> change of log p(target) at the last position, [layer, head]
    patch_residual            run the corrupted prompt with the clean prompt's residual stream put back at one
                              layer and one position -> fraction of the logit difference restored, [layer, pos]
    patch_heads               the same with one head's z (every position) put back, [layer, head]
    direct_logit_attribution  how much each head, each MLP, the embeddings and the biases add to the target's
                              logit directly, through the final norm (its scale frozen) and the unembedding

Each experiment's edits run as batched copies of the prompt (one copy per edit, at most CHUNK_TOKENS tokens per
forward pass), and only the last position is unembedded, so a small model answers in well under a second.

Left out: what a component does through later layers (direct attribution follows only its direct path to the
logits; ablation and patching measure the total effect, direct and indirect, on this one prompt), path patching,
attribution patching (gradients), patching from the corrupted prompt into the clean one, and ablating several
heads at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from core.errors import PlaygroundError
from core.model.base import require_numbers

CHUNK_TOKENS = 8192  # tokens per batched forward pass: bounds memory for long prompts and many edits
ABLATIONS = ("zero", "mean")


@dataclass(frozen=True)
class Replace:
    """One edit of one copy of the prompt: `value` put at `where` of activation `name` (of `layer`); `where`
    indexes the activation without its batch axis, e.g. (head,) of z [head, pos, d_head] or (pos,) of
    resid_pre [pos, d_model]; `value` broadcasts over what it selects."""
    name: str
    layer: int | None
    where: tuple
    value: torch.Tensor


def run_copies(model, ids: list[int], edits: list[Replace]) -> torch.Tensor:
    """The last position's logits [len(edits), vocab] of the prompt, copy i edited by edits[i], in as few batched
    forward passes as CHUNK_TOKENS allows."""
    prompt = torch.as_tensor([ids], device=model.device)
    per_pass = max(1, CHUNK_TOKENS // len(ids))
    out = []
    for start in range(0, len(edits), per_pass):
        chunk = edits[start:start + per_pass]
        by_point: dict = {}
        for row, edit in enumerate(chunk):
            by_point.setdefault((edit.name, edit.layer), []).append((row, edit))
        hooks = [(name, layer, _replacer(rows)) for (name, layer), rows in by_point.items()]
        out.append(model.run_with_hooks(prompt.expand(len(chunk), -1), hooks, positions=-1))
    return torch.cat(out).float()


def _replacer(rows):
    def replace(activation):  # a copy of the batch's activation (Cache.point), edited in place
        for row, edit in rows:
            activation[(row, *edit.where)] = edit.value
        return activation
    return replace


def _last_logits(model, ids: list[int], names=None):
    """Logits at the last position [vocab] through the same (hooked) path as the edited copies, and a cache."""
    logits, cache = model.run_with_hooks([ids], [], return_cache=True, names=names or set(), positions=-1)
    return require_numbers(logits[0].float()), cache


@dataclass
class HeadAblation:
    kind: str  # "zero" or "mean"
    base: float  # log p(target) at the last position, nothing ablated
    change: torch.Tensor  # [layer, head]: log p(target) with that head ablated − base


def ablate_heads(model, ids: list[int], target: int, kind: str = "zero",
                 reference: list[int] | None = None) -> HeadAblation:
    """Knock out each head of each layer alone and measure the change of the log-probability of `target` as
    the next token after `ids`. "zero" sets the head's output z (every position) to 0; "mean" sets it to the
    head's average z over the positions of `reference` (default: the prompt itself), which removes what the head
    says about this prompt but keeps its typical output, so the later layers see a familiar input.

    Measures the total effect (direct and through later layers) on this one prompt; a small change does not
    show that a head does nothing elsewhere, and heads that back each other up can each look unimportant."""
    if kind not in ABLATIONS:
        raise PlaygroundError("Ablation is 'zero' or 'mean', not '{kind}'.", kind=kind)
    c = model.config
    base, _ = _last_logits(model, ids)
    if kind == "mean":
        _, ref = _last_logits(model, reference or ids, {"z"})
        values = [ref["z", layer][0].mean(1) for layer in range(c.n_layer)]  # [head, d_head] each
    else:
        zero = torch.zeros(c.d_head, device=model.device)
        values = [zero.expand(c.n_head, -1)] * c.n_layer
    edits = [Replace("z", layer, (head,), values[layer][head]) for layer in range(c.n_layer) for head in range(c.n_head)]
    ablated = torch.log_softmax(run_copies(model, ids, edits), -1)[:, target]
    base_lp = torch.log_softmax(base, -1)[target]
    return HeadAblation(kind, float(base_lp), (ablated - base_lp).view(c.n_layer, c.n_head).cpu())


@dataclass
class Patching:
    clean: float  # logit(target) − logit(distractor) at the clean prompt's last position
    corrupted: float  # the same on the corrupted prompt
    restored: torch.Tensor  # [layer, position] or [layer, head]: (patched − corrupted) / (clean − corrupted)
    patched: torch.Tensor = field(repr=False)  # the logit differences themselves, same shape


def _patch(model, clean_ids, corrupted_ids, target: int, distractor: int, name: str, count: int) -> Patching:
    if len(clean_ids) != len(corrupted_ids):
        raise PlaygroundError(
            "The clean prompt has {clean} tokens and the corrupted one {corrupted}; patching puts activations back "
            "position by position, so both need the same number of tokens.",
            clean=len(clean_ids), corrupted=len(corrupted_ids))
    if target == distractor:
        raise PlaygroundError("The target and the other token are the same token; choose two different ones.")
    clean_logits, clean_cache = _last_logits(model, clean_ids, {name})
    corrupted_logits, _ = _last_logits(model, corrupted_ids)
    clean = float(clean_logits[target] - clean_logits[distractor])
    corrupted = float(corrupted_logits[target] - corrupted_logits[distractor])
    if abs(clean - corrupted) < 1e-6:
        raise PlaygroundError(
            "The clean and the corrupted prompt give the same logit difference ({value:.4f}), so there is nothing "
            "to restore; choose prompts on which the model's preference differs.", value=clean)
    n_layer = model.config.n_layer
    edits = [Replace(name, layer, (i,), clean_cache[name, layer][0, i]) for layer in range(n_layer)
             for i in range(count)]
    logits = run_copies(model, corrupted_ids, edits)
    patched = (logits[:, target] - logits[:, distractor]).view(n_layer, count).cpu()
    return Patching(clean, corrupted, (patched - corrupted) / (clean - corrupted), patched)


def patch_residual(model, clean_ids: list[int], corrupted_ids: list[int], target: int, distractor: int) -> Patching:
    """Activation patching of the residual stream: run the corrupted prompt, but put back the clean prompt's
    residual stream entering block `layer` (resid_pre) at one position, for every layer × position, and measure
    how much of the logit difference logit(target) − logit(distractor) comes back:
    (patched − corrupted) / (clean − corrupted); 1 = all of the clean behaviour, 0 = none.

    Shows where (which layer, which token) the information that separates the two prompts sits; it says
    nothing about positions where the two prompts and their activations are alike."""
    return _patch(model, clean_ids, corrupted_ids, target, distractor, "resid_pre", len(clean_ids))


def patch_heads(model, clean_ids: list[int], corrupted_ids: list[int], target: int, distractor: int) -> Patching:
    """Activation patching of each head's output: run the corrupted prompt with one head's z (every position)
    taken from the clean prompt, for every layer × head; the fraction of the logit difference restored as in
    `patch_residual`. A head with a large fraction carries, on its own, much of what separates the prompts."""
    return _patch(model, clean_ids, corrupted_ids, target, distractor, "z", model.config.n_head)


@dataclass
class Attribution:
    logit: float  # the model's own logit of the token at the last position (or the difference of two)
    heads: torch.Tensor  # [layer, head]
    mlps: torch.Tensor  # [layer]
    other: dict[str, float]  # embeddings and biases, each its own term
    residual_error: float  # largest |Σ parts − the final residual stream|: the parts are all of it

    @property
    def total(self) -> float:
        return float(self.heads.sum() + self.mlps.sum()) + sum(self.other.values())


@torch.no_grad()
def direct_logit_attribution(model, ids: list[int], token: int, minus: int | None = None) -> Attribution:
    """Split the logit of `token` at the last position (or logit(token) − logit(minus)) into what each part of
    the model writes into the residual stream: every head (z_h · W_O[h]), every MLP (its output, bias included),
    the token and position embeddings, the attention output biases, and the final norm's bias.

    The final norm is linear once its scale is frozen at its value for this input: LayerNorm(x) =
    γ · (x − mean x) / std(x) + β with std(x) of the full residual stream at the last position, so each part
    contributes γ · (part − mean part) / std(x) · W_U[token]; an RMSNorm divides by the root mean square instead
    and centres nothing. The terms then add up to the logit exactly (up to rounding).

    Measures only the direct path of each part to the logits: a head that works by changing what later layers
    do gets little credit here even when ablating it changes the prediction a lot."""
    c = model.config
    logits, cache = _last_logits(model, ids, {"embed", "pos_embed", "z", "mlp_out", "resid_post"})
    direction = model.unembed.weight[token].float()
    logit = logits[token]
    if minus is not None:
        direction = direction - model.unembed.weight[minus].float()
        logit = logit - logits[minus]
    norm = model.final_norm
    centred = isinstance(norm, nn.LayerNorm)  # LayerNorm subtracts the mean; RMSNorm does not

    def centre(v: torch.Tensor) -> torch.Tensor:
        v = v.float()
        return v - v.mean(-1, keepdim=True) if centred else v

    final = centre(cache["resid_post", c.n_layer - 1][0, -1])
    eps = norm.eps if norm.eps is not None else torch.finfo(final.dtype).eps
    scale = torch.rsqrt(final.pow(2).mean() + eps)  # 1/std for LayerNorm (the centred mean square is the variance)
    gamma = norm.weight.float() if norm.weight is not None else torch.ones_like(final)
    read = gamma * scale * direction  # what one unit of (centred) residual stream adds to the logit

    def through(v: torch.Tensor) -> torch.Tensor:
        return centre(v) @ read

    parts = []
    heads, mlps, biases = [], [], torch.zeros(c.n_embd, device=model.device)
    for layer in range(c.n_layer):
        w_o, b_o = model.output_projection(layer)
        per_head = torch.einsum("hd,hdm->hm", cache["z", layer][0, :, -1].float(), w_o.float())  # [head, d_model]
        mlp = cache["mlp_out", layer][0, -1].float()
        heads.append(through(per_head))
        mlps.append(through(mlp))
        biases = biases + b_o.float()
        parts += [per_head.sum(0), mlp]
    embeddings = {"token embedding": cache["embed"][0, -1].float()}
    if "pos_embed" in cache:
        embeddings["position embedding"] = cache["pos_embed"][0, -1].float()
    other = {name: float(through(v)) for name, v in embeddings.items()}
    other["attention biases"] = float(through(biases))
    if getattr(norm, "bias", None) is not None:
        other["final norm bias"] = float(norm.bias.float() @ direction)
    if model.unembed.bias is not None:
        bias = model.unembed.bias.float()
        other["unembedding bias"] = float(bias[token] - (bias[minus] if minus is not None else 0))
    total = sum(parts) + sum(embeddings.values()) + biases
    error = float((total - cache["resid_post", c.n_layer - 1][0, -1].float()).abs().max())
    return Attribution(float(logit), torch.stack(heads).cpu(), torch.stack(mlps).cpu(), other, error)
