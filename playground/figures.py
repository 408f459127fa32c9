"""Plotly figures built from plain data (lists, arrays, dicts), so tests can build and inspect them.

Every figure has a title, axis titles and hover values, and fonts large enough for a projector. Figures are
made in the session's language: callers pass titles and labels already translated (t(...)), a figure's own fixed
words are t("fig.<key>"), and numbers follow the session's locale (plotly's `separators`, i18n.number/percent).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from playground import state
from playground.i18n import number, percent, plotly_separators, t

FONT_SIZE = 16
PRESENTER_FONT = 22  # px, as the page's text in presenter mode
PRESENTER_HEIGHT = 600  # px at most in presenter mode: with the page's title the figure fits a 720 px screen
ALL_TICKS_UP_TO = 48  # categorical axes label every category up to this many (plotly drops every second)
# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def trace(kind: str, **props) -> dict:
    """One trace as a plain dict ("heatmap", "scatter", "bar", ...), validated once by `figure`."""
    return {"type": kind, **props}


def font_size() -> int:
    """The figures' text size: larger in presenter mode, for the back row."""
    return PRESENTER_FONT if state.presenter() else FONT_SIZE


def fitted(height: int) -> int:
    """A figure's height, capped in presenter mode so that it fits the projector's first screen."""
    return min(height, PRESENTER_HEIGHT) if state.presenter() else height


def tick_font(n: int, room_px: float, size: int) -> int:
    """The tick label size at which n labels fit room_px (at most the figure's usual tick size)."""
    return max(9, min(size - 2, int(0.8 * room_px / max(n, 1))))


def every_tick(labels, room_px: float, size: int, font: int | None = None) -> dict:
    """Axis settings that label every category (up to ALL_TICKS_UP_TO), the font shrunk to the room each label
    has; beyond that plotly picks the ticks."""
    n = len(labels)
    if not n or n > ALL_TICKS_UP_TO:
        return {"automargin": True}
    return {"tickmode": "array", "tickvals": list(labels), "ticktext": list(labels), "automargin": True,
            "tickfont": {"size": font or tick_font(n, room_px, size)}}


def figure(data, title: str, x_title: str, y_title: str, height: int = 420, xaxis: dict | None = None,
           yaxis: dict | None = None, **layout) -> go.Figure:
    """A figure made in one step: title, fonts readable from the back row, axis titles, extra layout.

    Why one step from plain dicts: plotly validates every later update_layout/add_trace/add_annotation call
    again, which made figures cost 10-250 ms each on the server and slowed every participant under load.
    No plotly template either: Streamlit's theme styles the chart in the browser."""
    size = font_size()
    layout = {
        "title": {"text": title, "font": {"size": size + 4}}, "font": {"size": size}, "height": fitted(height),
        "margin": {"l": 60, "r": 20, "t": 60, "b": 60}, "hoverlabel": {"font": {"size": size}},
        "legend": {"font": {"size": size - 2}, **layout.pop("legend", {})}, "separators": plotly_separators(),
        "xaxis": {"tickfont": {"size": size - 2}, "title": {"text": x_title, "font": {"size": size}}, **(xaxis or {})},
        "yaxis": {"tickfont": {"size": size - 2}, "title": {"text": y_title, "font": {"size": size}}, **(yaxis or {})},
        **layout}
    return go.Figure(data if isinstance(data, list) else [data], layout)


def encodings_bar(names: list[str], tokens: list[int], chars_per_token: list[float], words_per_token: list[float]):
    """Token count per encoding, with characters and words per token on the bars and in the hover."""
    bar = trace("bar",
        x=names, y=tokens, marker_color=OKABE_ITO[: len(names)],
        texttemplate=f"%{{y:,}} {t('fig.tokens')}<br>%{{customdata[0]:.2f}} {t('fig.chars_per_token')}",
        textposition="auto", customdata=list(zip(chars_per_token, words_per_token)),
        hovertemplate=f"%{{x}}<br>%{{y:,}} {t('fig.tokens')}<br>%{{customdata[0]:.2f}} {t('fig.chars_per_token')}"
                      f"<br>%{{customdata[1]:.2f}} {t('fig.words_per_token')}<extra></extra>",
    )
    return figure(bar, t("fig.encodings_title"), t("fig.encoding"), t("fig.n_tokens"))


