"""Model anatomy: the whole forward pass as one picture, each stage's values, and the logit lens."""

import pandas as pd
import streamlit as st
import torch

from core.anatomy import layernorm_stats, logit_lens, stages
from core.model import count_parameters
from playground import activations, figures, share, ui
from playground.i18n import t

PAGE = "anatomy"
SHARE = {"text": share.Param("anat.text")}

st.title(t("nav.anatomy"))
ui.explain(t("anatomy.explain1"))
share.restore(PAGE, SHARE)

model = ui.current_model()
config = model.config
text = st.text_input("Text", "To be, or not to be, that is the question:", key="anat.text")
with ui.friendly_errors(stop=True):
    ids, logits, cache = activations.current_run(model, text)
pieces = model.tokenizer.pieces(ids)
labels = figures.token_labels(pieces)
all_stages = stages(config, len(ids))
total = sum(s.params for s in all_stages)
c1, c2, c3 = st.columns(3)
c1.metric("Parameters (sum of the boxes)", f"{total:,}")
c2.metric("Parameters (counted in the model)", f"{model.num_parameters():,}")
c3.metric("Formula", f"{count_parameters(config):,}")

left, right = st.columns([2, 3])
keys = [s.key for s in all_stages]
with right:
    chosen = st.selectbox("Look inside", keys, index=keys.index("attn"), key="anat.stage",
                          format_func=lambda k: next(s.name for s in all_stages if s.key == k))
    layer = st.slider("Block (layer)", 0, config.n_layer - 1, 0, key="anat.layer")
with left:
    ui.chart(st, figures.architecture_diagram([s.__dict__ for s in all_stages], config.n_layer, chosen),
                    key="anat.diagram")

with right:
    dims = [f"d{i}" for i in range(config.n_embd)]
    height = max(300, 22 * len(ids) + 140)
    if chosen in ("tokens", "wte", "wpe"):
        st.markdown("The ids pick rows of the embedding matrices; their sum enters block 0.")
        st.dataframe(pd.DataFrame({"token": pieces, "id": ids}), hide_index=True, width="stretch")
        ui.chart(st, figures.heatmap(cache["resid_pre", 0][0].tolist(), dims, labels, "Block 0's input "
                                        "(token + position embedding)", "dimension", "token", height=height),
                        key="anat.embed")
    elif chosen in ("ln1", "ln2", "ln_f"):
        source, target = {"ln1": (("resid_pre", layer), ("ln1", layer)), "ln2": (("resid_mid", layer), ("ln2", layer)),
                          "ln_f": (("resid_post", config.n_layer - 1), ("ln_final", None))}[chosen]
        st.latex(r"\mathrm{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta")
        st.markdown("Each token's vector is shifted to mean 0 and scaled to variance 1, then stretched by the learned "
                    "γ and shifted by β. It keeps the numbers in a range where training is stable.")
        before = cache[source][0]
        stats = layernorm_stats(before)
        st.dataframe(pd.DataFrame({"token": labels, **{k: [round(v, 4) for v in vals] for k, vals in stats.items()}}),
                     hide_index=True, width="stretch")
        after = cache[target][0]
        ui.chart(st, figures.heatmap(after.tolist(), dims, labels, "After LayerNorm (γ and β applied)",
                                        "dimension", "token", height=height), key="anat.ln")
    elif chosen == "attn":
        st.markdown(f"{config.n_head} heads each mix information from earlier tokens; the Attention page shows "
                    "them one by one. Here: what attention adds to the residual stream.")
        ui.chart(st, figures.heatmap(cache["attn_out", layer][0].tolist(), dims, labels,
                                        f"Attention output of block {layer}", "dimension", "token", height=height),
                        key="anat.attn")
    elif chosen == "mlp":
        st.markdown(f"Each token alone goes through {config.n_embd} → {4 * config.n_embd} → {config.n_embd} "
                    "with a GELU in between: this is where most parameters live.")
        ui.chart(st, figures.activation_curves(), key="anat.gelu")
        ui.chart(st, figures.heatmap(cache["mlp_post", layer][0][:, :128].tolist(),
                                        [f"h{i}" for i in range(min(128, 4 * config.n_embd))], labels,
                                        f"Hidden activations after GELU, block {layer} (first 128 of "
                                        f"{4 * config.n_embd})", "hidden unit", "token", height=height),
                        key="anat.mlp")
    elif chosen in ("add1", "add2"):
        st.markdown("The residual stream: each block *adds* its result to the running vector instead of replacing "
                    "it. The bars compare the size of what attention and the MLP add with the stream itself.")
        rows = []
        for lay in range(config.n_layer):
            rows.append({"block": lay, "residual stream": float(cache["resid_pre", lay][0].norm(dim=-1).mean()),
                         "attention adds": float(cache["attn_out", lay][0].norm(dim=-1).mean()),
                         "MLP adds": float(cache["mlp_out", lay][0].norm(dim=-1).mean())})
        frame = pd.DataFrame(rows)
        fig = figures.bars([f"block {r}" for r in frame["block"]], frame["residual stream"].tolist(),
                           "Average vector length (L2 norm) per block", "block", "norm", "residual stream")
        fig.data[0].name = "residual stream (before)"
        fig.add_bar(x=[f"block {r}" for r in frame["block"]], y=frame["attention adds"], name="attention adds",
                    marker_color=figures.OKABE_ITO[1])
        fig.add_bar(x=[f"block {r}" for r in frame["block"]], y=frame["MLP adds"], name="MLP adds",
                    marker_color=figures.OKABE_ITO[2])
        fig.update_layout(barmode="group")
        ui.chart(st, fig, key="anat.contrib")
        b1, b2 = st.columns(2)
        ui.chart(b1, figures.heatmap(cache["resid_pre", layer][0].tolist(), dims, labels, f"Before block {layer}",
                                        "dimension", "token", height=height), key="anat.before")
        ui.chart(b2, figures.heatmap(cache["resid_post", layer][0].tolist(), dims, labels, f"After block {layer}",
                                        "dimension", "token", height=height), key="anat.after")
    else:
        probs = torch.softmax(logits[0, -1].float(), -1)
        top = torch.argsort(probs, descending=True)[:10].tolist()
        ui.chart(st, figures.distribution_bars(model.tokenizer.pieces(top), probs[top].tolist(),
                                                  logits[0, -1, top].tolist(), "Next-token probabilities after the "
                                                  "last token"), key="anat.logits")

st.subheader("Logit lens")
ui.explain(t("anatomy.explain2"))
top_ids, top_probs, final_prob = logit_lens(model, cache)
shown = min(len(ids), 24)
ui.chart(st, figures.logit_lens_figure([[model.tokenizer.token_text(int(t)) for t in row[:shown, 0]]
                                           for row in top_ids], top_probs[:, :shown, 0].tolist(), labels[:shown]),
                key="anat.lens")
ui.chart(st, figures.metric_line(list(range(config.n_layer)), final_prob[:, len(ids) - 1].tolist(),
                                    "Probability of the final prediction after each block (last position)",
                                    "after block", "probability"), key="anat.lens_final")

share.publish(SHARE, page=PAGE)
