"""Plotly figures built from plain data (lists, arrays, dicts), so tests can build and inspect them.

Every figure has a title, axis titles and hover values, and fonts large enough for a projector.
"""

from __future__ import annotations

import plotly.graph_objects as go

FONT_SIZE = 16
# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def styled(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE + 4}}, font={"size": FONT_SIZE}, height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 60}, template="plotly_white", hoverlabel={"font_size": FONT_SIZE},
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def encodings_bar(names: list[str], tokens: list[int], chars_per_token: list[float], words_per_token: list[float]):
    """Token count per encoding, with characters and words per token on the bars and in the hover."""
    fig = go.Figure(go.Bar(
        x=names, y=tokens, marker_color=OKABE_ITO[: len(names)],
        text=[f"{t:,} tokens<br>{c:.2f} chars/token" for t, c in zip(tokens, chars_per_token)],
        textposition="auto",
        customdata=list(zip(chars_per_token, words_per_token)),
        hovertemplate="%{x}<br>%{y:,} tokens<br>%{customdata[0]:.2f} characters per token"
                      "<br>%{customdata[1]:.2f} words per token<extra></extra>",
    ))
    return styled(fig, "The same text in each encoding", "encoding", "number of tokens")