def token_labels(pieces: list[str]) -> list[str]:
    """Unique axis labels ('3: the'), since plotly merges equal category names; whitespace made visible."""
    return [f"{i}: {visible_plain(p)}" for i, p in enumerate(pieces)]


def visible_plain(text: str) -> str:
    """Whitespace made visible in plain text (tables, axes): · space, ↵ new line, → tab."""
    return text.replace(" ", "·").replace("\n", "↵").replace("\t", "→")


DIVERGING = "RdBu_r"  # plotly's RdBu runs from red (low) to blue (high); reversed, red is positive, blue negative


def heatmap(z, x_labels, y_labels, title: str, x_title: str, y_title: str, colorscale: str = DIVERGING,
            zmid: float | None = 0.0, value_name: str | None = None, height: int = 460, text_values: bool = False,
            extra: dict | None = None, width_px: int = 800, **layout):
    """A labelled heatmap with values on hover; None cells stay empty (e.g. the causal mask). The default colours
    are DIVERGING around 0: red positive, blue negative. Every row and column is labelled (up to ALL_TICKS_UP_TO),
    the tick font sized to the room each one has (the plot's height, and width_px: about how wide it is drawn)."""
    value_name = value_name or t("fig.value")
    size, height = font_size(), fitted(height)
    cells = trace("heatmap",
        z=np.asarray(z, dtype=float), x=x_labels, y=y_labels, colorscale=colorscale, zmid=zmid,
        colorbar={"title": value_name}, hoverongaps=False,
        hovertemplate=f"{y_title}: %{{y}}<br>{x_title}: %{{x}}<br>{value_name}: %{{z:.4f}}<extra></extra>",
        **{"texttemplate": "%{z:.2f}" if text_values else None, **(extra or {})})
    if text_values:
        cells["textfont"] = {"size": max(9, min(size - 2, int(0.5 * (height - 140) / max(len(y_labels), 1))))}
    # One tick size for both axes (the smaller one's), so rows and columns read alike.
    font = min([tick_font(n, room, size) for n, room in ((len(y_labels), height - 140), (len(x_labels), width_px))
                if 0 < n <= ALL_TICKS_UP_TO] or [size - 2])
    layout["yaxis"] = {"autorange": "reversed", **every_tick(y_labels, 0, size, font), **layout.get("yaxis", {})}
    layout["xaxis"] = {**every_tick(x_labels, 0, size, font), **layout.get("xaxis", {})}
    return figure(cells, title, x_title, y_title, height, **layout)


def attention_heatmap(pattern, pieces: list[str], title: str, height: int = 520):
    """Query rows, key columns; the masked future (upper triangle) left empty and marked grey."""
    z = masked_future(pattern)
    labels = token_labels(pieces)
    return heatmap(z, labels, labels, title, t("fig.key_attended"), t("fig.query_attending"), colorscale="Blues",
                   zmid=None, value_name=t("fig.attention"), height=height, text_values=len(pieces) <= 16,
                   extra={"zmin": 0, "zmax": 1},
                   plot_bgcolor="#d9d9d9")  # the masked cells show this grey: the future is hidden


def masked_future(pattern) -> np.ndarray:
    """A [q, k] pattern with the masked future (k > q) set to NaN, which plotly leaves empty."""
    z = np.array(pattern, dtype=float)
    z[np.triu_indices(len(z), 1)] = np.nan
    return z


