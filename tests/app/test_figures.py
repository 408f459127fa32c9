"""Figures are built from plain data: each has a title, axis titles and hover values, shows the numbers it was
given, and reads fully German (words and number format) in a German session."""

import json

import numpy as np
import plotly.io as pio
import pytest
import streamlit as st

from playground import figures, keys, rope_figures, ui
from playground.i18n import t
from tests.support.app import english_left

PATTERN = [[1.0, 0.0, 0.0], [0.3, 0.7, 0.0], [0.01, 0.5, 0.49]]
PIECES = ["The", " cat", " sat"]
STAGES = [{"key": "wte", "name": "Token", "shape": [3, 8], "params": 800, "per_block": False},
          {"key": "attn", "name": "Attention", "shape": [3, 8], "params": 288, "per_block": True},
          {"key": "mlp", "name": "MLP", "shape": [3, 8], "params": 552, "per_block": True}]

BUILDERS = {  # labels passed in by the caller are looked up as the pages do, so they follow the session's language
    "encodings_bar": lambda: figures.encodings_bar(["gpt2", "cl100k_base"], [12, 10], [4.1, 4.9], [0.8, 0.9]),
    "heatmap": lambda: figures.heatmap([[1, 2], [3, 4]], ["d0", "d1"], ["a", "b"], t("embeddings.wte_rows"),
                                       t("fig.dimension"), t("fig.token")),
    "attention_heatmap": lambda: figures.attention_heatmap(PATTERN, PIECES, t("attention.layer_head", layer=0, head=0)),
    "attention_grid": lambda: figures.attention_grid([[PATTERN, PATTERN]] * 2, 2, 2, (1, 0)),
    "head_view": lambda: figures.head_view({0: PATTERN, 1: PATTERN}, PIECES, t("attention.lines_title", layer=0)),
    "score_heatmap": lambda: figures.score_heatmap([[0.1, 0.9]], t("attention.score_previous_token"), t("fig.score")),
    "scatter_projection": lambda: figures.scatter_projection([[0, 1], [1, 0]], [" a", " b"], [t("fig.your_text")] * 2,
                                                             t("embeddings.pca_title"), ["PC 1", "PC 2"]),
    "bars": lambda: figures.bars(["a", "b"], {t("fig.token_vector"): [1.0, 2.0], t("fig.sum"): [2.0, 3.0]},
                                 t("embeddings.norms_title"), t("fig.token"), t("fig.norm")),
    "distribution_bars": lambda: figures.distribution_bars([" the", " a"], [0.7, 0.3], [2.0, 1.2],
                                                           t("sampling.dist_title"), marked=1),
    "pipeline_figure": lambda: figures.pipeline_figure([t("sampling.stage_raw"), t("sampling.stage_top_k")],
                                                       [" the", " a"], [[0.6, 1.0], [0.4, None]]),
    "dice_histogram": lambda: figures.dice_histogram([" the", " a"], [0.7, 0.3], [0.68, 0.32], 1000),
    "temperature_bars": lambda: figures.temperature_bars(["a", "b"], [0.5, 1.0], [[0.9, 0.1], [0.7, 0.3]]),
    "loss_curves": lambda: figures.loss_curves([1, 2], [5.0, 4.0], [5.0, 4.5], [2], [4.6]),
    "metric_line": lambda: figures.metric_line([1, 2], [1e-3, 5e-4], t("training.lr"), t("fig.step"),
                                               t("fig.learning_rate")),
    "confusion_matrix": lambda: figures.confusion_matrix([[40, 2], [3, 45]], ["ham", "spam"]),
    "accuracy_curves": lambda: figures.accuracy_curves([1, 2], [0.6, 0.8], [0.55, 0.75]),
    "architecture_diagram": lambda: figures.architecture_diagram(STAGES, 6, "attn"),
    "logit_lens_figure": lambda: figures.logit_lens_figure([[" the", " a"]], [[0.5, 0.2]], ["0: The", "1: ·cat"]),
    "activation_curves": figures.activation_curves,
    # the Llama family's (playground.rope_figures)
    "wavelength": lambda: rope_figures.wavelength_figure(
        [6.3, 63.0], [12.6, 126.0], t("llama.wavelength_title"), t("llama.pair"), t("llama.wavelength_axis"),
        (t("llama.scaled"), t("llama.unscaled"))),
    "pair_path": lambda: rope_figures.pair_path_figure(
        [[1.0, 0.0], [0.9, 0.4], [0.5, 0.8]], 1, t("llama.path_title", pair=2, token="1: ·cat"),
        t("llama.dimension_n", n=2), t("llama.dimension_n", n=10), t("fig.position"), t("llama.its_position", n=1)),
    "distance_scores": lambda: rope_figures.distance_scores_figure(
        {t("llama.this_query_key"): [1.0, 0.5], t("llama.query_itself"): [2.0, 1.5]}, (1, 0.5),
        t("llama.distance_title", layer=0, head=1), t("llama.distance_axis"), t("llama.score_axis"),
        t("llama.in_your_text")),
    "kv_groups": lambda: rope_figures.kv_groups_figure([[0, 1], [2, 3]], 2, t("llama.gqa_title", n_head=4, n_kv=2),
                                                       t("llama.query_head"), t("llama.kv_head")),
    "silu": lambda: rope_figures.silu_figure(t("llama.silu_title"), t("fig.input"), t("fig.output")),
}


