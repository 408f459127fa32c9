"""Embeddings: each id picks a row of a matrix, positions add their own vectors; what the vectors encode."""

import streamlit as st

from core.analysis.vectors import analogy, cosine_matrix, frequent_tokens, nearest, pca, single_token, sinusoidal_positions
from core.tokens.encodings import load_tokenizer
from core.training.data import CORPORA, load_corpus
from playground import activations, figures, share, ui
from playground.i18n import lazy, t
from playground.navigation import VIEWS

ANALOGIES = {
    "king − man + woman": (" king", " man", " woman", " queen"),
    "König − Mann + Frau (the lecture's)": (" König", " Mann", " Frau", " Königin"),
    "father − man + woman": (" father", " man", " woman", " mother"),
    "Paris − France + Italy": (" Paris", " France", " Italy", " Rome"),
}


@st.cache_data(show_spinner=lazy("spin.corpus"), max_entries=8)
def corpus_frequent_ids(corpus: str, tokenizer_name: str, k: int) -> list[int]:
    return frequent_tokens(load_tokenizer(tokenizer_name).encode(load_corpus(corpus)), k)


PAGE = "embeddings"
SHARE = {"text": share.Param("embeddings.text"), "view": share.Param("embeddings.view", choices=tuple(VIEWS[PAGE]))}

st.title(t("nav.embeddings"))
side, stage = ui.stage()
ui.explain(t("embeddings.explain1"), side)
share.restore(PAGE, SHARE)

model = ui.current_model()
config = model.config
tok = model.tokenizer
wte = model.transformer.wte.weight.detach().cpu()
text = side.text_area(t("tokens.text"), t("ex.embeddings"), key="embeddings.text", height=80)
with side, ui.friendly_errors(stop=True):
    ids, _, cache = activations.current_run(model, text)
pieces = tok.pieces(ids)
labels = figures.token_labels(pieces)

with side:
    view = ui.view(PAGE)