def attention_grid(patterns, n_layer: int, n_head: int, selected: tuple[int, int] | None = None):
    """Small multiples: one attention map per layer (row) and head (column); a click on a map gives a point
    whose customdata is [layer, head].

    Built as one figure from plain dicts (axes placed by hand) rather than make_subplots + add_trace per cell,
    which took ~100 ms for 6 × 4 maps; this takes ~15 ms."""
    gap_x, gap_y = 0.01, 0.02
    width, height = (1 - gap_x * (n_head - 1)) / n_head, (1 - gap_y * (n_layer - 1)) / n_layer
    traces, layout, titles = [], {}, []
    layer_word, head_word, click_word = t("fig.layer"), t("fig.head"), t("fig.click_to_open")
    cell_hover = f"<br>{t('fig.query')} %{{y}} → {t('fig.key')} %{{x}}<br>{t('fig.attention')} %{{z:.3f}}<extra></extra>"
    for layer in range(n_layer):
        top = 1 - layer * (height + gap_y)
        bottom = max(0.0, top - height)  # not a rounding error below 0, which plotly refuses
        titles.append({"text": f"{layer_word} {layer}", "x": -0.01, "y": top - height / 2, "xref": "paper",
                       "yref": "paper", "xanchor": "right", "showarrow": False})  # level: rows too low for turned text
        for h in range(n_head):
            i, left = layer * n_head + h + 1, h * (width + gap_x)
            traces.append(trace("heatmap",
                z=masked_future(patterns[layer][h]).round(4), colorscale="Blues", zmin=0, zmax=1, showscale=False,
                hoverongaps=False, xaxis=f"x{i}", yaxis=f"y{i}",
                hovertemplate=f"{layer_word} {layer} {head_word} {h}" + cell_hover))
            n = len(patterns[layer][h])
            spots = [(n - 1) * f for f in (1 / 6, 1 / 2, 5 / 6)]  # heatmaps take no clicks: points to click on
            traces.append(trace("scatter", x=[x for x in spots for _ in spots], y=spots * 3, mode="markers",
                                marker={"size": 28, "opacity": 0}, xaxis=f"x{i}", yaxis=f"y{i}", showlegend=False,
                                customdata=[[layer, h]] * 9,
                                hovertemplate=f"{layer_word} {layer} {head_word} {h}<br>{click_word}<extra></extra>"))
            chosen = selected == (layer, h)
            frame = {"showline": True, "linewidth": 4, "linecolor": OKABE_ITO[1], "mirror": True} if chosen else {}
            # Fixed ranges: autorange would pad for the click markers, and the map would not fill its frame.
            layout[f"xaxis{i}"] = {"domain": [left, left + width], "anchor": f"y{i}", "showticklabels": False,
                                   "range": [-0.5, n - 0.5], **frame}
            layout[f"yaxis{i}"] = {"domain": [bottom, top], "anchor": f"x{i}", "showticklabels": False,
                                   "range": [n - 0.5, -0.5], **frame}
    titles += [{"text": f"{head_word} {h}", "x": h * (width + gap_x) + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
                "yanchor": "bottom", "showarrow": False} for h in range(n_head)]
    label_px = int(0.6 * font_size() * len(f"{layer_word} {n_layer - 1}")) + 16  # room for the row labels
    return figure(traces, t("fig.grid_title"), "", "", max(300, 150 * n_layer), xaxis=layout.pop("xaxis1"),
                  yaxis=layout.pop("yaxis1"), annotations=titles, margin={"l": label_px, "r": 20, "t": 60, "b": 30},
                  **layout)


def head_view(patterns_by_head: dict[int, list], pieces: list[str], title: str, threshold: float = 0.02,
              focus: tuple[str, int] | None = None):
    """BertViz-style: tokens in two columns, a line from each query (right) to each key (left) it attends to,
    thicker and darker for more attention; one colour per head (click a head in the legend to hide it).

    focus: ("query", i) keeps the lines token i attends along, ("key", i) the lines of the tokens attending to
    it; the token labels carry customdata [side, position] so a click on one can choose the focus.
    Lines of similar weight share one trace (8 weight bands per head, segments split by None): one trace per
    line meant hundreds of traces and ~250 ms per figure."""
    n = len(pieces)
    labels = [visible_plain(p) for p in pieces]
    bands = 8
    traces = []
    head_word, attention_word = t("fig.head"), t("fig.attention")
    for idx, (h, pattern) in enumerate(patterns_by_head.items()):
        colour = OKABE_ITO[idx % len(OKABE_ITO)]
        lines = [[] for _ in range(bands)]
        for q in range(n):
            if focus is not None and focus[0] == "query" and q != focus[1]:
                continue
            for k in range(q + 1):
                if focus is not None and focus[0] == "key" and k != focus[1]:
                    continue
                w = float(pattern[q][k])
                if w >= threshold:
                    lines[min(bands - 1, int(w * bands))].append((q, k, w))
        first = True
        for band, members in enumerate(lines):
            if not members:
                continue
            w_mid = (band + 0.5) / bands
            x, y, info = [], [], []
            for q, k, w in members:
                x += [0, 1, None]
                y += [k, q, None]
                info += [[labels[q], labels[k], w]] * 2 + [[None, None, None]]
            # numpy arrays skip plotly's per-element validation of lists
            traces.append(trace("scatter",
                x=np.array(x, dtype=float), y=np.array(y, dtype=float), mode="lines",
                line={"width": 0.5 + 8 * w_mid, "color": colour},
                opacity=min(1.0, 0.25 + w_mid), name=f"{head_word} {h}", legendgroup=f"head {h}", showlegend=first,
                customdata=np.array(info, dtype=object),
                hovertemplate=f"{head_word} {h}: %{{customdata[0]}} → %{{customdata[1]}}<br>{attention_word} "
                              "%{customdata[2]:.3f}<extra></extra>"))
            first = False
        if first:  # no line above the threshold: keep the head's legend entry (and its colour) anyway
            traces.append(trace("scatter", x=[None], y=[None], mode="lines", line={"color": colour, "width": 4},
                                name=f"{head_word} {h}", legendgroup=f"head {h}", hoverinfo="skip"))
    size = font_size()
    height = max(360, int(1.6 * size) * n + 120)
    font = min(size, tick_font(n, fitted(height) - 120, size + 2))  # a projector caps the height: labels shrink to fit
    for x, side, role in ((0, "left", "key"), (1, "right", "query")):  # keys left of their column, queries right
        chosen = [focus is not None and focus == (role, i) for i in range(n)]
        traces.append(trace("scatter", x=[x] * n, y=list(range(n)), mode="markers+text",
                            text=[f"<b>{label}</b>" if c else label for label, c in zip(labels, chosen)],
                            textposition=f"middle {side}", showlegend=False, textfont={"size": font},
                            marker={"size": font + 4, "color": "rgba(0,0,0,0)"},
                            customdata=[[role, i] for i in range(n)], hovertemplate="%{text}<extra></extra>"))
    return figure(traces, title, "", "", height,
                  xaxis={"visible": False, "range": [-0.7, 1.7], "fixedrange": True},
                  yaxis={"visible": False, "autorange": "reversed", "fixedrange": True},
                  legend={"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0.5, "xanchor": "center",
                          "itemclick": "toggle", "itemdoubleclick": "toggleothers"})