def spec(fig) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


@pytest.mark.parametrize("name", BUILDERS)
def test_every_figure_has_title_axes_and_hover(name):
    s = spec(BUILDERS[name]())
    assert s["layout"]["title"]["text"]
    assert s["layout"]["font"]["size"] >= 16  # readable from the back row
    for trace in s["data"]:
        assert trace.get("hovertemplate") or trace.get("hoverinfo") == "skip", (name, trace["type"])
    if name not in ("attention_grid", "head_view", "architecture_diagram", "kv_groups"):  # diagrams without value axes
        assert s["layout"]["xaxis"]["title"]["text"] and s["layout"]["yaxis"]["title"]["text"]


@pytest.mark.parametrize("name", BUILDERS)
def test_every_figure_reads_german(name):
    st.session_state[keys.LANG] = "de"
    try:
        fig = BUILDERS[name]()
    finally:
        del st.session_state[keys.LANG]
    assert not english_left(spec(fig)), english_left(spec(fig))


def test_attention_grid_shows_each_pattern_with_the_future_masked():
    patterns = [[np.random.default_rng(layer * 2 + h).dirichlet(np.ones(3), 3).tolist() for h in range(2)]
                for layer in range(3)]
    s = spec(figures.attention_grid(patterns, 3, 2, selected=(2, 1)))
    fig = figures.attention_grid(patterns, 3, 2, selected=(2, 1))
    maps = [t for t in fig.data if t.type == "heatmap"]
    spots = [t for t in fig.data if t.type == "scatter"]
    assert len(maps) == len(spots) == 6
    for layer in range(3):
        for h in range(2):
            z = np.array(maps[layer * 2 + h].z, dtype=float)
            expected = np.array(patterns[layer][h])
            assert np.allclose(np.tril(z), np.tril(expected), atol=1e-4)
            assert np.isnan(z[np.triu_indices(3, 1)]).all()
            assert f"layer {layer} head {h}" in maps[layer * 2 + h].hovertemplate
            clicked = spots[layer * 2 + h]  # a click on the map finds a point that names its layer and head
            assert clicked.xaxis == maps[layer * 2 + h].xaxis and {tuple(c) for c in clicked.customdata} == {(layer, h)}
    chosen = s["layout"]["xaxis6"]  # layer 2, head 1 is the 6th cell
    assert chosen["linewidth"] == 4 and "linewidth" not in s["layout"]["xaxis"]
    titles = [a["text"] for a in s["layout"]["annotations"]]
    assert titles == ["layer 0", "layer 1", "layer 2", "head 0", "head 1"]
    # Each map fills its frame (the invisible click markers must not pad the ranges), and the row labels stand
    # level left of the maps, in a margin made for them.
    for i in range(1, 7):
        x, y = s["layout"]["xaxis" if i == 1 else f"xaxis{i}"], s["layout"]["yaxis" if i == 1 else f"yaxis{i}"]
        assert x["range"] == [-0.5, 2.5] and y["range"] == [2.5, -0.5]
    rows = [a for a in s["layout"]["annotations"] if a["text"].startswith("layer")]
    assert all(a["xanchor"] == "right" and a["x"] < 0 and "textangle" not in a for a in rows)
    assert s["layout"]["margin"]["l"] >= 0.6 * s["layout"]["font"]["size"] * len("layer 2")


