"""Embeddings: each id picks a row of a matrix, positions add their own vectors; what the vectors encode."""

import pandas as pd
import streamlit as st

from core.data import CORPORA, load_corpus
from core.vectors import analogy, cosine_matrix, frequent_tokens, nearest, pca, single_token, sinusoidal_positions
from playground import activations, figures, loaders, share, ui
from playground.i18n import t

ANALOGIES = {
    "king − man + woman": (" king", " man", " woman", " queen"),
    "König − Mann + Frau (the lecture's)": (" König", " Mann", " Frau", " Königin"),
    "father − man + woman": (" father", " man", " woman", " mother"),
    "Paris − France + Italy": (" Paris", " France", " Italy", " Rome"),
}


@st.cache_data(show_spinner="Counting the corpus's tokens…", max_entries=8)
def corpus_frequent_ids(corpus: str, tokenizer_name: str, k: int) -> list[int]:
    return frequent_tokens(loaders.get_tokenizer(tokenizer_name).encode(load_corpus(corpus)), k)


PAGE = "embeddings"
SHARE = {"text": share.Param("emb.text")}

st.title(t("nav.embeddings"))
ui.explain(t("embeddings.explain1"))
share.restore(PAGE, SHARE)

model = ui.current_model()
config = model.config
tok = model.tokenizer
wte = model.transformer.wte.weight.detach().cpu()
text = st.text_area("Text", "The king and the queen spoke to the man and the woman.", key="emb.text", height=80)
with ui.friendly_errors(stop=True):
    ids, _, cache = activations.current_run(model, text)
pieces = tok.pieces(ids)
labels = figures.token_labels(pieces)

vectors, projection, neighbours, similarity, positions = st.tabs(
    ["Vectors", "Projection", "Neighbours & analogies", "Similarity", "Positions"])

with vectors:
    ui.explain(f"One row per token, one column per dimension ({config.n_embd} of them). Red is positive, blue "
               "negative; hover for the exact value.")
    n_dims = st.slider("Dimensions shown", 8, config.n_embd, min(64, config.n_embd), key="emb.dims")
    embed, pos, block_input = cache["embed"][0], cache["pos_embed"][0], cache["resid_pre", 0][0]
    dims = [f"d{i}" for i in range(n_dims)]
    for name, values in (("Token embeddings (wte rows)", embed), ("Position embeddings (wpe rows)", pos),
                         ("Their sum: the input of block 0", block_input)):
        ui.chart(st, figures.heatmap(values[:, :n_dims].tolist(), dims, labels, name, "dimension", "token",
                                        height=max(300, 22 * len(ids) + 140)), key=f"emb.heat.{name}")
    norms = pd.DataFrame({"token": labels, "token vector": embed.norm(dim=-1).tolist(),
                          "position vector": pos.norm(dim=-1).tolist(), "sum": block_input.norm(dim=-1).tolist()})
    fig = figures.bars(labels, norms["token vector"].tolist(), "Length (L2 norm) of each token's vectors", "token",
                       "norm", "token vector norm")
    fig.add_bar(x=labels, y=norms["position vector"].tolist(), name="position vector",
                marker_color=figures.OKABE_ITO[1])
    fig.add_bar(x=labels, y=norms["sum"].tolist(), name="sum", marker_color=figures.OKABE_ITO[2])
    fig.data[0].name = "token vector"
    fig.update_layout(barmode="group")
    ui.chart(st, fig, key="emb.norms")

with projection:
    ui.explain(f"{config.n_embd} dimensions cannot be drawn, so PCA finds the 2 or 3 directions along which these "
               "vectors differ most and shows them there. Nearby points are tokens the model treats alike.")
    p1, p2, p3 = st.columns(3)
    n_dims_plot = p1.radio("Dimensions", [2, 3], horizontal=True, key="emb.pca_dims")
    corpus = p2.selectbox("Frequent tokens of", list(CORPORA), key="emb.pca_corpus",
                          format_func=lambda c: CORPORA[c].title)
    n_freq = p3.slider("How many", 0, 300, 100, 10, key="emb.pca_n")
    frequent = corpus_frequent_ids(corpus, tok.name, n_freq) if n_freq else []
    frequent = [i for i in frequent if i < config.vocab_size and i not in ids]
    point_ids = list(dict.fromkeys(ids)) + frequent
    coords, explained = pca(wte[point_ids], n_dims_plot)
    groups = ["your text"] * len(dict.fromkeys(ids)) + ["frequent in the corpus"] * len(frequent)
    axis = [f"PC{i + 1} ({float(e):.0%} of the variance)" for i, e in enumerate(explained)]
    ui.chart(st, figures.scatter_projection(coords.tolist(), tok.pieces(point_ids), groups,
                                               "Token embeddings projected with PCA", axis), key="emb.pca_chart")

