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
from playground import code_view, figures, share, snippets, ui
from playground.i18n import number, t
from playground.rope_figures import (
    distance_scores_figure,
    kv_groups_figure,
    pair_path_figure,
    silu_figure,
    wavelength_figure,
)
from playground.state import current_model_key

ANATOMY_STAGES = ("rms1", "rope", "gqa", "rms2", "swiglu", "rms_f")  # the stages GPT-2 does not have
ANATOMY_VIEWS = ("tokens", "wte", *ANATOMY_STAGES)  # what anatomy_stage shows (the embedding: without positions)
SHOWN_POSITIONS = 64


def rotary(model) -> bool:
    """Whether positions enter through rotated q and k (no learned position vectors)."""
    return model.position_embedding is None


def norm_name(model) -> str:
    """The normalisation the model's blocks use, as the pages name it."""
    return "RMSNorm" if model.arch == "llama" else "LayerNorm"


# --- Home ---------------------------------------------------------------------------------------------------

def config_rows(config) -> list[tuple[str, str]]:
    """(setting, value) rows of the model table: the architecture, and for the Llama family its key/value heads
    and rotary base."""
    rows = [(t("llama.r_arch"), t(f"llama.arch_{config.arch}"))]
    if config.arch == "llama":
        rows += [(t("llama.r_kv_heads"), str(config.n_kv_head)), (t("llama.r_rope"), number(config.rope_theta, None))]
    return rows


# --- Embeddings ---------------------------------------------------------------------------------------------