def test_head_view_draws_every_weight_above_the_threshold_once():
    fig = figures.head_view({0: PATTERN}, PIECES, "lines", threshold=0.02)
    drawn = []
    for trace in fig.data:
        if trace.mode != "lines":
            continue
        info = [row for row in trace.customdata if row[0] is not None]
        drawn += [(row[0], row[1], row[2]) for row in info[::2]]  # two ends per line
        for row in info:  # thicker for more attention: the width is the band's, within 1/8 of the weight
            assert abs(trace.line.width - (0.5 + 8 * row[2])) <= 0.5 + 1e-9
    expected = [(PIECES[q].replace(" ", "·"), PIECES[k].replace(" ", "·"), w)
                for q, row in enumerate(PATTERN) for k, w in enumerate(row[:q + 1]) if w >= 0.02]
    assert sorted(drawn) == sorted(expected)  # 0.01 (below the threshold) is left out
    assert sum(t.showlegend for t in fig.data if t.mode == "lines") == 1  # one legend entry per head


def test_architecture_diagram_boxes_and_selection():
    s = spec(figures.architecture_diagram(STAGES, 6, "attn"))
    rects = s["layout"]["shapes"]
    assert len(rects) == len(STAGES) + 1  # a box per stage and the dashed frame around the block
    widths = [r["line"]["width"] for r in rects[1:]]
    assert widths == [2, 4, 2]  # the chosen stage stands out
    texts = [a["text"] for a in s["layout"]["annotations"]]
    # one block's count and the whole model's; on two lines, as one would not fit the box
    assert "× 6<br>blocks" in texts and "[3 × 8] · 288 per block<br>1,728 in all" in texts
    assert "[3 × 8] · 800 parameters" in texts
    attention = next(d for d in s["data"][0]["customdata"] if d[2] == "attn")
    assert attention[:2] == ["Attention", 6 * 288]  # the whole model's count on hover
    # A click anywhere across a box finds a point that names its stage (customdata[2] is the key).
    points = s["data"][0]
    attn = [x for x, data in zip(points["x"], points["customdata"]) if data[2] == "attn"]
    assert min(attn) < 0.1 and max(attn) > 0.9
    assert {tuple(d[:3]) for d in points["customdata"]} == {
        (st["name"], st["params"] * (6 if st["per_block"] else 1), st["key"]) for st in STAGES}


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize("presenter", [False, True])
def test_architecture_diagram_labels_fit_their_boxes(lang, presenter):
    from core.analysis.anatomy import stages
    from core.model.gpt import GPTConfig
    from playground.i18n import strings
    words = strings(lang)
    d, h = 512, 8
    named = [{**stage.__dict__, "name": words[f"anatomy.stage_{stage.key}"].format(heads=h, dh=d // h, d=d, d4=4 * d)
              + (words["anatomy.tied"] if stage.key == "unembed" else "")}
             for stage in stages(GPTConfig(n_embd=d, n_head=h, n_layer=6), 64)]
    st.session_state[keys.LANG], st.session_state[keys.PRESENTER] = lang, presenter
    try:
        s = spec(figures.architecture_diagram(named, 6, "attn"))
    finally:
        del st.session_state[keys.LANG], st.session_state[keys.PRESENTER]
    labels = [a for a in s["layout"]["annotations"] if a.get("text") and not a.get("showarrow")
              and "blocks" not in a["text"] and "Blöcke" not in a["text"]]
    assert len(labels) == len(named) * (1 if presenter else 2)  # name (and shape · parameters unless presenter)
    for note in labels:
        lines = [line.replace("<b>", "").replace("</b>", "") for line in note["text"].split("<br>")]
        widest = max(len(line) for line in lines) * 0.62 * note["font"]["size"]  # px, as figures.fitting_font
        assert widest <= figures.DIAGRAM_BOX_PX[presenter] - 16, (note["text"], note["font"]["size"])
        assert len(lines) <= 2 and note["font"]["size"] >= 10


def test_heatmap_labels_every_row_and_column_up_to_32_tokens():
    labels = figures.token_labels([f" w{i}" for i in range(32)])
    s = spec(figures.heatmap(np.zeros((32, 32)), labels, labels, "Similarity", "token", "token",
                             height=22 * 32 + 160))
    for axis in ("xaxis", "yaxis"):
        assert s["layout"][axis]["tickvals"] == labels and s["layout"][axis]["ticktext"] == labels
        assert 9 <= s["layout"][axis]["tickfont"]["size"] <= figures.FONT_SIZE - 2
    rows_px = (s["layout"]["height"] - 140) / 32
    assert s["layout"]["yaxis"]["tickfont"]["size"] <= rows_px  # each row's label fits its row


def test_pca_labels_a_readable_subset_and_names_every_point_on_hover():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(120, 2)).tolist()
    labels = [f" t{i}" for i in range(120)]
    s = spec(figures.scatter_projection(coords, labels, ["your text"] * 10 + ["frequent in the corpus"] * 110,
                                        "PCA", ["PC 1", "PC 2"]))
    written, hover = [], []
    for trace in s["data"]:
        hover += trace["customdata"]
        written += [(x, y) for x, y, text in zip(trace["x"], trace["y"], trace["text"]) if text]
    assert sorted(hover) == sorted(figures.visible_plain(x) for x in labels)  # every point on hover
    assert 10 <= len(written) <= 40 and all(text for text in s["data"][0]["text"])  # your text always written
    span = np.ptp(np.array(coords), axis=0)
    for i, a in enumerate(written):  # no two written labels on top of each other
        for b in written[i + 1:]:
            assert abs(a[0] - b[0]) >= 0.09 * span[0] - 1e-9 or abs(a[1] - b[1]) >= 0.045 * span[1] - 1e-9


