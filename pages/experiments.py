"""Experiments: change the model and watch the prediction. Knock out one head at a time, put activations of one
prompt back into the run of another, and split a logit into the parts of the model that wrote it."""

import math

import streamlit as st
import torch

from core.analysis.interventions import ABLATIONS
from core.analysis.vectors import single_token
from playground import activations, code_view, experiment_figures, figures, llama_views, share, snippets, state, ui
from playground.examples import EXPERIMENT_EXAMPLES, TOKEN_EXAMPLES
from playground.i18n import number, percent, t

PAGE = "experiments"
KINDS = ("ablation", "patching", "attribution")
MAX_TOKENS = 32  # residual patching runs n_layer × tokens copies of the prompt
READS = ("target", "difference")
SHARE = {"kind": share.Param("experiments.kind", choices=KINDS),
         "example": share.Param("experiments.example", choices=tuple(EXPERIMENT_EXAMPLES)),
         "clean": share.Param("experiments.clean"), "corrupted": share.Param("experiments.corrupted"),
         "target": share.Param("experiments.target"), "distractor": share.Param("experiments.distractor"),
         "ablation": share.Param("experiments.ablation", choices=ABLATIONS),
         "reference": share.Param("experiments.reference"),
         "reads": share.Param("experiments.reads", choices=READS)}
FIELDS = ("clean", "corrupted", "target", "distractor")
REFERENCE = TOKEN_EXAMPLES["shakespeare"]  # the mean ablation's text until the user writes another

st.title(t("nav.experiments"))
ui.explain(t("experiments.explain"))
share.restore(PAGE, SHARE)
model = ui.current_model()
config, tok, key = model.config, model.tokenizer, state.current_model_key()
side, stage = ui.stage()  # presenter mode: the controls left of the maps, so a map is on the first screen


def chance(p: float) -> str:
    """A probability as a percentage, or in powers of ten when it is too small for one."""
    return percent(p, 2) if p >= 1e-4 else number(p, None, 2)


def fill_example() -> None:
    for name, value in EXPERIMENT_EXAMPLES[st.session_state["experiments.example"]].items():
        st.session_state[f"experiments.{name}"] = value


# A link's values stay; otherwise the first example whose answers are single tokens of this model's tokenizer
usable = [k for k, ex in EXPERIMENT_EXAMPLES.items()
          if all(len(tok.encode(ex[word])) == 1 for word in ("target", "distractor"))]
st.session_state.setdefault("experiments.example", (usable or list(EXPERIMENT_EXAMPLES))[0])
for name in FIELDS:
    st.session_state.setdefault(f"experiments.{name}",
                                EXPERIMENT_EXAMPLES[st.session_state["experiments.example"]][name])
st.session_state.setdefault("experiments.reference", REFERENCE)

side.selectbox(t("experiments.example"), list(EXPERIMENT_EXAMPLES), key="experiments.example",
             format_func=lambda k: t(f"experiments.example_{k}"), on_change=fill_example)
side.text_input(t("experiments.clean"), key="experiments.clean", help=t("experiments.clean_help"))
c1, c2 = ui.controls_row(side, 2)
c1.text_input(t("experiments.target"), key="experiments.target", help=t("experiments.token_help"))
c2.text_input(t("experiments.distractor"), key="experiments.distractor", help=t("experiments.token_help"))
with ui.friendly_errors(stop=True):
    ids = activations.text_to_model_input(model, st.session_state["experiments.clean"], MAX_TOKENS)
    target = single_token(tok, st.session_state["experiments.target"])
    distractor = single_token(tok, st.session_state["experiments.distractor"])
asked = [st.session_state[f"experiments.{name}"] for name in ("clean", "target", "distractor")]  # for the code


def quoted(token_id: int) -> str:
    """A token for labels and titles, its spaces visible: ' Mary' -> '·Mary'."""
    return f"'{figures.visible_plain(tok.token_text(token_id))}'"


