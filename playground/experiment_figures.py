"""Figures of the Experiments page: what an edit of the model changed, as layer × head and layer × position maps,
and the parts of a logit as bars.

Built from plain lists through playground.figures (one step from dicts, presenter sizes). Every word arrives
already in the session's language: the page passes its translated titles, axis titles and hover details.
Signed values share one diverging scale centred at 0 (blue above, red below), symmetric so that equal sizes get
equal strength of colour.

Left out: interactivity beyond hover (clicking a cell to jump to the Attention page).
"""

from __future__ import annotations

import numpy as np

from playground import state
from playground.figures import figure, trace
from playground.i18n import number

BLUE, RED = "#2166ac", "#b2182b"  # the ends of plotly's RdBu, for bars that match the maps


def signed_map(values, x_labels, y_labels, title: str, x_title: str, y_title: str, value_name: str,
               details=None, value_format: str = "+.3f", cell_format: str = ".2f", limit: float | None = None):
    """A [rows][cols] map of signed values: diverging colours centred at 0, the value in each cell when the map
    is small enough to read, and on hover the row, the column, the value and `details` (a [rows][cols] list of
    already formatted lines, e.g. the probabilities before and after). Formats are d3's (".2f", ".0%"); `limit`
    fixes the colour range at ±limit (default: the largest |value|)."""
    z = np.asarray(values, dtype=float)
    top = limit if limit is not None else float(np.nanmax(np.abs(z))) if z.size else 1.0
    top = max(top, 1e-6)
    rows, cols = z.shape
    hover = f"{y_title} %{{y}}, {x_title} %{{x}}<br>{value_name}: %{{z:{value_format}}}"
    extra = {}
    if details is not None:
        extra["customdata"] = np.asarray(details, dtype=object)
        hover += "<br>%{customdata}"
    if rows * cols <= 100:  # small maps carry their numbers, readable on a projector
        extra["texttemplate"] = f"%{{z:{cell_format}}}"
    cells = trace("heatmap", z=z, x=x_labels, y=y_labels, colorscale="RdBu", zmin=-top, zmax=top,
                  colorbar={"title": {"text": value_name}, **({"tickformat": ".0%"} if "%" in value_format else {})},
                  hoverongaps=False,
                  hovertemplate=hover + "<extra></extra>", **extra)
    row_px, least = (80, 440) if state.presenter() else (56, 320)
    return figure(cells, title, x_title, y_title, max(least, row_px * rows + 150),
                  xaxis={"type": "category"}, yaxis={"type": "category", "autorange": "reversed"})


def part_bars(names: list[str], values: list[float], title: str, x_title: str, y_title: str):
    """One bar per part of a sum (embeddings, each MLP, biases), blue when it adds, red when it takes away."""
    bar = trace("bar", x=names, y=values, marker_color=[BLUE if v >= 0 else RED for v in values],
                text=[("+" if v >= 0 else "") + number(v, 2) for v in values], textposition="outside", cliponaxis=False,
                hovertemplate="%{x}: %{y:+.4f}<extra></extra>")
    span = max([abs(v) for v in values] + [1e-6]) * 1.25
    return figure(bar, title, x_title, y_title, 420, xaxis={"type": "category"},
                  yaxis={"range": [min(0.0, min(values, default=0.0)) * 1.25 - 0.05 * span,
                                   max(0.0, max(values, default=0.0)) * 1.25 + 0.05 * span]})