def test_figures_fit_the_first_screen_in_presenter_mode():
    st.session_state[keys.PRESENTER] = True
    try:
        tall = spec(figures.heatmap(np.zeros((64, 8)), [f"d{i}" for i in range(8)], list(range(64)), "t", "x", "y",
                                    height=2000))
        diagram = spec(figures.architecture_diagram(STAGES * 4, 6))
    finally:
        del st.session_state[keys.PRESENTER]
    assert tall["layout"]["height"] == diagram["layout"]["height"] == figures.PRESENTER_HEIGHT
    assert tall["layout"]["font"]["size"] == figures.PRESENTER_FONT


def test_head_view_labels_fit_their_rows_on_a_projector():
    """40 tokens in a figure capped to the first screen: each token's label is no taller than its row."""
    pattern = np.tril(np.ones((40, 40))) / np.arange(1, 41)[:, None]
    st.session_state[keys.PRESENTER] = True
    try:
        s = spec(figures.head_view({0: pattern.tolist()}, [f"w{i}" for i in range(40)], "lines"))
    finally:
        del st.session_state[keys.PRESENTER]
    labels = [tr for tr in s["data"] if tr.get("mode") == "markers+text"]
    assert len(labels) == 2 and s["layout"]["height"] == figures.PRESENTER_HEIGHT
    assert all(tr["textfont"]["size"] * 40 <= s["layout"]["height"] - 120 for tr in labels)


def test_head_view_isolates_one_tokens_lines_and_keeps_a_legend_per_head():
    def lines(fig):
        return {(row[0], row[1]) for trace in fig.data if trace.mode == "lines" and trace.customdata is not None
                for row in trace.customdata if row[0] is not None}
    every = lines(figures.head_view({0: PATTERN, 1: PATTERN}, PIECES, "t"))
    query = lines(figures.head_view({0: PATTERN, 1: PATTERN}, PIECES, "t", focus=("query", 2)))
    key = lines(figures.head_view({0: PATTERN, 1: PATTERN}, PIECES, "t", focus=("key", 1)))
    assert query == {(q, k) for q, k in every if q == "·sat"} and query
    assert key == {(q, k) for q, k in every if k == "·cat"} and key
    fig = figures.head_view({0: PATTERN, 3: [[1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0]]}, PIECES, "t", focus=("key", 2))
    assert sorted(t.name for t in fig.data if t.showlegend is not False and t.name) == ["head 0", "head 3"]
    labels = [t for t in fig.data if t.mode == "markers+text"]
    assert [list(t.customdata[2]) for t in labels] == [["key", 2], ["query", 2]]  # a click names the token
    assert labels[0].text[2] == "<b>·sat</b>"  # the focused token stands out


def test_distribution_bars_marks_the_sampled_token():
    fig = figures.distribution_bars([" the", " a"], [0.7, 0.3], [2.0, 1.2], "p", marked=1)
    assert list(fig.data[0].marker.color) == [figures.OKABE_ITO[0], figures.OKABE_ITO[1]]
    assert list(fig.data[0].x) == ["·the", "·a"] and list(fig.data[0].customdata) == [2.0, 1.2]
    # Named above its percentage, not by an arrow that would cover the number.
    assert list(fig.data[0].text) == ["70.0%", "30.0%<br><b>sampled</b>"] and not fig.layout.annotations


def german(build):
    st.session_state[keys.LANG] = "de"
    try:
        return build()
    finally:
        del st.session_state[keys.LANG]


