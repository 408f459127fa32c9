"""Attention: every layer and head of the model on your text, and one head computed by hand."""

import math

import pandas as pd
import streamlit as st
import torch

from core.analysis.attention import head_steps, induction_targets, strongest_heads, text_induction_scores
from playground import activations, code_view, figures, llama_views, loaders, share, snippets, state, ui
from playground.i18n import number, t
from playground.navigation import VIEWS

PAGE = "attention"
BEHAVIOUR = 0.4  # a head "does" a behaviour when at least this share of its attention goes there


def open_head(layer: int, head: int) -> None:
    """Before the rerun draws the pickers: they show the head, and the page shows it alone."""
    st.session_state["attention.layer"], st.session_state["attention.head"] = layer, head
    st.session_state["attention.view"] = "one"


def open_model_head(key: str, layer: int, head: int) -> None:
    state.set_model_key(key)
    open_head(layer, head)


st.title(t("nav.attention"))
side, stage = ui.stage()
model = ui.current_model()
config = model.config
SHARE = share.params(share.Param("attention.text"), share.Param("attention.layer", int, 0, config.n_layer - 1),
                     share.Param("attention.head", int, 0, config.n_head - 1),
                     share.Param("attention.view", choices=tuple(VIEWS[PAGE])),
                     share.Param("attention.lines_which", choices=("chosen", "all")),
                     share.Param("attention.lines_threshold", float, 0, 0.5),
                     share.Param("attention.lines_focus"),
                     share.Param("attention.induction_text"))
share.restore(PAGE, SHARE)
with side:
    ui.explain(t("attention.explain1"))
    text = st.text_area(t("tokens.text"), ui.example("attention"), key="attention.text", height=100)
    ui.language_note()
    with ui.friendly_errors(stop=True):
        ids, _, cache = activations.current_run(model, text)
    pieces = model.tokenizer.pieces(ids)
    if len(ids) < 2:
        st.info(t("attention.one_token"))

    c1, c2 = st.columns(2)
    layer = c1.selectbox(t("attention.layer"), range(config.n_layer), key="attention.layer")
    head = c2.selectbox(t("attention.head"), range(config.n_head), key="attention.head")
    pattern = cache["pattern", layer][0]  # (head, q, k)
    view = ui.view(PAGE)