def score_heatmap(scores, title: str, value_name: str):
    """[layer, head] scores (shares of attention, 0 to 1) as a heatmap with the value written in every cell; the
    colours span the fixed range 0 to 1, so a weak score looks weak whatever the other heads do."""
    n_layer, n_head = len(scores), len(scores[0])
    return heatmap(scores, list(range(n_head)), list(range(n_layer)), title, t("fig.head"), t("fig.layer"),
                   colorscale="Viridis", zmid=None, value_name=value_name, height=max(300, 60 * n_layer + 120),
                   text_values=True, extra={"zmin": 0, "zmax": 1},
                   xaxis={"dtick": 1}, yaxis={"autorange": "reversed", "dtick": 1})


def readable_labels(coords, limit: int = 40, gap: tuple[float, ...] = (0.09, 0.045, 0.09)) -> list[bool]:
    """Which points of a scatter get a written label so that labels do not pile up: in the given order (most
    important first), a point is labelled when no labelled point lies closer than `gap` (a share of the plot's
    extent per axis: labels are wider than tall) on every axis, at most `limit` of them. The others still show
    their label on hover."""
    points = np.asarray(coords, dtype=float)
    if not len(points):
        return []
    span = points.max(0) - points.min(0)
    scaled = (points - points.min(0)) / np.where(span > 0, span, 1)
    room = np.array(gap[: points.shape[1]])
    chosen: list[int] = []
    for i, p in enumerate(scaled):
        if len(chosen) < limit and all((np.abs(p - scaled[j]) >= room).any() for j in chosen):
            chosen.append(i)
    keep = set(chosen)
    return [i in keep for i in range(len(points))]


def scatter_projection(coords, labels: list[str], groups: list[str], title: str, axis_titles: list[str]):
    """2D or 3D PCA scatter, one colour per group; a readable subset of the points is labelled (earlier points
    first), every point names itself on hover."""
    traces = []
    dims = len(coords[0]) if len(coords) else 2
    written = readable_labels(coords)
    for gi, group in enumerate(dict.fromkeys(groups)):
        idx = [i for i, g in enumerate(groups) if g == group]
        names = [visible_plain(labels[i]) for i in idx]
        common = dict(mode="markers+text", name=group, text=[n if written[i] else "" for n, i in zip(names, idx)],
                      customdata=names, marker={"color": OKABE_ITO[gi % len(OKABE_ITO)], "size": 8 if dims == 2 else 4},
                      hovertemplate="%{customdata}<extra>" + group + "</extra>", textposition="top center")
        if dims == 3:
            traces.append(trace("scatter3d", x=[coords[i][0] for i in idx], y=[coords[i][1] for i in idx],
                                             z=[coords[i][2] for i in idx], **common))
        else:
            traces.append(trace("scatter", x=[coords[i][0] for i in idx], y=[coords[i][1] for i in idx], **common))
    # 3D: no tick numbers (a principal axis has no unit and an arbitrary sign; in presenter size they cover the points)
    scene = {"scene": {f"{a}axis": {"title": {"text": name}, "showticklabels": False}
                       for a, name in zip("xyz", axis_titles)}} if dims == 3 else {}
    return figure(traces, title, axis_titles[0], axis_titles[1], 600, **scene)


