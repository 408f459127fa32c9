"""Embeddings: each id picks a row of a matrix, positions add their own vectors; what the vectors encode."""

import streamlit as st

from core.analysis.vectors import analogy, cosine_matrix, frequent_tokens, nearest, pca, single_token, sinusoidal_positions
from core.tokens.encodings import load_tokenizer
from core.training.data import CORPORA, load_corpus
from playground import activations, code_view, figures, llama_views, share, snippets, state, ui
from playground.i18n import lazy, number, percent, t
from playground.navigation import VIEWS

ANALOGIES = {  # id: (a, b, c, the expected answer); shown as t("embeddings.analogy_<id>")
    "king": (" king", " man", " woman", " queen"),
    "koenig": (" König", " Mann", " Frau", " Königin"),  # the lecture's; several tokens each in GPT-2's encoding
    "father": (" father", " man", " woman", " mother"),
    "paris": (" Paris", " France", " Italy", " Rome"),
}
PCA_TABS = ("2D", "3D")  # the projection's tabs; a tab's label is its value in a link
HALF_WIDTH_PX = 380  # about the width of one of two charts side by side (their tick labels are sized to it)
PCA_3D_BUILT = "embeddings.pca_3d_built"  # the 3D tab was opened in this stay in the view: its chart stays


@st.cache_data(show_spinner=lazy("spin.corpus"), max_entries=8)
def corpus_frequent_ids(corpus: str, tokenizer_key: str, k: int) -> list[int]:
    return frequent_tokens(load_tokenizer(tokenizer_key).encode(load_corpus(corpus)), k)


PAGE = "embeddings"
st.title(t("nav.embeddings"))
side, stage = ui.stage()
ui.explain(t("embeddings.explain1"), side)
model = ui.current_model()
config = model.config
SHARE = share.params(
    share.Param("embeddings.text"), share.Param("embeddings.view", choices=tuple(VIEWS[PAGE])),
    share.Param("embeddings.dims", int, 8, config.n_embd),
    share.Param("embeddings.pca_dims", choices=PCA_TABS), share.Param("embeddings.pca_corpus", choices=tuple(CORPORA)),
    share.Param("embeddings.pca_n", int, 0, 300), share.Param("embeddings.word"),
    share.Param("embeddings.analogy_preset", choices=tuple(ANALOGIES)), share.Param("embeddings.a"),
    share.Param("embeddings.b"), share.Param("embeddings.c"), share.Param("embeddings.sim_layer", int, 0, config.n_layer - 1),
    share.Param("embeddings.n_pos", int, 8, config.context_length), *llama_views.rope_params(config))
share.restore(PAGE, SHARE)

tok = model.tokenizer
wte = model.token_embedding.detach().cpu()
with side:
    text = st.text_area(t("tokens.text"), ui.example("embeddings"), key="embeddings.text", height=80)
    ui.language_note()
    with ui.friendly_errors(stop=True):
        ids, _, cache = activations.current_run(model, text)
pieces = tok.pieces(ids)
labels = figures.token_labels(pieces)

with side:
    view = ui.view(PAGE)
if view != "projection":  # another view replaces the projection's charts: 3D is built again when asked for
    st.session_state.pop(PCA_3D_BUILT, None)