def rope_params(config) -> tuple:
    """The rotary view's controls for the page's link (none for a model with learned positions)."""
    if config.arch != "llama":
        return ()
    return (share.Param("embeddings.rope_layer", int, 0, config.n_layer - 1),
            share.Param("embeddings.rope_head", int, 0, config.n_head - 1),
            share.Param("embeddings.rope_pair", int, 0, config.d_head // 2 - 1),
            share.Param("embeddings.rope_query", int, 0, config.context_length - 1),
            share.Param("embeddings.rope_key", int, 0, config.context_length - 1))


def rope_positions(model, cache, ids: list[int], labels: list[str], side=st, text: str = "") -> None:
    """What the rotary embedding does, with this model's numbers: each pair's wavelength, one pair of a real q
    turning with the position, and the score of a real query and key at every distance, and the code computing
    them from `text`. Controls go to `side`, figures to the current container."""
    config = model.config
    half = config.d_head // 2
    ui.explain(t("llama.rope_explain", d=config.d_head, half=half, theta=number(config.rope_theta, None)), side)
    freq = pair_frequencies(config)
    scaled = config.rope_scaling is not None
    ui.chart(st, wavelength_figure(freq["wavelength"], freq["unscaled wavelength"] if scaled else None,
                                   t("llama.wavelength_title"), t("llama.pair"), t("llama.wavelength_axis"),
                                   (t("llama.scaled"), t("llama.unscaled"))), key="embeddings.rope_wavelength")
    if scaled:
        st.caption(t("llama.scaling_caption", factor=number(config.rope_scaling["factor"], None),
                     original=config.rope_scaling["original_max_position_embeddings"]))

    c1, c2 = ui.controls_row(side, 2)
    layer = c1.selectbox(t("llama.layer"), range(config.n_layer), key="embeddings.rope_layer")
    head = c2.selectbox(t("llama.head"), range(config.n_head), key="embeddings.rope_head")
    pair = ui.slider(side, t("llama.pair"), 0, half - 1, 0, key="embeddings.rope_pair")
    for key in ("embeddings.rope_query", "embeddings.rope_key"):  # a text shorter than the one chosen before
        if st.session_state.get(key, 0) >= len(ids):
            st.session_state.pop(key)
    token = side.selectbox(t("llama.query_token"), range(len(ids)), index=len(ids) - 1,
                           format_func=labels.__getitem__, key="embeddings.rope_query")
    q = cache["q", layer][0, head, token]
    positions = max(min(SHOWN_POSITIONS, config.context_length), token + 1)
    path = pair_path(model, layer, q, pair, positions)
    st.markdown(t("llama.path_explain", pair=pair, other=pair + half, wavelength=number(freq["wavelength"][pair], 1)))
    ui.chart(st, pair_path_figure(path.tolist(), token, t("llama.path_title", pair=pair, token=labels[token]),
                                  t("llama.dimension_n", n=pair), t("llama.dimension_n", n=pair + half),
                                  t("fig.position"), t("llama.its_position", n=token)), key="embeddings.rope_path")
    cached = cache["q_rot", layer][0, head, token, [pair, pair + half]]
    st.caption(t("llama.path_check", diff=number(float((path[token] - cached).abs().max()), None, 2)))

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
    code_view.show_code(st, snippets.rope(current_model_key(), text, len(ids), layer, head, pair, token, key_token,
                                          positions, distances))


# --- Attention ----------------------------------------------------------------------------------------------

def kv_group_note(config, head: int, key: str, with_figure: bool = True) -> None:
    """Which query heads share the chosen head's keys and values (nothing to say without grouping): a sentence
    and (with_figure) one cell per query head, coloured by its key/value head."""
    if config.n_kv_head == config.n_head:
        return
    groups = kv_groups(config)
    group = next(g for g, heads in enumerate(groups) if head in heads)
    st.caption(t("llama.gqa_caption", n_head=config.n_head, n_kv=config.n_kv_head, head=head, kv=group,
                 heads=", ".join(str(h) for h in groups[group])))
    if with_figure:
        ui.chart(st, kv_groups_figure(groups, head, t("llama.gqa_title", n_head=config.n_head, n_kv=config.n_kv_head),
                                      t("llama.query_head"), t("llama.kv_head")), key=key)


def rotation_steps(matrix, steps: dict, dims: list[str], head: int) -> None:
    """Q and K after the rotation (the scores read these), in the step-by-step head; `matrix` is the page's
    own drawing helper."""
    st.markdown(t("llama.rotate_step", kv=int(steps["kv_head"]), head=head))
    matrix(t("llama.q_rot"), steps["Q_rot"], t("fig.head_dim"), r"Q' = \mathrm{RoPE}(Q)", dims)
    matrix(t("llama.k_rot"), steps["K_rot"], t("fig.head_dim"), r"K' = \mathrm{RoPE}(K)", dims)


# --- Anatomy ------------------------------------------------------------------------------------------------

def stage_title(stage, config) -> str | None:
    """A Llama stage's name in the session's language (None for the stages GPT-2 shares)."""
    if stage.key not in ANATOMY_STAGES:
        return None
    return t(f"llama.stage_{stage.key}", heads=config.n_head, kv=config.n_kv_head, dh=config.d_head,
             d=config.n_embd, m=config.d_mlp, theta=number(config.rope_theta, None))


STAGE_TENSORS = {"rms1": ("ln1",), "rope": ("q", "k", "q_rot", "k_rot"),
                 "gqa": ("q_rot", "k_rot", "v", "attn_scores", "pattern", "z", "attn_out"), "rms2": ("ln2",),
                 "swiglu": ("ln2", "mlp_pre", "mlp_up", "mlp_post", "mlp_out")}


def shapes_table(names, cache, layer: int) -> None:
    """The tensors inside the chosen block's stage with their shapes as this run captured them (one text, so
    without the batch axis): key/value heads are fewer than query heads, d_mlp is SwiGLU's own width."""
    ui.table(st, {t("fig.tensor"): [t(f"llama.tensor_{name}") for name in names],
                  t("fig.shape"): [" × ".join(str(n) for n in cache[name, layer].shape[1:]) for name in names]},
             header_ids=False)


def anatomy_stage(chosen: str, model, cache, layer: int, labels: list[str], pieces: list[str], ids: list[int],
                  height: int, side=st, text: str = "") -> None:
    """The inside of a Llama stage: the token embedding alone, RMSNorm's statistics, q before and after the
    rotation, the groups of attention, SwiGLU's gate, up and product, each with the shapes of its tensors, and
    the code that computes them from `text`. Controls go to `side`, the rest to the current container."""
    config = model.config
    key = current_model_key()
    dims = [f"d{i}" for i in range(config.n_embd)]
    if chosen in STAGE_TENSORS:
        shapes_table(STAGE_TENSORS[chosen], cache, layer)
    if chosen in ("tokens", "wte"):
        st.markdown(t("llama.embed_text"))
        ui.table(st, {"token": pieces, "id": ids})
        ui.chart(st, figures.heatmap(cache["resid_pre", 0][0].tolist(), dims, labels, t("llama.block0_input"),
                                     t("fig.dimension"), t("fig.token"), height=height), key="anatomy.embed")
        code_view.show_code(st, snippets.activations(key, text, len(ids), [("resid_pre", 0)]))
    elif chosen in ("rms1", "rms2", "rms_f"):
        source, target = {"rms1": (("resid_pre", layer), ("ln1", layer)), "rms2": (("resid_mid", layer), ("ln2", layer)),
                          "rms_f": (("resid_post", config.n_layer - 1), ("ln_final", None))}[chosen]
        st.latex(r"\mathrm{RMSNorm}(x) = \gamma \odot \frac{x}{\sqrt{\frac{1}{d}\sum_i x_i^2 + \epsilon}}")
        st.markdown(t("llama.rms_text"))
        stats = rmsnorm_stats(cache[source][0], config.norm_eps)
        ui.table(st, {t("fig.token"): labels, **{t(f"llama.{k.replace(' ', '_').lower()}"): [number(v, 4) for v in vals]
                                                  for k, vals in stats.items()}}, header_ids=False)
        ui.chart(st, figures.heatmap(cache[target][0].tolist(), dims, labels, t("llama.after_rms"), t("fig.dimension"),
                                     t("fig.token"), height=height), key="anatomy.rms")
        code_view.show_code(st, snippets.rmsnorm_stage(key, text, len(ids), source, target))
    elif chosen == "rope":
        st.markdown(t("llama.rope_stage_text", d=config.d_head))
        head = side.selectbox(t("llama.head"), range(config.n_head), key="anatomy.rope_head")
        head_dims = [f"d{i}" for i in range(config.d_head)]
        c1, c2 = st.columns(2)
        for col, name, title in ((c1, "q", t("llama.q_before", head=head)), (c2, "q_rot", t("llama.q_after", head=head))):
            ui.chart(col, figures.heatmap(cache[name, layer][0, head].tolist(), head_dims, labels, title,
                                          t("fig.head_dim"), t("fig.token"), height=height),
                     key=f"anatomy.{name}")
        code_view.show_code(st, snippets.activations(key, text, len(ids), [("q", layer), ("q_rot", layer)]))
    elif chosen == "gqa":
        st.markdown(t("llama.gqa_text", n_head=config.n_head, n_kv=config.n_kv_head,
                      share=config.n_head // config.n_kv_head))
        kv_group_note(config, 0, "anatomy.gqa_groups")
        ui.chart(st, figures.heatmap(cache["attn_out", layer][0].tolist(), dims, labels,
                                     t("llama.attn_out", layer=layer), t("fig.dimension"), t("fig.token"),
                                     height=height), key="anatomy.gqa")
        code_view.show_code(st, snippets.activations(key, text, len(ids), [("attn_out", layer)]))
    elif chosen == "swiglu":
        st.latex(r"\mathrm{MLP}(x) = W_{down}\,\big(\mathrm{SiLU}(W_{gate}\,x) \odot W_{up}\,x\big),\quad "
                 r"\mathrm{SiLU}(g) = g \cdot \sigma(g)")
        st.markdown(t("llama.swiglu_text", d=config.n_embd, m=config.d_mlp))
        ui.chart(st, silu_figure(t("llama.silu_title"), t("fig.input"), t("fig.output")), key="anatomy.silu")
        units = [f"h{i}" for i in range(min(128, config.d_mlp))]
        for name in ("mlp_pre", "mlp_up", "mlp_post"):
            ui.chart(st, figures.heatmap(cache[name, layer][0][:, :128].tolist(), units, labels,
                                         t(f"llama.{name}", layer=layer, m=config.d_mlp), t("fig.hidden_unit"),
                                         t("fig.token"), height=height), key=f"anatomy.{name}")
        code_view.show_code(st, snippets.activations(key, text, len(ids), [(n, layer) for n in
                                                                           ("mlp_pre", "mlp_up", "mlp_post")], 128))