def bars(x, series: dict[str, list[float]], title: str, x_title: str, y_title: str):
    """One bar per x for each named series (grouped side by side when there are several); name and value on hover."""
    traces = [trace("bar", x=x, y=values, name=name, marker_color=OKABE_ITO[i % len(OKABE_ITO)],
                           hovertemplate=f"%{{x}}<br>{name}: %{{y:.4f}}<extra></extra>")
              for i, (name, values) in enumerate(series.items())]
    return figure(traces, title, x_title, y_title, barmode="group", showlegend=len(series) > 1)


def distribution_bars(labels: list[str], probs: list[float], logits: list[float], title: str,
                      marked: int | None = None, marked_name: str | None = None, height: int = 420):
    """Top tokens' probabilities as bars, logits on hover; one bar (e.g. the sampled token) highlighted in colour
    and named above its percentage (an arrow there would cover the number). height: less where text stands above
    the figure on a projector's first screen."""
    marked_name = marked_name or t("fig.sampled")
    colours = [OKABE_ITO[1] if i == marked else OKABE_ITO[0] for i in range(len(labels))]
    text = [percent(p) + (f"<br><b>{marked_name}</b>" if i == marked else "") for i, p in enumerate(probs)]
    bar = trace("bar",
        x=[visible_plain(label) for label in labels], y=probs, marker_color=colours, customdata=logits,
        text=text, textposition="outside", cliponaxis=False,
        hovertemplate=f"%{{x}}<br>{t('fig.probability')} %{{y:.4f}}<br>{t('fig.logit')} %{{customdata:.3f}}"
                      "<extra></extra>")
    headroom = 1.4 if marked is not None else 1.25
    return figure(bar, title, t("fig.next_token"), t("fig.probability"), height,
                  xaxis=every_tick([visible_plain(label) for label in labels], 800, font_size()),
                  yaxis={"range": [0, max(probs + [0.01]) * headroom], "tickformat": ".0%"})


def pipeline_figure(stage_names: list[str], labels: list[str], probs: list[list[float | None]]):
    """Tokens (rows) × stages (columns): each stage's probability; an empty cell (✗) means removed."""
    z = np.array([[np.nan if p is None else p for p in row] for row in probs], dtype=float)
    text = [["✗" if p is None else percent(p) for p in row] for row in probs]
    cells = trace("heatmap",
        z=z, x=stage_names, y=[visible_plain(label) for label in labels], colorscale="Blues", zmin=0, zmax=1,
        text=text, texttemplate="%{text}", hoverongaps=False, colorbar={"title": t("fig.probability")},
        hovertemplate=f"{t('fig.token')} %{{y}}<br>{t('fig.after')} %{{x}}<br>{t('fig.probability')} %{{z:.4f}}"
                      "<extra></extra>")
    return figure(cells, t("fig.pipeline_title"), t("fig.pipeline_stage"), t("fig.token"),
                  max(380, 32 * len(labels) + 140), yaxis={"autorange": "reversed"}, plot_bgcolor="#eeeeee")


def dice_histogram(labels: list[str], expected: list[float], observed: list[float], n: int):
    names = [visible_plain(label) for label in labels]
    probability, share = t("fig.probability"), t("fig.share_of_draws", n=number(n))
    traces = [trace("bar", x=names, y=expected, name=probability, marker_color=OKABE_ITO[0],
                           hovertemplate=f"%{{x}}<br>{probability} %{{y:.4f}}<extra></extra>"),
              trace("bar", x=names, y=observed, name=share, marker_color=OKABE_ITO[1],
                           hovertemplate=f"%{{x}}<br>{share} %{{y:.4f}}<extra></extra>")]
    return figure(traces, t("fig.dice_title", n=number(n)), t("fig.token"), t("fig.share"),
                  yaxis={"tickformat": ".0%"}, barmode="group")