with stage:
    if view == "vectors":
        ui.explain(t("embeddings.vectors_explain", d=config.n_embd), side)
        n_dims = ui.slider(side, t("embeddings.dims_shown"), min(8, config.n_embd), config.n_embd, 64,
                           key="embeddings.dims")
        embed, block_input = cache["embed"][0], cache["resid_pre", 0][0]
        pos = cache["pos_embed"][0] if "pos_embed" in cache else None  # rotary models add no position vectors
        dims = [f"d{i}" for i in range(n_dims)]
        rows = ((t("embeddings.wte_rows"), embed), (t("embeddings.wpe_rows"), pos), (t("embeddings.sum_rows"), block_input))
        for name, values in rows if pos is not None else rows[:1]:
            ui.chart(st, figures.heatmap(values[:, :n_dims].tolist(), dims, labels, name, t("fig.dimension"), t("fig.token"),
                                         height=max(300, 22 * len(ids) + 140)), key=f"embeddings.heat.{name}")
        norms = {t("fig.token_vector"): embed.norm(dim=-1).tolist()}
        if pos is not None:
            norms.update({t("fig.position_vector"): pos.norm(dim=-1).tolist(), t("fig.sum"): block_input.norm(dim=-1).tolist()})
        fig = figures.bars(labels, norms, t("embeddings.norms_title"), t("fig.token"), t("fig.norm"))
        ui.chart(st, fig, key="embeddings.norms")
        code_view.show_code(st, snippets.embedding_vectors(state.current_model_key(), text, len(ids), n_dims, pos is not None))

    elif view == "projection":
        ui.explain(t("embeddings.pca_explain", d=config.n_embd), side)
        p1, p2 = ui.controls_row(side, 2)
        corpus = p1.selectbox(t("embeddings.frequent_of"), list(CORPORA), key="embeddings.pca_corpus",
                              format_func=ui.corpus_title)
        n_freq = p2.slider(t("embeddings.how_many"), 0, 300, 100, 10, key="embeddings.pca_n")
        frequent = corpus_frequent_ids(corpus, tok.key, n_freq) if n_freq else []
        frequent = [i for i in frequent if i < config.vocab_size and i not in ids]
        point_ids = list(dict.fromkeys(ids)) + frequent
        groups = [t("fig.your_text")] * len(dict.fromkeys(ids)) + [t("fig.frequent")] * len(frequent)
        # 2D and 3D as tabs: once drawn, the 3D chart stays in the page, so switching back and forth is
        # instant (building a WebGL scene takes the browser about a second; updating one, a tenth of that).
        # The 3D chart is built the first time its tab is opened, not with every opening of this view.
        flat, deep = st.tabs(list(PCA_TABS), key="embeddings.pca_dims", on_change="rerun")
        if deep.open:
            st.session_state[PCA_3D_BUILT] = True
        for tab, dims_plot in ((flat, 2), (deep, 3)):
            with tab, ui.friendly_errors():
                coords, explained = pca(wte[point_ids], dims_plot)
                axis = [t("embeddings.pc_axis", n=i + 1, share=percent(float(e), 0)) for i, e in enumerate(explained)]
                fig = figures.scatter_projection(coords.tolist(), tok.pieces(point_ids), groups, t("embeddings.pca_title"), axis)
                if dims_plot == 3 and not st.session_state.get(PCA_3D_BUILT):
                    ui.warm_3d_labels(fig)  # the browser prepares its labels while the 2D chart is read
                    continue
                if dims_plot == 3:  # shown at once, while the browser is still building the scene
                    st.caption(t("embeddings.pca_3d_hint"))
                ui.chart(st, fig, key=f"embeddings.pca_chart{dims_plot}")
                code_view.show_code(st, snippets.projection(state.current_model_key(), text, len(ids), corpus, n_freq,
                                                            dims_plot))

    elif view == "neighbours":
        ui.explain(t("embeddings.explain4"), side)
        word = st.text_input(t("embeddings.token"), " king", key="embeddings.word")
        with ui.friendly_errors():
            token_id = single_token(tok, word)
            found = nearest(wte, wte[token_id], tok, 11, exclude=(token_id,))
            ui.table(st, [{"rank": r + 1, "token": figures.visible_plain(n.text), "id": n.token_id,
                           "cosine_similarity": number(n.score, 4)} for r, n in enumerate(found[:10])])
            code_view.show_code(st, snippets.neighbours(state.current_model_key(), word))
        st.markdown(t("embeddings.analogies"))

        def use_preset():
            for box, word_ in zip("abc", ANALOGIES[st.session_state["embeddings.analogy_preset"]]):
                st.session_state[f"embeddings.{box}"] = word_

        preset = st.selectbox(t("tokens.example"), list(ANALOGIES), key="embeddings.analogy_preset", on_change=use_preset,
                              format_func=lambda p: t(f"embeddings.analogy_{p}"))
        expected = ANALOGIES[preset][3]
        for box, word_ in zip("abc", ANALOGIES[preset]):
            st.session_state.setdefault(f"embeddings.{box}", word_)
        a1, a2, a3 = st.columns(3)
        a = a1.text_input("a", key="embeddings.a")
        b = a2.text_input("− b", key="embeddings.b")
        c = a3.text_input("+ c", key="embeddings.c")
        is_preset = (a, b, c) == ANALOGIES[preset][:3]  # then its expected answer judges the result
        split = [w for w in (a, b, c, expected) if len(tok.encode(w)) != 1]
        if is_preset and split:  # a preset this tokenizer cannot do: say why instead of failing
            st.info(t("embeddings.preset_split", name=tok.name, words=", ".join(
                f"'{w.strip()}' = {' + '.join(repr(p) for p in tok.pieces(tok.encode(w)))}" for w in split)))
        else:
            with ui.friendly_errors():
                results = analogy(wte, tok, a, b, c)
                ui.table(st, [{"rank": r + 1, "token": figures.visible_plain(n.text),
                               "cosine_similarity": number(n.score, 4)} for r, n in enumerate(results)])
                code_view.show_code(st, snippets.analogy(state.current_model_key(), a, b, c))
                rank = next((r + 1 for r, n in enumerate(results) if n.text == expected), None)
                if is_preset and rank == 1:
                    st.success(t("embeddings.hit", word=expected.strip()))
                elif is_preset and rank:
                    st.info(t("embeddings.near", word=expected.strip(), rank=rank, top=results[0].text.strip()))
                elif is_preset:
                    st.warning(t("embeddings.miss", word=expected.strip()))

    elif view == "similarity":
        ui.explain(t("embeddings.explain5"), side)
        layer = ui.slider(side, t("embeddings.resid_after"), 0, config.n_layer - 1, config.n_layer - 1,
                          key="embeddings.sim_layer")
        s1, s2 = st.columns(2)  # side by side, so each label's font fits half the width
        with s1:
            ui.chart(st, figures.heatmap(cosine_matrix(cache["embed"][0]).tolist(), labels, labels,
                                         t("embeddings.token_embeddings"), t("fig.token"), t("fig.token"),
                                         value_name=t("fig.cosine"),
                                         height=max(380, 22 * len(ids) + 160), width_px=HALF_WIDTH_PX),
                     key="embeddings.sim_embed")
        with s2:
            ui.chart(st, figures.heatmap(cosine_matrix(cache["resid_post", layer][0]).tolist(), labels, labels,
                                         t("embeddings.resid_title", layer=layer), t("fig.token"), t("fig.token"),
                                         value_name=t("fig.cosine"),
                                         height=max(380, 22 * len(ids) + 160), width_px=HALF_WIDTH_PX),
                     key="embeddings.sim_resid")
        code_view.show_code(st, snippets.similarity(state.current_model_key(), text, len(ids), layer))

    elif llama_views.rotary(model):  # positions, turned into q and k instead of added
        llama_views.rope_positions(model, cache, ids, labels, side, text)

    else:  # positions
        ui.explain(t("embeddings.explain6"), side)
        n_pos = ui.slider(side, t("embeddings.positions_shown"), min(8, config.context_length), config.context_length, 64,
                          key="embeddings.n_pos")
        learned = model.position_embedding.detach().cpu()[:n_pos]
        sinus = sinusoidal_positions(n_pos, config.n_embd)
        pos_labels = [str(i) for i in range(n_pos)]
        dims = [f"d{i}" for i in range(config.n_embd)]
        for i, (col, (name, short, matrix)) in enumerate(zip(st.columns(2), (
                (t("embeddings.learned"), t("embeddings.learned_short"), learned),
                (t("embeddings.sinus"), t("embeddings.sinus_short"), sinus)))):
            ui.chart(col, figures.heatmap(matrix.tolist(), dims, pos_labels, name, t("fig.dimension"), t("fig.position")),
                     key=f"embeddings.pos.{i}")
            ui.chart(col, figures.heatmap(cosine_matrix(matrix).tolist(), pos_labels, pos_labels,
                                          t("embeddings.pos_similarity", name=short), t("fig.position"), t("fig.position"),
                                          value_name=t("fig.cosine")), key=f"embeddings.pos_sim.{i}")
        code_view.show_code(st, snippets.positions(state.current_model_key(), n_pos))  # learned positions (GPT) only

share.publish(SHARE, page=PAGE)
