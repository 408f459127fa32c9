"""The Llama family's figures (playground.rope_figures) show the numbers they were given; their titles, axes,
hover values and German are checked with every other figure in test_figures.py."""

import json
import math

import plotly.io as pio
import pytest

from playground import rope_figures
from playground.i18n import t

WAVELENGTH = [2 * math.pi * 10 ** (i / 2) for i in range(4)]
PATH = [[math.cos(p * 0.5), math.sin(p * 0.5)] for p in range(12)]
GROUPS = [[0, 1, 2], [3, 4, 5]]

BUILDERS = {  # labels looked up as the page does, so they follow the session's language
    "wavelength": lambda: rope_figures.wavelength_figure(
        WAVELENGTH, [w * 2 for w in WAVELENGTH], t("llama.wavelength_title"), t("llama.pair"),
        t("llama.wavelength_axis"), (t("llama.scaled"), t("llama.unscaled"))),
    "pair_path": lambda: rope_figures.pair_path_figure(
        PATH, 4, t("llama.path_title", pair=2, token="3: ·cat"), t("llama.dimension_n", n=2),
        t("llama.dimension_n", n=10), t("fig.position"), t("llama.its_position", n=4)),
    "distance": lambda: rope_figures.distance_scores_figure(
        {t("llama.this_query_key"): [1.0, 0.5, -0.2], t("llama.query_itself"): [2.0, 1.5, 0.4]}, (2, -0.2),
        t("llama.distance_title", layer=0, head=1), t("llama.distance_axis"), t("llama.score_axis"),
        t("llama.in_your_text")),
    "kv_groups": lambda: rope_figures.kv_groups_figure(GROUPS, 4, t("llama.gqa_title", n_head=6, n_kv=2),
                                                       t("llama.query_head"), t("llama.kv_head")),
    "silu": lambda: rope_figures.silu_figure(t("llama.silu_title"), t("fig.input"), t("fig.output")),
}


def spec(fig) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


def test_figures_show_the_numbers_they_were_given():
    wave = spec(BUILDERS["wavelength"]())
    assert wave["data"][0]["y"] == pytest.approx(WAVELENGTH) and wave["layout"]["yaxis"]["type"] == "log"
    assert wave["layout"]["yaxis"]["dtick"] == 1 and "~g" in wave["layout"]["yaxis"]["tickformat"]  # powers of ten, written out
    assert len(spec(rope_figures.wavelength_figure(WAVELENGTH, WAVELENGTH, "t", "x", "y", ("a", "b")))["data"]) == 1

    path = BUILDERS["pair_path"]()
    points, star = path.data[1], path.data[2]
    assert list(points.x) == pytest.approx([x for x, _ in PATH]) and list(points.y) == pytest.approx([y for _, y in PATH])
    assert [star.x[0], star.y[0]] == pytest.approx(PATH[4])  # the token's own position
    assert path.layout.yaxis.scaleanchor == "x"  # a turn drawn as a turn

    distance = spec(BUILDERS["distance"]())
    assert distance["data"][0]["y"] == [1.0, 0.5, -0.2] and distance["data"][-1]["x"] == [2]

    groups = spec(BUILDERS["kv_groups"]())
    assert groups["data"][0]["z"] == [[0, 0, 0, 1, 1, 1]]
    assert groups["data"][0]["text"][0] == ["kv 0"] * 3 + ["kv 1"] * 3
    box = groups["layout"]["shapes"][0]
    assert (box["x0"], box["x1"]) == (3.5, 4.5)

    silu = BUILDERS["silu"]().data[0]
    x, y = silu.x[100], silu.y[100]
    assert y == pytest.approx(x / (1 + math.exp(-x)))
