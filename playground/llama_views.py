"""The views only the Llama family needs, each called from its page: rotary positions (Embeddings), the groups
of grouped-query attention and the rotation in the step-by-step head (Attention), RMSNorm, rotary and SwiGLU
stages (Anatomy). Every number comes from the model's cache or from core.analysis; the strings are
"llama.*" (playground/locales/<lang>/llama.json).
"""

from __future__ import annotations

import streamlit as st

from core.analysis.anatomy import rmsnorm_stats
from core.analysis.attention import kv_groups
from core.analysis.rotary import pair_frequencies, pair_path, scores_by_distance
from playground import figures, ui
from playground.i18n import t
from playground.rope_figures import (
    distance_scores_figure,
    kv_groups_figure,
    pair_path_figure,
    silu_figure,
    wavelength_figure,
)

ANATOMY_STAGES = ("rms1", "rope", "gqa", "rms2", "swiglu", "rms_f")
SHOWN_POSITIONS = 64


def rotary(model) -> bool:
    """Whether positions enter through rotated q and k (no learned position vectors)."""
    return model.position_embedding is None


# --- Embeddings ---------------------------------------------------------------------------------------------

def rope_positions(model, cache, ids: list[int], labels: list[str], side=st) -> None:
    """What the rotary embedding does, with this model's numbers: each pair's wavelength, one pair of a real q
    turning with the position, and the score of a real query and key at every distance. Controls go to `side`,
    figures to the current container."""
    config = model.config
    half = config.d_head // 2
    ui.explain(t("llama.rope_explain", d=config.d_head, half=half, theta=f"{config.rope_theta:g}"))
    freq = pair_frequencies(config)
    scaled = config.rope_scaling is not None
    ui.chart(st, wavelength_figure(freq["wavelength"], freq["unscaled wavelength"] if scaled else None,
                                   t("llama.wavelength_title"), t("llama.pair"), t("llama.wavelength_axis"),
                                   (t("llama.scaled"), t("llama.unscaled"))), key="embeddings.rope_wavelength")
    if scaled:
        st.caption(t("llama.scaling_caption", factor=f"{config.rope_scaling['factor']:g}",
                     original=config.rope_scaling["original_max_position_embeddings"]))

    c1, c2 = side.columns(2)
    layer = c1.selectbox(t("llama.layer"), range(config.n_layer), key="embeddings.rope_layer")
    head = c2.selectbox(t("llama.head"), range(config.n_head), key="embeddings.rope_head")
    pair = ui.slider(side, t("llama.pair"), 0, half - 1, 0, key="embeddings.rope_pair")
    token = side.selectbox(t("llama.query_token"), range(len(ids)), index=len(ids) - 1,
                           format_func=labels.__getitem__, key="embeddings.rope_query")
    q = cache["q", layer][0, head, token]
    positions = max(min(SHOWN_POSITIONS, config.context_length), token + 1)
    path = pair_path(model, layer, q, pair, positions)
    st.markdown(t("llama.path_explain", pair=pair, other=pair + half, wavelength=f"{freq['wavelength'][pair]:,.1f}"))
    ui.chart(st, pair_path_figure(path.tolist(), token, t("llama.path_title", pair=pair, token=labels[token]),
                                  t("llama.dimension_n", n=pair), t("llama.dimension_n", n=pair + half),
                                  t("llama.position"), t("llama.its_position", n=token)), key="embeddings.rope_path")
    cached = cache["q_rot", layer][0, head, token, [pair, pair + half]]
    st.caption(t("llama.path_check", diff=f"{float((path[token] - cached).abs().max()):.1e}"))

    st.markdown(t("llama.distance_explain"))
    if st.session_state.get("embeddings.rope_key", 0) > token:  # a key after the query chosen before
        st.session_state["embeddings.rope_key"] = 0
    key_token = side.selectbox(t("llama.key_token"), range(token + 1), index=0, format_func=labels.__getitem__,
                               key="embeddings.rope_key")
    k = cache["k", layer][0, model.kv_head(head), key_token]
    distances = min(config.context_length, 2 * SHOWN_POSITIONS)
    series = {t("llama.this_query_key"): scores_by_distance(model, layer, q, k, distances).tolist(),
              t("llama.query_itself"): scores_by_distance(model, layer, q, q, distances).tolist()}
    distance = token - key_token
    marked = (distance, float(cache["attn_scores", layer][0, head, token, key_token])) if distance < distances else None
    ui.chart(st, distance_scores_figure(series, marked, t("llama.distance_title", layer=layer, head=head),
                                        t("llama.distance_axis"), t("llama.score_axis"), t("llama.in_your_text")),
             key="embeddings.rope_distance")


# --- Attention ----------------------------------------------------------------------------------------------