with neighbours:
    ui.explain(t("embeddings.explain4"))
    word = st.text_input("Token", " king", key="emb.word")
    with ui.friendly_errors():
        token_id = single_token(tok, word)
        found = nearest(wte, wte[token_id], tok, 11, exclude=(token_id,))
        st.dataframe(pd.DataFrame([{"rank": r + 1, "token": figures.visible_plain(n.text), "id": n.token_id,
                                    "cosine similarity": round(n.score, 4)} for r, n in enumerate(found[:10])]),
                     hide_index=True, width="stretch")
    st.markdown("**Analogies: a − b + c**")
    preset = st.selectbox("Example", list(ANALOGIES), key="emb.analogy_preset")
    a_def, b_def, c_def, expected = ANALOGIES[preset]
    a1, a2, a3 = st.columns(3)
    a = a1.text_input("a", a_def, key=f"emb.a.{preset}")
    b = a2.text_input("− b", b_def, key=f"emb.b.{preset}")
    c = a3.text_input("+ c", c_def, key=f"emb.c.{preset}")
    with ui.friendly_errors():
        results = analogy(wte, tok, a, b, c)
        st.dataframe(pd.DataFrame([{"rank": r + 1, "token": figures.visible_plain(n.text),
                                    "cosine similarity": round(n.score, 4)} for r, n in enumerate(results)]),
                     hide_index=True, width="stretch")
        hit = next((r + 1 for r, n in enumerate(results) if n.text == expected), None)
        if hit:
            st.success(f"'{expected.strip()}' is at rank {hit}: this model has learnt the relation.")
        else:
            st.warning(f"'{expected.strip()}' is not in the top 10. Honest answer: a small model trained on a small "
                       "corpus has not learnt such structure; its vectors mostly encode which tokens follow which. "
                       "Load GPT-2 (sidebar) to see the classic result.")

with similarity:
    ui.explain(t("embeddings.explain5"))
    layer = st.slider("Residual stream after layer", 0, config.n_layer - 1, config.n_layer - 1, key="emb.sim_layer")
    s1, s2 = st.columns(2)
    with s1:
        ui.chart(st, figures.heatmap(cosine_matrix(cache["embed"][0]).tolist(), labels, labels,
                                        "Token embeddings", "token", "token", value_name="cosine",
                                        height=max(380, 22 * len(ids) + 160)), key="emb.sim_embed")
    with s2:
        ui.chart(st, figures.heatmap(cosine_matrix(cache["resid_post", layer][0]).tolist(), labels, labels,
                                        f"Residual stream after layer {layer}", "token", "token", value_name="cosine",
                                        height=max(380, 22 * len(ids) + 160)), key="emb.sim_resid")

with positions:
    ui.explain(t("embeddings.explain6"))
    n_pos = st.slider("Positions shown", 8, config.context_length, min(64, config.context_length), key="emb.n_pos")
    learned = model.transformer.wpe.weight.detach().cpu()[:n_pos]
    sinus = sinusoidal_positions(n_pos, config.n_embd)
    pos_labels = [str(i) for i in range(n_pos)]
    dims = [f"d{i}" for i in range(config.n_embd)]
    for col, (name, matrix) in zip(st.columns(2), (("Learned position embeddings (wpe)", learned),
                                                   ("Sinusoidal encoding (Vaswani et al.)", sinus))):
        ui.chart(col, figures.heatmap(matrix.tolist(), dims, pos_labels, name, "dimension", "position"),
                 key=f"emb.pos.{name}")
        ui.chart(col, figures.heatmap(cosine_matrix(matrix).tolist(), pos_labels, pos_labels,
                                      f"{name.split(' (')[0]}: similarity between positions", "position", "position",
                                      value_name="cosine"), key=f"emb.pos_sim.{name}")

share.publish(SHARE, page=PAGE)
