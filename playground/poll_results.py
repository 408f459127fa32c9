"""A "guess the next token" poll's results: the class's guesses read with the model's tokenizer and set against the
model's next-token distribution; and the answers as CSV. Plain data in, plain data out (no Streamlit).

A guess is read as the model would see it continue the prompt: surrounding blanks dropped and, when the poll says
so (the prompt ends inside a line), one leading space added, since " love" and "love" are different tokens. A guess
of several tokens is compared by its first token; the results say so for each such guess.

In the CSV a text cell that starts with = + - @ gets a leading ' so a spreadsheet shows it instead of running it.

Left out: spelling variants (case, accents) are different guesses, as they are different tokens.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GuessRow:
    guess: str  # as read (with the leading space the poll adds)
    count: int
    ids: tuple[int, ...]  # the guess's tokens
    token: str  # its first token's text
    probability: float  # the model's probability of that first token
    rank: int  # 1 = the model's most likely next token

    @property
    def several(self) -> bool:
        return len(self.ids) > 1


@dataclass(frozen=True)
class Results:
    rows: list[GuessRow]  # most guessed first
    answers: int
    top_id: int
    top_token: str
    top_probability: float
    hits: int  # answers that are exactly the model's top token (one token)


def read_guess(guess: str, space: bool) -> str:
    text = guess.strip()
    return " " + text if space and text else text


def space_before_guesses(prompt: str) -> bool:
    """Whether guesses need a leading space: the prompt ends inside a line (not after a blank or a new line)."""
    return bool(prompt) and not prompt[-1].isspace()


def rank_of(probs: np.ndarray, token_id: int) -> int:
    return int((probs > probs[token_id]).sum()) + 1


def tally(guesses: list[str], probs, tokenizer, space: bool) -> Results:
    """The class's guesses (as typed) against the model's next-token probabilities `probs` (one per token id)."""
    probs = np.asarray(probs, dtype=np.float64)
    top = int(np.argmax(probs))
    counts = Counter(read_guess(g, space) for g in guesses)
    rows = []
    for text, count in counts.most_common():
        ids = tuple(tokenizer.encode(text))
        first = ids[0]
        rows.append(GuessRow(text, count, ids, tokenizer.token_text(first), float(probs[first]), rank_of(probs, first)))
    hits = sum(row.count for row in rows if row.ids == (top,))
    return Results(rows, len(guesses), top, tokenizer.token_text(top), float(probs[top]), hits)


CSV_COLUMNS = ["poll", "prompt", "model", "answered_at", "guess", "read_as", "tokens", "first_token", "first_token_id",
               "model_probability", "model_rank", "model_top_token", "is_model_top_token"]


def results_csv(poll, answers, results: Results) -> bytes:
    """One row per answer (no participant keys: the class's record stays anonymous)."""
    by_text = {row.guess: row for row in results.rows}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for answer in answers:
        row = by_text[read_guess(answer.guess, poll.space)]
        writer.writerow([poll.id, _cell(poll.prompt), poll.model,
                         time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(answer.answered)), _cell(answer.guess),
                         _cell(row.guess), len(row.ids), _cell(row.token), row.ids[0], f"{row.probability:.6g}",
                         row.rank, _cell(results.top_token), int(row.ids == (results.top_id,))])
    return out.getvalue().encode("utf-8")


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