target_text, distractor_text = quoted(target), quoted(distractor)
target_md = f"`{target_text}`"  # in sentences a token is code, never read as a word of the sentence

logits, _ = activations.run_cached(key, tuple(ids))
probs = torch.softmax(logits[0, -1].float(), -1)
top = torch.topk(probs, 5).indices.tolist()
side.caption(t("experiments.prediction", n=len(ids), top=", ".join(f"`{quoted(i)}` {percent(float(probs[i]))}" for i in top),
             target=target_md, p=chance(float(probs[target])), rank=int((probs > probs[target]).sum()) + 1))

kind = side.radio(t("experiments.kind"), KINDS, horizontal=True, key="experiments.kind",
                format_func=lambda k: t(f"experiments.kind_{k}"))
layers = [str(i) for i in range(config.n_layer)]
heads = [str(i) for i in range(config.n_head)]
layer_word, head_word = t("experiments.layer"), t("experiments.head")
outputs = {}

if kind == "ablation":
    ui.explain(t("experiments.ablation_explain"), side)
    how = side.radio(t("experiments.ablation"), ABLATIONS, horizontal=True, key="experiments.ablation",
                   format_func=lambda k: t(f"experiments.ablation_{k}"))
    reference = ids
    if how == "mean":
        text = side.text_area(t("experiments.reference"), key="experiments.reference", height=90)
        with ui.friendly_errors(stop=True):
            reference = activations.text_to_model_input(model, text)
    with ui.friendly_errors(stop=True):
        result = activations.ablation_cached(key, tuple(ids), target, how, tuple(reference))
    change = result["change"]
    base_p = math.exp(result["base"])
    details = [[t("experiments.p_before_after", before=chance(base_p), after=chance(math.exp(result["base"] + c)))
                for c in row] for row in change]
    ui.chart(stage, experiment_figures.signed_map(
        change, heads, layers, t("experiments.ablation_title", token=target_text, how=t(f"experiments.ablation_{how}")),
        head_word, layer_word, t("experiments.delta_logp"), details), key="experiments.ablation_map")
    flat = [(abs(c), c, layer, head) for layer, row in enumerate(change) for head, c in enumerate(row)]
    _, biggest, layer, head = max(flat)
    stage.markdown(t("experiments.ablation_result", token=target_md, base=result["base"], p=chance(base_p), layer=layer,
                  head=head, change=biggest))
    if abs(biggest) < 0.05:
        stage.markdown(t("experiments.ablation_small"))
    outputs = {"base_logprob": result["base"], "change": change}
    code_view.show_code(stage, snippets.experiment(key, kind, len(ids), *asked, ablation=how, reference_limit=len(reference),
                                                reference=st.session_state["experiments.reference"] if how == "mean" else ""))

