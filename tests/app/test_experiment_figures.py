"""The Experiments page's figures: titles, axis titles and hover values; the values they were given; one diverging
scale centred at 0; larger in presenter mode."""

import json

import numpy as np
import plotly.io as pio
import streamlit as st

from playground import experiment_figures, figures, keys

CHANGE = [[-0.6, 0.02, 0.1], [0.3, -0.05, 0.0]]


def spec(fig) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


def signed():
    return experiment_figures.signed_map(CHANGE, ["0", "1", "2"], ["0", "1"], "Change of log p", "head", "layer",
                                         "Δ log p", details=[["p: 1% → 2%"] * 3] * 2)


def test_signed_map_shows_the_values_on_a_scale_centred_at_zero():
    fig = signed()
    s = spec(fig)
    cells = fig.data[0]
    assert np.allclose(np.array(cells.z, dtype=float), CHANGE)
    assert cells.zmin == -0.6 and cells.zmax == 0.6 and cells.colorscale  # symmetric: 0 sits in the middle
    assert s["layout"]["title"]["text"] == "Change of log p"
    assert s["layout"]["xaxis"]["title"]["text"] == "head" and s["layout"]["yaxis"]["title"]["text"] == "layer"
    assert "layer %{y}, head %{x}" in cells.hovertemplate and "Δ log p: %{z:+.3f}" in cells.hovertemplate
    assert "%{customdata}" in cells.hovertemplate and cells.customdata[0][0] == "p: 1% → 2%"
    assert cells.texttemplate == "%{z:.2f}"  # a small map carries its numbers
    assert s["layout"]["font"]["size"] >= figures.FONT_SIZE


def test_signed_map_fractions_use_percent_and_a_fixed_range():
    fig = experiment_figures.signed_map([[0.2, 1.3]], ["0: a", "1: b"], ["0"], "Restored", "position", "layer",
                                        "restored", value_format=".1%", cell_format=".0%", limit=1.3)
    cells = fig.data[0]
    assert cells.zmin == -1.3 and cells.zmax == 1.3
    assert cells.colorbar.tickformat == ".0%" and cells.texttemplate == "%{z:.0%}"
    big = experiment_figures.signed_map(np.zeros((12, 20)).tolist(), [str(i) for i in range(20)],
                                        [str(i) for i in range(12)], "t", "x", "y", "v")
    assert big.data[0].texttemplate is None  # too many cells to read numbers in


def test_part_bars_colour_by_sign_and_label_every_bar():
    fig = experiment_figures.part_bars(["MLP 0", "token embedding"], [0.5, -2.3], "Other parts", "part",
                                       "direct share")
    bar = fig.data[0]
    assert list(bar.y) == [0.5, -2.3] and list(bar.text) == ["+0.50", "-2.30"]
    assert list(bar.marker.color) == [experiment_figures.BLUE, experiment_figures.RED]
    assert bar.hovertemplate and fig.layout.yaxis.range[0] < -2.3 < 0.5 < fig.layout.yaxis.range[1]


def test_presenter_mode_makes_maps_taller_and_text_larger():
    normal = spec(signed())
    st.session_state[keys.PRESENTER] = True
    try:
        large = spec(signed())
    finally:
        del st.session_state[keys.PRESENTER]
    assert large["layout"]["height"] > normal["layout"]["height"]
    assert large["layout"]["font"]["size"] > normal["layout"]["font"]["size"]
