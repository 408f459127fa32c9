"""Tokens as coloured chips (HTML). All token text is escaped; whitespace is made visible.

Neighbouring chips never share a colour (the palette cycles); the tints are light versions of the
Okabe–Ito colours so dark text stays readable on a projector.
"""

from __future__ import annotations

import html

from core.tokens.stats import utf8_groups
from playground.i18n import percent, template

CHIP_TINTS = ["#CDE3F3", "#FBE2B8", "#C8EBDD", "#F2D3E5", "#D9EEFB", "#F7D2BF"]
VISIBLE_WS = {" ": "·", "\t": "→", "\r": "␍"}


def visible(text: str) -> str:
    """Escape for HTML, then mark spaces (·), tabs (→) and newlines (↵ plus a real line break)."""
    out = html.escape(text)
    for ch, mark in VISIBLE_WS.items():
        out = out.replace(ch, f"<span class='pg-ws'>{mark}</span>")
    return out.replace("\n", "<span class='pg-ws'>↵</span><br>")


def chip(text: str, index: int, tooltip: str, kind: str = "", count: int = 0) -> str:
    """One token chip; kind: an extra class (pg-joined, pg-special); count: tokens drawn as this one chip."""
    colour = CHIP_TINTS[index % len(CHIP_TINTS)]
    badge = f"<sub class='pg-count'>{count}</sub>" if count > 1 else ""
    classes = f"pg-chip {kind}" if kind else "pg-chip"
    return (f"<span class='{classes}' style='background:{colour}' title='{html.escape(tooltip, quote=True)}'>"
            f"{visible(text)}{badge}</span>")


def chips_html(pieces: list[str], ids: list[int], byte_strings: list[bytes] | None = None, limit: int = 2000,
               special: list[bool] | None = None) -> str:
    """At most `limit` chips; the caller says how many are hidden. With byte_strings, tokens that are only
    parts of one UTF-8 character (an emoji cut into byte-level tokens) are drawn as one dashed chip with the
    character, the number of tokens beside it and each token's id and bytes in its tooltip. special: tokens
    drawn as special tokens (a dark chip)."""
    parts = []
    chip_tip, bytes_tip, joined_tip = template("tv.chip"), template("tv.bytes"), template("tv.joined")
    pieces, ids = pieces[:limit], ids[:limit]
    groups = utf8_groups(byte_strings[: len(ids)]) if byte_strings is not None else [(i, i + 1) for i in range(len(ids))]
    for n, (a, b) in enumerate(groups):  # looked up once above: up to 2,000 chips per rerun
        if b - a > 1:
            tip = joined_tip.format(first=a, last=b - 1, n=b - a, ids=", ".join(str(i) for i in ids[a:b]),
                                    hex=" | ".join(byte_strings[i].hex(" ") for i in range(a, b)))
            text = b"".join(byte_strings[a:b]).decode("utf-8", errors="replace")
            parts.append(chip(text, n, tip, "pg-joined", b - a))
            continue
        tip = chip_tip.format(i=a, id=ids[a], text=repr(pieces[a]))
        if byte_strings is not None:
            tip += bytes_tip.format(hex=byte_strings[a].hex(" "))
        parts.append(chip(pieces[a], n, tip, "pg-special" if special is not None and special[a] else ""))
    return "<div class='pg-chips'>" + "".join(parts) + "</div>"


def window_rows_html(rows: list[tuple[str, list[str]]]) -> str:
    """Aligned rows of chips (e.g. input above target), one table row per label."""
    body = []
    position = template("tv.window_position")
    for label, pieces in rows:
        cells = "".join("<td>" + chip(p, i, position.format(label=label, i=i)) + "</td>"
                        for i, p in enumerate(pieces))
        body.append(f"<tr><th style='text-align:right;padding-right:8px'>{html.escape(label)}</th>{cells}</tr>")
    return "<table class='pg-windows'>" + "".join(body) + "</table>"


class ProbabilityChips:
    """Tokens as chips coloured by the probability they had when chosen (darker blue = more likely), built one
    token at a time: a streamed text adds its newest token without formatting the earlier ones again."""

    def __init__(self):
        self.spans: list[str] = []
        self.words = template("tv.prompt"), template("tv.probability"), template("tv.alternatives")

    def add(self, piece: str, p: float | None, others: list[tuple[str, float]] | None = None) -> None:
        """p None = a prompt token. others: the step's likeliest tokens and their probabilities, shown on hover
        (what else the model would have written there)."""
        prompt, probability, likeliest = self.words
        if p is None:
            style, tip = "background:#eeeeee", prompt
        else:
            style, tip = f"background:rgba(0,114,178,{0.08 + 0.62 * p:.2f})", probability.format(p=percent(p))
            if others:
                tip += "\n" + likeliest.format(list="\n".join(f"{text!r} {percent(q)}" for text, q in others))
        self.spans.append(f"<span class='pg-chip' style='{style}' title='{html.escape(tip, quote=True)}'>"
                          f"{visible(piece)}</span>")

    def html(self) -> str:
        return "<div class='pg-chips'>" + "".join(self.spans) + "</div>"


def probability_chips_html(pieces: list[str], probs: list[float | None],
                           alternatives: list[list[tuple[str, float]] | None] | None = None) -> str:
    """The chips of a whole text at once; alternatives[i] (or None) as in ProbabilityChips.add."""
    chips = ProbabilityChips()
    for i, (piece, p) in enumerate(zip(pieces, probs)):
        chips.add(piece, p, alternatives[i] if alternatives and i < len(alternatives) else None)
    return chips.html()


def masked_example_html(pieces: list[str], targets: list[int], pad_from: int) -> str:
    """One training example: grey chips are prompt positions whose target is masked (no loss), blue chips
    are trained response positions, dashed chips are padding."""
    parts = []
    padding, masked, response = template("tv.padding"), template("tv.prompt_masked"), template("tv.response")
    for i, piece in enumerate(pieces):
        if i >= pad_from:
            style, tip = "background:#fff;border:1px dashed #999;color:#999", padding
        elif targets[i] == -100:
            style, tip = "background:#e6e6e6;color:#555", masked
        else:
            style, tip = "background:rgba(0,114,178,0.35)", response.format(id=targets[i])
        parts.append(f"<span class='pg-chip' style='{style}' title='{html.escape(tip, quote=True)}'>"
                     f"{visible(piece)}</span>")
    return "<div class='pg-chips'>" + "".join(parts) + "</div>"