def kv_group_note(config, head: int, key: str) -> None:
    """Which query heads share the chosen head's keys and values (nothing to say without grouping): a sentence
    and one cell per query head, coloured by its key/value head."""
    if config.n_kv_head == config.n_head:
        return
    groups = kv_groups(config)
    group = next(g for g, heads in enumerate(groups) if head in heads)
    st.caption(t("llama.gqa_caption", n_head=config.n_head, n_kv=config.n_kv_head, head=head, kv=group,
                 heads=", ".join(str(h) for h in groups[group])))
    ui.chart(st, kv_groups_figure(groups, head, t("llama.gqa_title", n_head=config.n_head, n_kv=config.n_kv_head),
                                  t("llama.query_head"), t("llama.kv_head")), key=key)


def rotation_steps(matrix, steps: dict, dims: list[str], head: int) -> None:
    """Q and K after the rotation (the scores read these), in the step-by-step head; `matrix` is the page's
    own drawing helper."""
    st.markdown(t("llama.rotate_step", kv=int(steps["kv_head"]), head=head))
    matrix(t("llama.q_rot"), steps["Q_rot"], t("llama.head_dimension"), r"Q' = \mathrm{RoPE}(Q)", dims)
    matrix(t("llama.k_rot"), steps["K_rot"], t("llama.head_dimension"), r"K' = \mathrm{RoPE}(K)", dims)


# --- Anatomy ------------------------------------------------------------------------------------------------

def stage_title(stage, config) -> str | None:
    """A Llama stage's name in the session's language (None for the stages GPT-2 shares)."""
    if stage.key not in ANATOMY_STAGES:
        return None
    return t(f"llama.stage_{stage.key}", heads=config.n_head, kv=config.n_kv_head, dh=config.d_head,
             d=config.n_embd, m=config.d_mlp, theta=f"{config.rope_theta:g}")


def anatomy_stage(chosen: str, model, cache, layer: int, labels: list[str], height: int, side=st) -> None:
    """The inside of a Llama stage: RMSNorm's statistics, q before and after the rotation, the groups of
    attention, SwiGLU's gate, up and product. Controls go to `side`, the rest to the current container."""
    config = model.config
    dims = [f"d{i}" for i in range(config.n_embd)]
    if chosen in ("rms1", "rms2", "rms_f"):
        source, target = {"rms1": (("resid_pre", layer), ("ln1", layer)), "rms2": (("resid_mid", layer), ("ln2", layer)),
                          "rms_f": (("resid_post", config.n_layer - 1), ("ln_final", None))}[chosen]
        st.latex(r"\mathrm{RMSNorm}(x) = \gamma \odot \frac{x}{\sqrt{\frac{1}{d}\sum_i x_i^2 + \epsilon}}")
        st.markdown(t("llama.rms_text"))
        stats = rmsnorm_stats(cache[source][0], config.norm_eps)
        st.dataframe({t("llama.token"): labels, **{t(f"llama.{k.replace(' ', '_').lower()}"): [round(v, 4) for v in vals]
                                                  for k, vals in stats.items()}}, hide_index=True)
        ui.chart(st, figures.heatmap(cache[target][0].tolist(), dims, labels, t("llama.after_rms"), t("llama.dimension"),
                                     t("llama.token"), height=height), key="anatomy.rms")
    elif chosen == "rope":
        st.markdown(t("llama.rope_stage_text", d=config.d_head))
        head = side.selectbox(t("llama.head"), range(config.n_head), key="anatomy.rope_head")
        head_dims = [f"d{i}" for i in range(config.d_head)]
        c1, c2 = st.columns(2)
        for col, name, title in ((c1, "q", t("llama.q_before", head=head)), (c2, "q_rot", t("llama.q_after", head=head))):
            ui.chart(col, figures.heatmap(cache[name, layer][0, head].tolist(), head_dims, labels, title,
                                          t("llama.head_dimension"), t("llama.token"), height=height),
                     key=f"anatomy.{name}")
    elif chosen == "gqa":
        st.markdown(t("llama.gqa_text", n_head=config.n_head, n_kv=config.n_kv_head,
                      share=config.n_head // config.n_kv_head))
        kv_group_note(config, 0, "anatomy.gqa_groups")
        ui.chart(st, figures.heatmap(cache["attn_out", layer][0].tolist(), dims, labels,
                                     t("llama.attn_out", layer=layer), t("llama.dimension"), t("llama.token"),
                                     height=height), key="anatomy.gqa")
    elif chosen == "swiglu":
        st.latex(r"\mathrm{MLP}(x) = W_{down}\,\big(\mathrm{SiLU}(W_{gate}\,x) \odot W_{up}\,x\big),\quad "
                 r"\mathrm{SiLU}(g) = g \cdot \sigma(g)")
        st.markdown(t("llama.swiglu_text", d=config.n_embd, m=config.d_mlp))
        ui.chart(st, silu_figure(t("llama.silu_title"), t("llama.input"), t("llama.output")), key="anatomy.silu")
        units = [f"h{i}" for i in range(min(128, config.d_mlp))]
        for name in ("mlp_pre", "mlp_up", "mlp_post"):
            ui.chart(st, figures.heatmap(cache[name, layer][0][:, :128].tolist(), units, labels,
                                         t(f"llama.{name}", layer=layer, m=config.d_mlp), t("llama.hidden_unit"),
                                         t("llama.token"), height=height), key=f"anatomy.{name}")

