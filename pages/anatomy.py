"""Model anatomy: the whole forward pass as one picture, each stage's values, and the logit lens."""

import streamlit as st
import torch

from core.analysis.anatomy import layernorm_stats, logit_lens, stages
from core.inference.sampling import softmax
from core.model.families import count_parameters
from playground import activations, code_view, figures, llama_views, share, snippets, state, ui
from playground.i18n import number, t

PAGE = "anatomy"
st.title(t("nav.anatomy"))
model = ui.current_model()
config = model.config
SHARE = share.params(share.Param("anatomy.text"),
                     share.Param("anatomy.stage", choices=tuple(s.key for s in stages(config, 1))),
                     share.Param("anatomy.layer", int, 0, config.n_layer - 1))
share.restore(PAGE, SHARE)
left, right = st.columns([2, 3])  # the diagram on the left from the top, so it is on the first screen

with right:
    ui.explain(t("anatomy.explain1"))
    text = st.text_input(t("tokens.text"), ui.example("anatomy"), key="anatomy.text")
    ui.language_note()
    with ui.friendly_errors(stop=True):
        ids, logits, cache = activations.current_run(model, text)
pieces = model.tokenizer.pieces(ids)
labels = figures.token_labels(pieces)
all_stages = stages(config, len(ids))
stage_names = {s.key: llama_views.stage_title(s, config) or t(
                   f"anatomy.stage_{s.key}", heads=config.n_head, dh=config.d_head, d=config.n_embd, d4=4 * config.n_embd)
               + (t("anatomy.tied") if s.key == "unembed" and config.tied_embeddings else "") for s in all_stages}
total = sum(s.total for s in all_stages)
c1, c2, c3 = right.columns(3, vertical_alignment="bottom")  # the numbers on one line, however the labels wrap
c1.metric(t("anatomy.params_boxes"), number(total))
c2.metric(t("anatomy.params_model"), number(model.num_parameters()))
c3.metric(t("anatomy.formula"), number(count_parameters(config)))

keys = [s.key for s in all_stages]


def shapes_table(names) -> None:
    """The tensors inside the chosen block's stage, with their shapes as the model's run captured them (one
    text, so without the batch axis)."""
    ui.table(st, {"tensor": [t(f"anatomy.tensor_{name}") for name in names],
                  "shape": [" × ".join(str(n) for n in cache[name, layer].shape[1:]) for name in names]})


def open_stage() -> None:  # a click on a box of the diagram looks inside that stage
    point = ui.clicked("anatomy.diagram")
    if point is not None and point.get("customdata"):
        st.session_state["anatomy.stage"] = point["customdata"][2]


if st.session_state.get("anatomy.stage") not in keys:
    st.session_state["anatomy.stage"] = "gqa" if "gqa" in keys else "attn"
with right:
    chosen = st.selectbox(t("anatomy.look_inside"), keys, key="anatomy.stage", format_func=stage_names.get)
    layer = ui.slider(st, t("anatomy.block"), 0, config.n_layer - 1, 0, key="anatomy.layer")
with left:
    diagram = figures.architecture_diagram([{**s.__dict__, "name": stage_names[s.key]} for s in all_stages],
                                           config.n_layer, chosen)
    ui.chart(st, diagram, key="anatomy.diagram", on_click=open_stage)
    st.caption(t("anatomy.click_box"))