def temperature_bars(labels: list[str], temperatures: list[float], table: list[list[float]]):
    """Softmax of a small logit vector at several temperatures, grouped by token."""
    traces = [trace("bar", x=labels, y=table[i], name=f"T = {number(temp, None)}",
                           marker_color=OKABE_ITO[i % len(OKABE_ITO)],
                           hovertemplate=f"T = {number(temp, None)}<br>%{{x}}<br>p = %{{y:.4g}}<extra></extra>")
              for i, temp in enumerate(temperatures)]
    return figure(traces, t("fig.temperature_title"), t("fig.token_logit"), t("fig.probability"), barmode="group")


def count_axis(x) -> dict | None:
    """An axis of whole counts (steps, epochs): while they span only a few, one tick each (plotly would write
    steps 1.2, 1.4, ... at the start of a run)."""
    whole = [v for v in x if isinstance(v, int)]
    return {"dtick": 1} if whole and len(whole) == len(x) and max(whole) - min(whole) < 8 else None


def loss_curves(steps, losses, smoothed, val_steps, val_losses):
    step, train, smooth, val = t("fig.step"), t("fig.train_loss"), t("fig.train_loss_smoothed"), t("fig.val_loss")
    traces = [
        trace("scatter", x=steps, y=losses, mode="lines", name=train, line={"color": "#9ecae1", "width": 1},
                         hovertemplate=f"{step} %{{x}}<br>{train} %{{y:.4f}}<extra></extra>"),
        trace("scatter", x=steps, y=smoothed, mode="lines", name=smooth, line={"color": OKABE_ITO[0], "width": 3},
                         hovertemplate=f"{step} %{{x}}<br>{smooth} %{{y:.4f}}<extra></extra>"),
        trace("scatter", x=val_steps, y=val_losses, mode="lines+markers", name=val,
                         line={"color": OKABE_ITO[1], "width": 3}, marker={"size": 8},
                         hovertemplate=f"{step} %{{x}}<br>{val} %{{y:.4f}}<extra></extra>")]
    return figure(traces, t("fig.loss_title"), step, t("fig.loss"), xaxis=count_axis(list(steps) + list(val_steps)))


# A log axis labelled at the powers of ten only, each written out in the session's locale ("10.000" in German):
# plotly's own labels mix "10k" with "1000" and add 2 and 5 between them, too many for the back row.
LOG_AXIS = {"type": "log", "dtick": 1, "tickformat": ",~g"}


def metric_line(x, y, title: str, x_title: str, y_title: str, colour: str | None = None, log_y: bool = False):
    line = trace("scatter", x=x, y=y, mode="lines+markers" if len(x) < 30 else "lines",
                            line={"color": colour or OKABE_ITO[2], "width": 3},
                            hovertemplate=f"{x_title} %{{x}}<br>{y_title} %{{y:.4g}}<extra></extra>")
    return figure(line, title, x_title, y_title, 320, xaxis=count_axis(x), yaxis=LOG_AXIS if log_y else None)


def confusion_matrix(matrix: list[list[int]], classes: list[str]):
    return heatmap(matrix, classes, classes, t("fig.confusion_title"), t("fig.prediction"), t("fig.truth"),
                   colorscale="Blues", zmid=None, value_name=t("fig.messages"), height=360,
                   extra={"texttemplate": "%{z}"})


def accuracy_curves(steps, train_acc, val_acc):
    step = t("fig.step")
    traces = [trace("scatter", x=steps, y=values, mode="lines+markers", name=name, line={"color": colour, "width": 3},
                               hovertemplate=f"{step} %{{x}}<br>%{{y:.1%}}<extra></extra>")
              for values, name, colour in ((train_acc, t("fig.train_accuracy"), OKABE_ITO[0]),
                                           (val_acc, t("fig.val_accuracy"), OKABE_ITO[1]))]
    return figure(traces, t("fig.accuracy_title"), step, t("fig.accuracy"), 340, yaxis={"tickformat": ".0%"})