elif kind == "patching":
    ui.explain(t("experiments.patching_explain"), side)
    corrupted_text = side.text_input(t("experiments.corrupted"), key="experiments.corrupted",
                                   help=t("experiments.corrupted_help"))
    with ui.friendly_errors(stop=True):
        corrupted = activations.text_to_model_input(model, corrupted_text, MAX_TOKENS)
        result = activations.patching_cached(key, tuple(ids), tuple(corrupted), target, distractor)
    clean, corrupt = result["clean"], result["corrupted"]
    m1, m2 = ui.controls_row(side, 2)
    m1.metric(t("experiments.diff_clean", target=target_text, other=distractor_text), f"{clean:+.3f}")
    m2.metric(t("experiments.diff_corrupted"), f"{corrupt:+.3f}")
    if clean <= corrupt:
        side.warning(t("experiments.no_preference", target=target_md, clean=clean, corrupted=corrupt))
    elif clean - corrupt < 0.5:
        side.warning(t("experiments.small_gap", gap=clean - corrupt))
    pieces = tok.pieces(corrupted)
    changed = [i for i, (a, b) in enumerate(zip(ids, corrupted)) if a != b]
    labels = [f"{label}{' ✱' if i in changed else ''}" for i, label in enumerate(figures.token_labels(pieces))]
    resid, head_map = result["resid"], result["heads"]
    restored = t("experiments.restored")
    limit = max(1.0, max(abs(v) for row in resid + head_map for v in row))
    ui.chart(stage, experiment_figures.signed_map(
        resid, labels, layers, t("experiments.resid_title"), t("experiments.position"), t("experiments.layer_entering"),
        restored, value_format=".1%", cell_format=".0%", limit=limit), key="experiments.resid_map")
    stage.caption(t("experiments.changed_mark"))
    ui.chart(stage, experiment_figures.signed_map(
        head_map, heads, layers, t("experiments.heads_title"), head_word, layer_word, restored,
        value_format=".1%", cell_format=".0%", limit=limit), key="experiments.heads_map")
    best_resid = max((v, layer, pos) for layer, row in enumerate(resid[1:], 1) for pos, v in enumerate(row)) \
        if config.n_layer > 1 else max((v, 0, pos) for pos, v in enumerate(resid[0]))
    best_head = max((v, layer, head) for layer, row in enumerate(head_map) for head, v in enumerate(row))
    stage.markdown(t("experiments.patching_result", layer=best_resid[1], token=f"`{labels[best_resid[2]]}`",
                  resid=best_resid[0], head_layer=best_head[1], head=best_head[2], heads=best_head[0]))
    outputs = {"logit_diff_clean": clean, "logit_diff_corrupted": corrupt, "resid": resid, "heads": head_map}
    code_view.show_code(stage, snippets.experiment(key, kind, len(ids), *asked, corrupted=corrupted_text))

else:
    rms = llama_views.norm_name(model) == "RMSNorm"  # no centring, no β: the shares are written differently
    ui.explain(t("experiments.attribution_explain_rms" if rms else "experiments.attribution_explain"), side)
    reads = side.radio(t("experiments.reads"), READS, horizontal=True, key="experiments.reads",
                     format_func=lambda k: t(f"experiments.reads_{k}", target=target_text, other=distractor_text))
    minus = distractor if reads == "difference" else None
    with ui.friendly_errors(stop=True):
        result = activations.attribution_cached(key, tuple(ids), target, minus)
    what = t(f"experiments.reads_{reads}", target=target_text, other=distractor_text)
    value_word = t("experiments.contribution")
    ui.chart(stage, experiment_figures.signed_map(
        result["heads"], heads, layers, t("experiments.dla_heads_title", what=what), head_word, layer_word, value_word),
        key="experiments.dla_heads")
    parts = {t("experiments.part_mlp", layer=layer): v for layer, v in enumerate(result["mlps"])}
    parts.update({t(f"experiments.part_{name.replace(' ', '_')}"): v for name, v in result["other"].items()})
    ui.chart(stage, experiment_figures.part_bars(list(parts), list(parts.values()), t("experiments.dla_parts_title", what=what),
                                              t("experiments.part"), value_word), key="experiments.dla_parts")
    stage.success(t("experiments.dla_check", total=result["total"], logit=result["logit"],
                 error=abs(result["total"] - result["logit"])), icon=":material/check_circle:")
    named = {t("experiments.part_head", layer=layer, head=head): v
             for layer, row in enumerate(result["heads"]) for head, v in enumerate(row)} | parts
    part, value = max(named.items(), key=lambda item: abs(item[1]))
    stage.markdown(t("experiments.attribution_result", part=part, value=value))
    outputs = {"logit": result["logit"], "heads": result["heads"], "parts": parts}
    code_view.show_code(stage, snippets.experiment(key, kind, len(ids), *asked, minus=minus is not None))

# The default reference is long and any session starts with it: a link carries it only when it was changed.
share.publish(SHARE, {"reference": None} if st.session_state["experiments.reference"] == REFERENCE else None,
              page=PAGE, outputs=outputs)