def test_numbers_follow_the_session_locale():
    from playground.i18n import number, percent
    assert (number(7655552), number(2.8, 2), percent(0.517), number(0.0842123, None, 3)) == \
        ("7,655,552", "2.80", "51.7%", "0.0842")
    assert german(lambda: (number(7655552), number(2.8, 2), percent(0.517), number(0.0842123, None, 3))) == \
        ("7.655.552", "2,80", "51,7%", "0,0842")
    # plotly formats hover values and ticks with the same marks: decimal mark first, then thousands
    assert spec(BUILDERS["dice_histogram"]())["layout"]["separators"] == ".,"
    s = spec(german(BUILDERS["dice_histogram"]))
    assert s["layout"]["separators"] == ",." and s["layout"]["title"]["text"].startswith("Der gewichtete Würfel: 1.000")
    bars = spec(german(lambda: figures.distribution_bars([" the"], [0.7], [2.0], "p")))
    assert bars["data"][0]["text"] == ["70,0%"]


def test_diverging_maps_are_red_where_positive_as_the_pages_say():
    """Plotly's own RdBu runs from red (low) to blue (high); our maps use it reversed, and the Embeddings page's
    sentence says what the colour bar shows."""
    def rgb(colour):
        return [int(v) for v in colour[4:-1].split(",")]
    scale = spec(figures.heatmap([[-1, 1]], ["a", "b"], ["x"], "t", "x", "y"))["data"][0]["colorscale"]
    low, high = rgb(scale[0][1]), rgb(scale[-1][1])
    assert high[0] > high[2] and low[2] > low[0]  # the top of the bar (positive) red, the bottom blue
    plotly_rdbu = spec(figures.heatmap([[-1, 1]], ["a", "b"], ["x"], "t", "x", "y", colorscale="RdBu"))
    assert rgb(plotly_rdbu["data"][0]["colorscale"][0][1])[0] > rgb(plotly_rdbu["data"][0]["colorscale"][0][1])[2]
    from playground.i18n import strings
    assert "Red is positive, blue negative" in strings("en")["embeddings.vectors_explain"]
    assert "Rot ist positiv, blau negativ" in strings("de")["embeddings.vectors_explain"]


def test_head_scores_use_one_fixed_colour_range():
    trace = spec(figures.score_heatmap([[0.02, 0.03], [0.01, 0.04]], "s", "score"))["data"][0]
    assert (trace["zmin"], trace["zmax"]) == (0, 1)  # 0.04 stays dark, however small the others are


def test_architecture_boxes_in_german():
    s = spec(german(lambda: figures.architecture_diagram(
        [{**STAGES[0], "params": 50257 * 128}, {**STAGES[1], "params": 66048}], 6, None)))
    texts = [a["text"] for a in s["layout"]["annotations"]]
    assert "[3 × 8] · 66.048 pro Block<br>396.288 insgesamt" in texts and "[3 × 8] · 6.432.896 Parameter" in texts


def test_step_axes_tick_whole_steps():
    """At the start of a run (steps 1 and 2) the step axis ticks each step, never 1.2, 1.4, ...; later plotly
    picks whole multiples itself."""
    early = figures.loss_curves([1, 2], [10.8, 10.7], [10.8, 10.75], [], [])
    assert early.layout.xaxis.dtick == 1
    assert figures.metric_line([1, 2, 3], [1e-3, 9e-4, 8e-4], "lr", "step", "lr").layout.xaxis.dtick == 1
    assert figures.loss_curves(list(range(0, 300, 10)), [1.0] * 30, [1.0] * 30, [50], [1.0]).layout.xaxis.dtick is None
    assert figures.metric_line([0.5, 1.5], [1, 2], "x", "x", "y").layout.xaxis.dtick is None  # not counts


def test_prepared_3d_labels_cannot_end_their_script(monkeypatch):
    """The 3D labels the Embeddings page prepares are tokens of the user's text, which a shared link sets: no label
    can close the script they are written into."""
    written = []
    monkeypatch.setattr(st.sidebar, "html", lambda html, **kwargs: written.append(html))
    hostile = "</script><script>alert(1)</script>"
    ui.warm_3d_labels(figures.scatter_projection([[0, 0, 0], [1, 1, 1]], [hostile, " ok"], ["a", "a"], "t", ["x", "y", "z"]))
    (html,) = written
    assert html.count("</script>") == 1 and html.endswith("</script>") and "\\u003c/script>" in html