with right:
    dims = [f"d{i}" for i in range(config.n_embd)]
    height = max(300, 22 * len(ids) + 140)
    if llama_views.rotary(model) and chosen in llama_views.ANATOMY_VIEWS:
        llama_views.anatomy_stage(chosen, model, cache, layer, labels, pieces, ids, height, right, text)
    elif chosen in ("tokens", "wte", "wpe"):
        st.markdown(t("anatomy.embed_text"))
        ui.table(st, {"token": pieces, "id": ids})
        ui.chart(st, figures.heatmap(cache["resid_pre", 0][0].tolist(), dims, labels, t("anatomy.block0_input"),
                                     t("fig.dimension"), t("fig.token"), height=height),
                        key="anatomy.embed")
        code_view.show_code(st, snippets.activations(state.current_model_key(), text, len(ids), [("resid_pre", 0)]))
    elif chosen in ("ln1", "ln2", "ln_f"):
        source, target = {"ln1": (("resid_pre", layer), ("ln1", layer)), "ln2": (("resid_mid", layer), ("ln2", layer)),
                          "ln_f": (("resid_post", config.n_layer - 1), ("ln_final", None))}[chosen]
        st.latex(r"\mathrm{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta")
        st.markdown(t("anatomy.ln_text"))
        before = cache[source][0]
        stats = layernorm_stats(before)
        ui.table(st, {"token": labels, **{k: [number(v, 4) for v in vals] for k, vals in stats.items()}})
        after = cache[target][0]
        ui.chart(st, figures.heatmap(after.tolist(), dims, labels, t("anatomy.after_ln"),
                                        t("fig.dimension"), t("fig.token"), height=height), key="anatomy.ln")
        code_view.show_code(st, snippets.layernorm_stage(state.current_model_key(), text, len(ids), source, target))
    elif chosen == "attn":
        st.markdown(t("anatomy.attn_text", n=config.n_head))
        shapes_table(("q", "k", "v", "attn_scores", "pattern", "z", "attn_out"))
        ui.chart(st, figures.heatmap(cache["attn_out", layer][0].tolist(), dims, labels,
                                        t("anatomy.attn_out", layer=layer), t("fig.dimension"), t("fig.token"),
                                        height=height),
                        key="anatomy.attn")
        code_view.show_code(st, snippets.activations(state.current_model_key(), text, len(ids), [("attn_out", layer)]))
    elif chosen == "mlp":
        st.markdown(t("anatomy.mlp_text", d=config.n_embd, d4=4 * config.n_embd))
        shapes_table(("ln2", "mlp_pre", "mlp_post", "mlp_out"))
        ui.chart(st, figures.activation_curves(), key="anatomy.gelu")
        ui.chart(st, figures.heatmap(cache["mlp_post", layer][0][:, :128].tolist(),
                                        [f"h{i}" for i in range(min(128, 4 * config.n_embd))], labels,
                                        t("anatomy.hidden", layer=layer, d4=number(4 * config.n_embd)), t("fig.hidden_unit"),
                                        t("fig.token"),
                                        height=height),
                        key="anatomy.mlp")
        code_view.show_code(st, snippets.activations(state.current_model_key(), text, len(ids), [("mlp_post", layer)], 128))
    elif chosen in ("add1", "add2"):
        st.markdown(t("anatomy.resid_text"))
        def mean_norm(name: str, lay: int) -> float:
            return float(cache[name, lay][0].norm(dim=-1).mean())

        blocks = list(range(config.n_layer))
        fig = figures.bars(blocks, {t("anatomy.resid_before"): [mean_norm("resid_pre", b) for b in blocks],
                                    t("anatomy.attn_adds"): [mean_norm("attn_out", b) for b in blocks],
                                    t("anatomy.mlp_adds"): [mean_norm("mlp_out", b) for b in blocks]},
                           t("anatomy.avg_norm"), t("fig.block"), t("fig.norm"))
        ui.chart(st, fig, key="anatomy.contrib")
        b1, b2 = st.columns(2)
        ui.chart(b1, figures.heatmap(cache["resid_pre", layer][0].tolist(), dims, labels, t("anatomy.before", layer=layer),
                                        t("fig.dimension"), t("fig.token"), height=height), key="anatomy.before")
        ui.chart(b2, figures.heatmap(cache["resid_post", layer][0].tolist(), dims, labels, t("anatomy.after", layer=layer),
                                        t("fig.dimension"), t("fig.token"), height=height), key="anatomy.after")
        code_view.show_code(st, snippets.residual_stage(state.current_model_key(), text, len(ids), layer))
    else:
        probs = softmax(logits[0, -1].float()).float()
        top = torch.argsort(probs, descending=True)[:10].tolist()
        ui.chart(st, figures.distribution_bars(model.tokenizer.pieces(top), probs[top].tolist(),
                                                  logits[0, -1, top].tolist(), t("anatomy.next_probs")), key="anatomy.logits")
        code_view.show_code(st, snippets.next_token(state.current_model_key(), text, len(ids)))

st.subheader(t("anatomy.logit_lens"))
ui.explain(t("anatomy.explain2", last=config.n_layer - 1, norm=llama_views.norm_name(model)))
top_ids, top_probs, final_prob = logit_lens(model, cache)
shown = min(len(ids), 24)
ui.chart(st, figures.logit_lens_figure([[model.tokenizer.token_text(int(i)) for i in row[:shown, 0]]
                                           for row in top_ids], top_probs[:, :shown, 0].tolist(), labels[:shown]),
                key="anatomy.lens")
ui.chart(st, figures.metric_line(list(range(config.n_layer)), final_prob[:, len(ids) - 1].tolist(),
                                    t("anatomy.final_prob"), t("fig.after_block"), t("fig.probability")),
         key="anatomy.lens_final")
code_view.show_code(st, snippets.logit_lens(state.current_model_key(), text, len(ids)))

share.publish(SHARE, page=PAGE)