def wrapped(text: str, width: int) -> list[str]:
    """Text cut at spaces into lines of at most `width` characters (a longer word keeps its own line)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def two_lines(text: str, width: int = 26) -> list[str]:
    """Text wrapped onto at most two lines: as wide as needed (from `width` characters on), never cut off.

    >>> two_lines("Logits → Wahrscheinlichkeiten des nächsten Tokens")
    ['Logits → Wahrscheinlichkeiten', 'des nächsten Tokens']
    """
    while len(wrapped(text, width)) > 2:
        width += 1
    return wrapped(text, width)


def fitting_font(lines: list[str], box_px: float, largest: int) -> int:
    """The largest font (px, at most `largest`) at which the longest line fits box_px (a character is about
    0.6 em wide in the app's sans-serif font, bold included)."""
    longest = max((len(line) for line in lines), default=1)
    return max(10, min(largest, int(box_px / (0.62 * longest))))


# The narrowest a diagram box is drawn on a 1280 px screen (its column beside the details; presenter mode has no
# sidebar), for the size of the text in it.
DIAGRAM_BOX_PX = {False: 250, True: 340}


def diagram_detail(stage: dict, n_layer: int, box_px: float, largest: int) -> list[str]:
    """A diagram box's shape and parameters, "[T × d] · n per block · total in all", on one line, or on two (the
    whole model's count below) when one line would need a font under 12 px to fit the box."""
    shape = " × ".join(str(v) for v in stage["shape"])
    if not stage["params"]:
        params = t("fig.no_params")
    elif stage["per_block"]:  # one block's count, the whole model's beside it
        params = t("fig.params_per_block", n=number(stage["params"]), total=number(stage["params"] * n_layer))
    else:
        params = t("fig.params", n=number(stage["params"]))
    line = f"[{shape}] · {params}"
    if fitting_font([line], box_px, largest) >= 12:
        return [line]
    first, last = line.rsplit(" · ", 1)
    return [first, last]


def architecture_diagram(stages: list[dict], n_layer: int, selected: str | None = None):
    """The forward pass as boxes, top to bottom; stages inside a block sit in a frame marked × n_layer.
    Click a box to look inside that stage: invisible points across each box carry its key (customdata[2]).

    Labels fit their boxes in every language: names wrap onto two lines and the font shrinks to the box; in
    presenter mode (the diagram on one screen) each box shows its name only, shapes and counts are on hover.
    stages: dicts with key, name, shape, params (one block's for a stage inside the blocks), per_block (as
    core.analysis.anatomy.Stage). Shapes and labels are
    collected as plain dicts and set once (add_shape/add_annotation per box cost ~120 ms per figure)."""
    n = len(stages)
    compact = state.presenter()
    size = font_size()
    box_h, gap = (0.8, 0.25) if compact else (0.8, 0.35)
    ys = [-(i * (box_h + gap)) for i in range(n)]
    shapes, notes = [], []
    block = [i for i, s in enumerate(stages) if s["per_block"]]
    if block:
        top, bottom = ys[block[0]] + box_h / 2 + 0.12, ys[block[-1]] - box_h / 2 - 0.12
        shapes.append({"type": "rect", "x0": -0.02, "x1": 1.02, "y0": bottom, "y1": top,
                       "line": {"color": OKABE_ITO[1], "width": 3, "dash": "dash"},
                       "fillcolor": "rgba(230,159,0,0.06)"})
        notes.append({"x": 1.04, "y": (top + bottom) / 2, "text": f"× {n_layer}<br>{t('fig.blocks')}", "showarrow": False,
                      "xanchor": "left", "font": {"size": size, "color": OKABE_ITO[1]}})
    box_px = DIAGRAM_BOX_PX[compact] - 16
    names = [[s["name"]] if compact else two_lines(s["name"]) for s in stages]
    if compact:  # a name too long for one line of the small box takes two lines of small text
        names = [two_lines(name[0]) if fitting_font(name, box_px, size) < 13 else name for name in names]
    name_font = min((fitting_font(name, box_px, size) for name in names if len(name) == 1), default=size)  # one size
    details = [diagram_detail(s, n_layer, box_px, size - 3) for s in stages]
    wrapped_details = any(len(lines) > 1 for lines in details)
    for i, (s, y) in enumerate(zip(stages, ys)):
        chosen = s["key"] == selected
        shapes.append({"type": "rect", "x0": 0, "x1": 1, "y0": y - box_h / 2, "y1": y + box_h / 2,
                       "line": {"color": OKABE_ITO[5] if chosen else OKABE_ITO[0], "width": 4 if chosen else 2},
                       "fillcolor": "rgba(213,94,0,0.12)" if chosen else "rgba(0,114,178,0.08)"})
        name = names[i]
        font = min(name_font, fitting_font(name, box_px, size), 12 if compact and len(name) > 1 else size)
        notes.append({"x": 0.5, "y": y if compact else y + 0.12, "text": "<br>".join(f"<b>{line}</b>" for line in name),
                      "showarrow": False, "font": {"size": font, "color": "#111"},
                      "yanchor": "middle" if compact else "bottom"})
        if not compact:
            lines = details[i]
            notes.append({"x": 0.5, "y": y - 0.08, "text": "<br>".join(lines), "showarrow": False, "yanchor": "top",
                          "font": {"size": fitting_font(lines, box_px, size - 3), "color": "#333"}})
        if i < n - 1:
            notes.append({"x": 0.5, "y": ys[i + 1] + box_h / 2, "ax": 0.5, "ay": y - box_h / 2, "xref": "x",
                          "yref": "y", "axref": "x", "ayref": "y", "showarrow": True, "arrowhead": 2,
                          "arrowwidth": 2, "text": ""})
    # points across each box, in three rows (the name above the middle, the counts below): a click anywhere on it
    # finds one
    across, rows = np.linspace(0.04, 0.96, 12), (-box_h / 4, 0.0, box_h / 4)
    hover = trace("scatter", x=np.tile(across, n * len(rows)).tolist(),
                  y=[y + dy for y in ys for dy in rows for _ in across], mode="markers",
                  marker={"size": 22, "opacity": 0}, showlegend=False,
                  customdata=[[s["name"], s["params"] * (n_layer if s["per_block"] else 1), s["key"],
                               " × ".join(map(str, s["shape"]))] for s in stages for _ in rows for _ in across],
                  hovertemplate=f"%{{customdata[0]}}<br>[%{{customdata[3]}}]<br>%{{customdata[1]:,}} {t('fig.parameters')}"
                                "<extra></extra>")
    unit_px = 46 if compact else 96 if wrapped_details else 80  # a second line of details needs the room
    fig = figure(hover, t("fig.forward_title"), "", "", unit_px * n + 80,
                 xaxis={"visible": False, "range": [-0.04, 1.25], "fixedrange": True},
                 yaxis={"visible": False, "range": [ys[-1] - 0.6, 0.6], "fixedrange": True},
                 shapes=shapes, annotations=notes, margin={"l": 5, "r": 5, "t": 50, "b": 5}, hovermode="closest")
    return fig


def logit_lens_figure(top_tokens: list[list[str]], top_probs: list[list[float]], positions: list[str]):
    """Blocks (rows, counted from 0 as everywhere in the app) × positions (columns): the top prediction if the model
    stopped after that block; the last row is the model's own prediction."""
    z = np.array(top_probs, dtype=float)
    blocks = list(range(len(top_tokens)))
    after, probability = t("fig.after_block"), t("fig.probability")
    cells = trace("heatmap",
        z=z, x=positions, y=blocks, text=[[visible_plain(token) for token in row] for row in top_tokens],
        texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1, colorbar={"title": probability},
        hovertemplate=f"{after} %{{y}}, {t('fig.position')} %{{x}}<br>{t('fig.top_token')} %{{text}}<br>"
                      f"{probability} %{{z:.3f}}<extra></extra>")
    return figure(cells, t("fig.lens_title"), t("fig.position_read"), after, max(320, 50 * len(blocks) + 160),
                  yaxis={"autorange": "reversed", "dtick": 1})


def activation_curves():
    """GELU (GPT-2's tanh approximation) and ReLU on [−4, 4]."""
    import math
    xs = [i / 20 for i in range(-80, 81)]
    gelu = [0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))) for x in xs]
    x_word, y_word = t("fig.input"), t("fig.output")
    hover = f"{x_word} %{{x:.2f}}<br>{y_word} %{{y:.3f}}<extra>%{{fullData.name}}</extra>"
    traces = [trace("scatter", x=xs, y=gelu, name="GELU", hovertemplate=hover,
                    line={"color": OKABE_ITO[0], "width": 3}),
              trace("scatter", x=xs, y=[max(0.0, x) for x in xs], name="ReLU", hovertemplate=hover,
                    line={"color": OKABE_ITO[1], "width": 3, "dash": "dash"})]
    return figure(traces, t("fig.activation_title"), x_word, y_word, 320)