with stage:
    # which query heads share this head's keys and values; on a projector the sentence only, so the map fits
    llama_views.kv_group_note(config, head, "attention.gqa", with_figure=not state.presenter())
    if view == "one":
        ui.explain(t("attention.explain2"), side)
        ui.chart(st, figures.attention_heatmap(pattern[head].numpy(), pieces,
                                               t("attention.one_title", layer=layer, head=head)), key="attention.one_chart")
        code_view.show_code(st, snippets.attention(state.current_model_key(), text, len(ids), layer, head))

    elif view == "all":
        ui.explain(t("attention.explain3"), side)

        def open_clicked() -> None:  # a click on a thumbnail opens that head
            point = ui.clicked("attention.grid_chart")
            if point is not None and point.get("customdata"):
                open_head(*map(int, point["customdata"]))

        patterns = [[cache["pattern", lay][0, h].numpy() for h in range(config.n_head)] for lay in range(config.n_layer)]
        ui.chart(st, figures.attention_grid(patterns, config.n_layer, config.n_head, (layer, head)),
                 key="attention.grid_chart", on_click=open_clicked)
        code_view.show_code(st, snippets.attention_grid(state.current_model_key(), text, len(ids)))

    elif view == "lines":
        ui.explain(t("attention.explain4"), side)
        limit = 40
        n_lines = min(len(ids), limit)
        focus_options = [""] + [f"{end}{i}" for i in range(n_lines) for end in ("q", "k")]
        if st.session_state.get("attention.lines_focus") not in focus_options:
            st.session_state["attention.lines_focus"] = ""

        def focus_name(option: str) -> str:
            if not option:
                return t("attention.focus_all")
            return t("attention.focus_query" if option[0] == "q" else "attention.focus_key",
                     token=figures.token_labels(pieces)[int(option[1:])])

        def focus_clicked() -> None:  # a click on a token label isolates its lines; clicking it again shows all
            point = ui.clicked("attention.lines_chart")
            data = (point or {}).get("customdata") or [None, None]
            if point is None:
                st.session_state["attention.lines_focus"] = ""
            elif data[0] in ("query", "key") and f"{data[0][0]}{int(data[1])}" in focus_options:  # not a line
                st.session_state["attention.lines_focus"] = f"{data[0][0]}{int(data[1])}"

        with side:  # beside the lines in presenter mode
            which = st.radio(t("attention.show"), ["chosen", "all"], horizontal=True, key="attention.lines_which",
                             format_func=lambda o: t("attention.chosen_head" if o == "chosen" else "attention.all_heads"))
            threshold = ui.choice(st, t("attention.hide_below"), ui.grid(0.0, 0.5, 0.01), 0.05,
                                  key="attention.lines_threshold")
            focus = st.selectbox(t("attention.focus"), focus_options, key="attention.lines_focus", format_func=focus_name)
        if len(ids) > limit:
            st.caption(t("attention.first_tokens", n=limit))
        heads = [head] if which == "chosen" else list(range(config.n_head))
        by_head = {h: pattern[h, :limit, :limit].tolist() for h in heads}
        ui.chart(st, figures.head_view(by_head, pieces[:limit], t("attention.lines_title", layer=layer), threshold,
                                       focus=({"q": "query", "k": "key"}[focus[0]], int(focus[1:])) if focus else None),
                 key="attention.lines_chart", on_click=focus_clicked)
        code_view.show_code(st, snippets.attention_lines(state.current_model_key(), text, len(ids), layer, heads,
                                                         threshold, limit))

    elif view == "steps":
        n_small = min(len(ids), 8)
        ui.explain(t("attention.steps_explain", n=n_small), side)
        small_ids = ids[:n_small]
        _, small_cache = activations.run_cached(state.current_model_key(), tuple(small_ids))
        s = head_steps(model, small_cache, layer, head)
        labels = figures.token_labels(model.tokenizer.pieces(small_ids))
        dh = config.d_head

        def matrix(name, values, x_title, formula, cols=None, rows=labels, colorscale="RdBu", zmid=0.0, numbers=False):
            st.markdown(f"**{name}**  ({values.shape[0]} × {values.shape[1]})")
            st.latex(formula)
            cols = cols or [str(i) for i in range(values.shape[1])]
            fig = figures.heatmap(values.tolist(), cols, rows, name, x_title, t("fig.token"), colorscale=colorscale,
                                  zmid=zmid, height=max(260, 34 * len(rows) + 140), text_values=numbers)
            ui.chart(st, fig, key=f"attention.step.{name}")

        dims = [f"d{i}" for i in range(dh)]
        rotary = llama_views.rotary(model)
        norm = llama_views.norm_name(model)
        matrix(t("attention.s1", norm=norm), s["x_ln"], t("fig.resid_dim"), rf"X = \mathrm{{{norm}}}(x)")
        w1, w2, w3 = st.columns(3)
        for col, key in zip((w1, w2, w3), ("W_Q", "W_K", "W_V")):
            with col:
                st.markdown(t("attention.weights_of", key=key, head=head if key == "W_Q" else int(s["kv_head"]),
                              d=config.n_embd, dh=dh))
                ui.chart(st, figures.heatmap(s[key].tolist(), dims, [str(i) for i in range(config.n_embd)], key,
                                             t("fig.head_dim"), t("fig.model_dim"), height=420),
                         key=f"attention.step.{key}")
        matrix(t("attention.s2"), s["Q"], t("fig.head_dim"), r"Q = X W_Q + b_Q", dims)
        matrix(t("attention.s3"), s["K"], t("fig.head_dim"), r"K = X W_K + b_K", dims)
        matrix(t("attention.s4"), s["V"], t("fig.head_dim"), r"V = X W_V + b_V", dims)
        if rotary:
            llama_views.rotation_steps(matrix, s, dims, head)
        qk = r"Q' K'^\top" if rotary else r"Q K^\top"
        matrix(t("attention.s5"), s["QK"], t("fig.key"), rf"S = {qk}", labels, numbers=True)
        matrix(t("attention.s6", dh=dh, root=number(math.sqrt(dh), 3)), s["scaled"], t("fig.key"),
               rf"S' = \frac{{{qk}}}{{\sqrt{{{dh}}}}}", labels, numbers=True)
        st.markdown(t("attention.s7"))
        st.latex(r"S''_{ij} = \begin{cases} S'_{ij} & j \le i \\ -\infty & j > i \end{cases}")
        masked = pd.DataFrame(s["masked"].tolist(), index=labels, columns=labels).map(
            lambda v: "−∞" if v == float("-inf") else number(v, 3))
        st.dataframe(masked, width="stretch")
        matrix(t("attention.s8"), s["pattern"], t("fig.key"),
               r"A_{ij} = \frac{e^{S''_{ij}}}{\sum_{j'} e^{S''_{ij'}}}", labels, colorscale="Blues", zmid=None, numbers=True)
        st.caption(t("attention.row_sums") + "; ".join(number(v, 6) for v in s["pattern"].sum(-1).tolist()))
        matrix(t("attention.s9"), s["z"], t("fig.head_dim"), r"Z = A V", dims)
        matrix(t("attention.s10"), s["concat"], t("fig.dimension"),
               r"\mathrm{concat}(Z_0, \dots, Z_{" + str(config.n_head - 1) + r"})")
        matrix(t("attention.s11"), s["out"], t("fig.dimension"),
               r"\mathrm{out} = \mathrm{concat}(Z)\, W_O + b_O")
        diffs = {
            "Q": (s["Q"] - small_cache["q", layer][0, head]).abs().max(),
            "A": (s["pattern"] - small_cache["pattern", layer][0, head]).abs().max(),
            "Z": (s["z"] - small_cache["z", layer][0, head]).abs().max(),
            "out": (s["out"] - small_cache["attn_out", layer][0]).abs().max(),
        }
        st.success(t("attention.checked") +
                   "; ".join(f"{k} {number(float(v), None, 2)}" for k, v in diffs.items()), icon=":material/check_circle:")
        code_view.show_code(st, snippets.attention_steps(state.current_model_key(), small_ids, layer, head))

    else:  # what heads do
        ui.explain(t("attention.explain6"), side)
        scores = activations.head_scores_cached(state.current_model_key(), tuple(ids))
        st.markdown(t("attention.pick"))
        picks = st.columns(len(scores))
        for col, (name, (best_layer, best_head, best)) in zip(picks, strongest_heads(
                {name: torch.tensor(values) for name, values in scores.items()}).items()):
            col.button(t("attention.open_head", what=t(f"attention.score_{name}"), layer=best_layer,
                         head=best_head, score=number(best, 2)), key=f"attention.open.{name}", on_click=open_head,
                       args=(best_layer, best_head), width="stretch")
        k1, k2 = st.columns(2)
        for i, (name, values) in enumerate(scores.items()):
            with (k1 if i % 2 == 0 else k2):
                ui.chart(st, figures.score_heatmap(values, t(f"attention.score_{name}"), t("fig.score")),
                         key=f"attention.kind.{name}")
                best = max((v, lay, h) for lay, row in enumerate(values) for h, v in enumerate(row))
                strong = [(lay, h, v) for lay, row in enumerate(values) for h, v in enumerate(row) if v >= BEHAVIOUR]
                if strong:
                    st.caption(t("attention.heads_that_do", threshold=number(BEHAVIOUR, 1), heads="; ".join(
                        t("attention.layer_head", layer=lay, head=h) + f" ({number(v, 2)})" for lay, h, v in strong)))
                else:
                    st.caption(t("attention.no_head", threshold=number(BEHAVIOUR, 1), best=number(best[0], 2),
                                 layer=best[1], head=best[2]))
                    for other, lay, h, v in loaders.bundled_heads(name, BEHAVIOUR):
                        if other != state.current_model_key():
                            st.caption(t("attention.other_model", model=other, layer=lay, head=h, score=number(v, 2)))
                            st.button(t("attention.open_other", model=other), key=f"attention.other.{name}.{other}",
                                      on_click=open_model_head, args=(other, lay, h), width="stretch")
        code_view.show_code(st, snippets.head_kinds(state.current_model_key(), text, len(ids)))

        st.markdown(t("attention.induction_demo"))
        passage = st.text_area(t("attention.induction_text"), ui.example("induction"), key="attention.induction_text",
                               height=100)
        with ui.friendly_errors():
            repeated_ids, _, repeated_cache = activations.current_run(model, passage)
            on_text = text_induction_scores(repeated_cache.stack("pattern")[:, 0], repeated_ids)
            queries, _ = induction_targets(repeated_ids)
            if not queries:
                st.info(t("attention.no_repeat"))
            else:
                best_layer, best_head, best = strongest_heads({"induction": on_text})["induction"]
                st.markdown(t("attention.induction_found", n=len(queries), layer=best_layer, head=best_head,
                              score=number(best, 2)))
                st.button(t("attention.open_this", layer=best_layer, head=best_head), key="attention.open.text",
                          on_click=open_head, args=(best_layer, best_head))
                ui.chart(st, figures.attention_heatmap(
                    repeated_cache["pattern", best_layer][0, best_head].numpy(), model.tokenizer.pieces(repeated_ids),
                    t("attention.layer_head", layer=best_layer, head=best_head)), key="attention.induction_chart")
                code_view.show_code(st, snippets.induction_text(state.current_model_key(), passage, len(repeated_ids)))

share.publish(SHARE, page=PAGE,
              outputs={"tokens": pieces[:64], "pattern": pattern[head, :64, :64].tolist()})
