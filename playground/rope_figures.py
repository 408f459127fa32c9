"""Figures for the Llama family's own ideas: rotary positions (each pair's wavelength, one pair turning with the
position, the score of the same query and key by distance) and grouped-query attention (which query heads
share a key/value head). Built from plain data; every title and axis label comes in already translated.
"""

from __future__ import annotations

import numpy as np

from playground.figures import LOG_AXIS, OKABE_ITO, figure, trace


def wavelength_figure(wavelength: list[float], unscaled: list[float] | None, title: str, x_title: str,
                      y_title: str, names: tuple[str, str]):
    """Tokens per full turn for each pair (log scale); the unscaled wavelengths beside them when they differ."""
    pairs = list(range(len(wavelength)))
    data = [trace("scatter", x=pairs, y=wavelength, mode="lines+markers", name=names[0],
                  line={"color": OKABE_ITO[0], "width": 3},
                  hovertemplate=f"{x_title} %{{x}}<br>{y_title}: %{{y:,.1f}}<extra></extra>")]
    if unscaled is not None and not np.allclose(unscaled, wavelength):
        data.append(trace("scatter", x=pairs, y=unscaled, mode="lines", name=names[1],
                          line={"color": OKABE_ITO[1], "dash": "dash", "width": 2},
                          hovertemplate=f"{x_title} %{{x}}<br>{y_title}: %{{y:,.1f}}<extra></extra>"))
    return figure(data, title, x_title, y_title, height=380, yaxis=LOG_AXIS, showlegend=len(data) > 1)


def pair_path_figure(path: list[list[float]], marked: int, title: str, x_title: str, y_title: str,
                     position_name: str, marked_name: str):
    """One (x_i, x_{i+d/2}) pair at positions 0..P−1: points on a circle, coloured by position, the token's
    own position marked; equal axes so the turn looks like a turn. x_title and y_title name the two dimensions."""
    xy = np.asarray(path, dtype=float)
    radius = float(np.hypot(xy[:, 0], xy[:, 1]).max()) * 1.15 or 1.0
    angle = np.linspace(0, 2 * np.pi, 121)
    data = [
        trace("scatter", x=(radius / 1.15 * np.cos(angle)).tolist(), y=(radius / 1.15 * np.sin(angle)).tolist(),
              mode="lines", line={"color": "#bbbbbb", "width": 1}, hoverinfo="skip", showlegend=False),
        trace("scatter", x=xy[:, 0], y=xy[:, 1], mode="lines+markers", name=position_name,
              marker={"color": list(range(len(xy))), "colorscale": "Viridis", "size": 9,
                      "colorbar": {"title": position_name}}, line={"color": "#cccccc", "width": 1},
              customdata=list(range(len(xy))),
              hovertemplate=f"{position_name} %{{customdata}}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>"),
        trace("scatter", x=[xy[marked, 0]], y=[xy[marked, 1]], mode="markers", name=marked_name,
              marker={"color": OKABE_ITO[5], "size": 18, "symbol": "star"},
              hovertemplate=f"{marked_name}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>"),
    ]
    axis = {"range": [-radius, radius], "zeroline": True}
    return figure(data, title, x_title, y_title, height=460, xaxis=axis,
                  yaxis={**axis, "scaleanchor": "x", "scaleratio": 1}, showlegend=False)


def distance_scores_figure(series: dict[str, list[float]], marked: tuple[int, float] | None, title: str,
                           x_title: str, y_title: str, marked_name: str):
    """Score of the same two vectors for every distance between them; the distance they really have marked with
    the model's own cached score."""
    data = [trace("scatter", x=list(range(len(values))), y=values, mode="lines", name=name,
                  line={"color": OKABE_ITO[i % len(OKABE_ITO)], "width": 3 if i == 0 else 2},
                  hovertemplate=f"{x_title}: %{{x}}<br>{y_title}: %{{y:.3f}}<extra>{name}</extra>")
            for i, (name, values) in enumerate(series.items())]
    if marked is not None:
        data.append(trace("scatter", x=[marked[0]], y=[marked[1]], mode="markers", name=marked_name,
                          marker={"color": OKABE_ITO[5], "size": 16, "symbol": "star"},
                          hovertemplate=f"{marked_name}<br>{x_title}: %{{x}}<br>{y_title}: %{{y:.3f}}<extra></extra>"))
    return figure(data, title, x_title, y_title, height=400)


def kv_groups_figure(groups: list[list[int]], selected: int, title: str, query_name: str, kv_name: str):
    """One cell per query head (x axis: `query_name`), coloured and labelled by the key/value head it reads
    ("`kv_name` g"); the chosen head outlined."""
    n_head = sum(len(g) for g in groups)
    group_of = [next(g for g, heads in enumerate(groups) if h in heads) for h in range(n_head)]
    colours = [OKABE_ITO[g % len(OKABE_ITO)] for g in range(len(groups))]
    scale = [[i / max(1, len(groups) - 1), c] for i, c in enumerate(colours)] if len(groups) > 1 else \
        [[0, colours[0]], [1, colours[0]]]
    cells = trace("heatmap", z=[group_of], x=list(range(n_head)), y=[""], colorscale=scale, showscale=False, xgap=3,
                  text=[[f"{kv_name} {g}" for g in group_of]], texttemplate="%{text}",
                  hovertemplate=f"{query_name} %{{x}} → %{{text}}<extra></extra>")
    box = {"type": "rect", "x0": selected - 0.5, "x1": selected + 0.5, "y0": -0.5, "y1": 0.5,
           "line": {"color": "#000000", "width": 4}}
    return figure(cells, title, query_name, "", height=190, shapes=[box], margin={"l": 20, "r": 20, "t": 50, "b": 60},
                  xaxis={"dtick": 1}, yaxis={"visible": False})


def silu_figure(title: str, x_title: str, y_title: str):
    """SiLU(g) = g · σ(g), the gate of SwiGLU, beside ReLU on [−4, 4]."""
    xs = np.linspace(-4, 4, 161)
    hover = f"{x_title} %{{x:.2f}}<br>{y_title} %{{y:.3f}}<extra>%{{fullData.name}}</extra>"
    return figure([trace("scatter", x=xs, y=xs / (1 + np.exp(-xs)), name="SiLU", hovertemplate=hover,
                         line={"color": OKABE_ITO[0], "width": 3}),
                   trace("scatter", x=xs, y=np.maximum(xs, 0), name="ReLU", hovertemplate=hover,
                         line={"color": OKABE_ITO[1], "width": 3, "dash": "dash"})], title, x_title, y_title, 320)