with stage:
    if view == "vectors":
        ui.explain(t("embeddings.vectors_explain", d=config.n_embd), side)
        n_dims = ui.slider(side, t("embeddings.dims_shown"), min(8, config.n_embd), config.n_embd, 64,
                           key="embeddings.dims")
        embed, pos, block_input = cache["embed"][0], cache["pos_embed"][0], cache["resid_pre", 0][0]
        dims = [f"d{i}" for i in range(n_dims)]
        for name, values in ((t("embeddings.wte_rows"), embed), (t("embeddings.wpe_rows"), pos),
                             (t("embeddings.sum_rows"), block_input)):
            ui.chart(st, figures.heatmap(values[:, :n_dims].tolist(), dims, labels, name, "dimension", "token",
                                            height=max(300, 22 * len(ids) + 140)), key=f"embeddings.heat.{name}")
        fig = figures.bars(labels, {"token vector": embed.norm(dim=-1).tolist(), "position vector": pos.norm(dim=-1).tolist(),
                                    "sum": block_input.norm(dim=-1).tolist()}, t("embeddings.norms_title"), "token", "norm")
        ui.chart(st, fig, key="embeddings.norms")

    elif view == "projection":
        ui.explain(t("embeddings.pca_explain", d=config.n_embd), side)
        p1, p2, p3 = ui.controls_row(side, 3)
        n_dims_plot = p1.radio(t("embeddings.dimensions"), [2, 3], horizontal=True, key="embeddings.pca_dims")
        corpus = p2.selectbox(t("embeddings.frequent_of"), list(CORPORA), key="embeddings.pca_corpus",
                              format_func=ui.corpus_title)
        n_freq = p3.slider(t("embeddings.how_many"), 0, 300, 100, 10, key="embeddings.pca_n")
        frequent = corpus_frequent_ids(corpus, tok.name, n_freq) if n_freq else []
        frequent = [i for i in frequent if i < config.vocab_size and i not in ids]
        point_ids = list(dict.fromkeys(ids)) + frequent
        coords, explained = pca(wte[point_ids], n_dims_plot)
        groups = ["your text"] * len(dict.fromkeys(ids)) + ["frequent in the corpus"] * len(frequent)
        axis = [t("embeddings.pc_axis", n=i + 1, share=f"{float(e):.0%}") for i, e in enumerate(explained)]
        ui.chart(st, figures.scatter_projection(coords.tolist(), tok.pieces(point_ids), groups,
                                                   t("embeddings.pca_title"), axis), key="embeddings.pca_chart")

    elif view == "neighbours":
        ui.explain(t("embeddings.explain4"), side)
        word = st.text_input(t("embeddings.token"), " king", key="embeddings.word")
        with ui.friendly_errors():
            token_id = single_token(tok, word)
            found = nearest(wte, wte[token_id], tok, 11, exclude=(token_id,))
            ui.table(st, [{"rank": r + 1, "token": figures.visible_plain(n.text), "id": n.token_id,
                           "cosine similarity": round(n.score, 4)} for r, n in enumerate(found[:10])])
        st.markdown(t("embeddings.analogies"))
        preset = st.selectbox(t("tokens.example"), list(ANALOGIES), key="embeddings.analogy_preset")
        a_def, b_def, c_def, expected = ANALOGIES[preset]
        a1, a2, a3 = st.columns(3)
        a = a1.text_input("a", a_def, key=f"embeddings.a.{preset}")
        b = a2.text_input("− b", b_def, key=f"embeddings.b.{preset}")
        c = a3.text_input("+ c", c_def, key=f"embeddings.c.{preset}")
        with ui.friendly_errors():
            results = analogy(wte, tok, a, b, c)
            ui.table(st, [{"rank": r + 1, "token": figures.visible_plain(n.text), "cosine similarity": round(n.score, 4)}
                          for r, n in enumerate(results)])
            hit = next((r + 1 for r, n in enumerate(results) if n.text == expected), None)
            if hit:
                st.success(t("embeddings.hit", word=expected.strip(), rank=hit))
            else:
                st.warning(t("embeddings.miss", word=expected.strip()))

    elif view == "similarity":
        ui.explain(t("embeddings.explain5"), side)
        layer = ui.slider(side, t("embeddings.resid_after"), 0, config.n_layer - 1, config.n_layer - 1,
                          key="embeddings.sim_layer")
        s1, s2 = st.columns(2)
        with s1:
            ui.chart(st, figures.heatmap(cosine_matrix(cache["embed"][0]).tolist(), labels, labels,
                                            t("embeddings.token_embeddings"), "token", "token", value_name="cosine",
                                            height=max(380, 22 * len(ids) + 160)), key="embeddings.sim_embed")
        with s2:
            ui.chart(st, figures.heatmap(cosine_matrix(cache["resid_post", layer][0]).tolist(), labels, labels,
                                            t("embeddings.resid_title", layer=layer), "token", "token", value_name="cosine",
                                            height=max(380, 22 * len(ids) + 160)), key="embeddings.sim_resid")

    else:  # positions
        ui.explain(t("embeddings.explain6"), side)
        n_pos = ui.slider(side, t("embeddings.positions_shown"), min(8, config.context_length), config.context_length, 64,
                          key="embeddings.n_pos")
        learned = model.transformer.wpe.weight.detach().cpu()[:n_pos]
        sinus = sinusoidal_positions(n_pos, config.n_embd)
        pos_labels = [str(i) for i in range(n_pos)]
        dims = [f"d{i}" for i in range(config.n_embd)]
        for i, (col, (name, short, matrix)) in enumerate(zip(st.columns(2), (
                (t("embeddings.learned"), t("embeddings.learned_short"), learned),
                (t("embeddings.sinus"), t("embeddings.sinus_short"), sinus)))):
            ui.chart(col, figures.heatmap(matrix.tolist(), dims, pos_labels, name, "dimension", "position"),
                     key=f"embeddings.pos.{i}")
            ui.chart(col, figures.heatmap(cosine_matrix(matrix).tolist(), pos_labels, pos_labels,
                                          t("embeddings.pos_similarity", name=short), "position", "position",
                                          value_name="cosine"), key=f"embeddings.pos_sim.{i}")

share.publish(SHARE, page=PAGE)
