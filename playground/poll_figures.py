"""The poll's figure, from plain data: the class's guesses (left) beside the model's next-token distribution
(right), on one probability scale, for the projector. Labels come in already in the session's language."""

from __future__ import annotations

from playground.figures import OKABE_ITO, figure, trace, visible_plain
from playground.i18n import percent

SHOWN_GUESSES = 15
SHOWN_TOKENS = 10


def guesses_figure(guesses: list[str], counts: list[int], guess_probs: list[float], several: list[bool],
                   tokens: list[str], token_probs: list[float], guessed: list[bool], words: dict[str, str]):
    """guesses (most guessed first) with their counts, the model's probability of each one's (first) token and
    whether it is several tokens; tokens: the model's likeliest next tokens, with whether anyone guessed them.
    words: title, class, model, share, probability, first_token (hover note), guessed, not_guessed, answers."""
    total = max(sum(counts), 1)
    guesses, counts = guesses[:SHOWN_GUESSES], counts[:SHOWN_GUESSES]
    guess_probs, several = guess_probs[:SHOWN_GUESSES], several[:SHOWN_GUESSES]
    names = [visible_plain(g) + (" *" if s else "") for g, s in zip(guesses, several)]
    shares = [c / total for c in counts]
    notes = [words["first_token"] if s else "" for s in several]
    top = max(shares + token_probs + guess_probs + [0.05])
    data = [
        trace("bar", x=names, y=shares, name=words["class"], marker_color=OKABE_ITO[1],
              text=[f"{c} ({percent(s, 0)})" for c, s in zip(counts, shares)], textposition="outside", cliponaxis=False,
              customdata=[[c, p, n] for c, p, n in zip(counts, guess_probs, notes)],
              hovertemplate=f"%{{x}}<br>{words['answers']}: %{{customdata[0]}} (%{{y:.1%}})<br>"
                            f"{words['probability']}: %{{customdata[1]:.4f}}<br>%{{customdata[2]}}<extra></extra>"),
        trace("scatter", x=names, y=guess_probs, name=words["probability"], mode="markers",
              marker={"symbol": "diamond", "size": 14, "color": OKABE_ITO[0], "line": {"width": 1, "color": "#000"}},
              hovertemplate=f"%{{x}}<br>{words['probability']}: %{{y:.4f}}<extra></extra>"),
        trace("bar", x=[visible_plain(t) for t in tokens], y=token_probs, xaxis="x2", yaxis="y2",
              name=words["model"], marker_color=[OKABE_ITO[1] if g else OKABE_ITO[0] for g in guessed],
              text=[percent(p) for p in token_probs], textposition="outside", cliponaxis=False,
              customdata=[words["guessed"] if g else words["not_guessed"] for g in guessed],
              hovertemplate=f"%{{x}}<br>{words['probability']}: %{{y:.4f}}<br>%{{customdata}}<extra></extra>"),
    ]
    scale = {"range": [0, top * 1.25], "tickformat": ".0%"}
    panel_titles = [{"text": words["class"], "x": 0.22, "y": 1.0, "xref": "paper", "yref": "paper",
                     "showarrow": False, "yanchor": "bottom", "font": {"size": 18}},
                    {"text": words["model"], "x": 0.78, "y": 1.0, "xref": "paper", "yref": "paper",
                     "showarrow": False, "yanchor": "bottom", "font": {"size": 18}}]
    return figure(data, words["title"], words["guess"], words["share"], height=460,
                  xaxis={"domain": [0, 0.46], "type": "category"}, yaxis=scale,
                  xaxis2={"domain": [0.56, 1], "type": "category", "anchor": "y2",
                          "title": {"text": words["next_token"]}},
                  yaxis2={**scale, "anchor": "x2", "title": {"text": words["probability"]}},
                  annotations=panel_titles, legend={"orientation": "h", "y": -0.25}, margin={"t": 90, "b": 90})
