"""A poll's results against a hand computation: guesses read with GPT-2's tokenizer (ids written out below), the
model's probability and rank of each guess's first token, the hits, the CSV; and the figure."""

import csv
import io
import json

import numpy as np
import plotly.io as pio
import streamlit as st

from core.tokens.encodings import load_tokenizer
from playground import keys
from playground.hall import Answer, Poll
from playground.poll_figures import guesses_figure
from playground.poll_results import read_guess, results_csv, space_before_guesses, tally
from tests.support.app import english_left

LOVE, LIFE, HEART, LOVE_NO_SPACE = 1842, 1204, 2612, 23205  # GPT-2's ids of " love", " life", " heart", "love"


def distribution() -> np.ndarray:
    probs = np.full(50257, 0.3 / (50257 - 3))
    probs[[LOVE, LIFE, HEART]] = [0.4, 0.2, 0.1]
    return probs


def test_guesses_are_read_with_the_space_the_prompt_needs():
    assert space_before_guesses("ROMEO:\nI love thee, my") and not space_before_guesses("ROMEO:\n")
    assert not space_before_guesses("to be ") and not space_before_guesses("")
    assert read_guess("  love ", True) == " love" and read_guess("love", False) == "love"


def test_tally_by_hand():
    tok = load_tokenizer("gpt2")
    assert tok.encode(" love") == [LOVE] and tok.encode("love") == [LOVE_NO_SPACE]
    guesses = ["love", " love ", "life", "Lovelace", "love", "heart"]
    results = tally(guesses, distribution(), tok, space=True)
    assert (results.answers, results.top_id, results.top_token, results.top_probability) == (6, LOVE, " love", 0.4)
    assert results.hits == 3  # three answers are exactly " love"
    rows = {r.guess: r for r in results.rows}
    assert [r.guess for r in results.rows][0] == " love" and rows[" love"].count == 3
    assert (rows[" life"].probability, rows[" life"].rank) == (0.2, 2)
    assert (rows[" heart"].probability, rows[" heart"].rank) == (0.1, 3)
    lovelace = rows[" Lovelace"]
    assert lovelace.several and tok.decode(lovelace.ids) == " Lovelace"
    assert lovelace.token == tok.token_text(lovelace.ids[0]) and lovelace.probability == 0.3 / (50257 - 3)
    assert lovelace.rank == 4  # every other token shares the rest equally: only the three above are likelier


def test_without_a_space_love_is_another_token():
    results = tally(["love"], distribution(), load_tokenizer("gpt2"), space=False)
    assert results.rows[0].ids == (LOVE_NO_SPACE,) and results.hits == 0 and results.rows[0].rank == 4


def test_csv_has_one_row_per_answer_and_no_participant_keys():
    tok = load_tokenizer("gpt2")
    poll = Poll(3, "ROMEO:\nI love thee, my", "shakespeare", True, 0.0, None)
    answers = [Answer("secret-key-1", "love", 1.0), Answer("secret-key-2", "=HYPERLINK(1)", 2.0),
               Answer("secret-key-3", "Love", 3.0)]
    results = tally([a.guess for a in answers], distribution(), tok, poll.space)
    data = results_csv(poll, answers, results).decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == 3 and "secret-key" not in data
    assert rows[0]["read_as"] == " love" and rows[0]["is_model_top_token"] == "1" and rows[0]["model_rank"] == "1"
    assert float(rows[0]["model_probability"]) == 0.4 and rows[0]["first_token_id"] == str(LOVE)
    assert rows[1]["guess"] == "'=HYPERLINK(1)"  # a spreadsheet shows it instead of running it
    assert rows[2]["is_model_top_token"] == "0" and rows[2]["poll"] == "3"


def figure_words(lang: str) -> dict:
    from playground.i18n import strings
    return {k.split("fig_")[1]: v for k, v in strings(lang).items() if k.startswith("poll.fig_")}


def test_figure_shows_the_class_beside_the_model():
    fig = guesses_figure([" love", " Lovelace"], [3, 1], [0.4, 0.0001], [False, True], [" love", " life"], [0.4, 0.2],
                         [True, False], figure_words("en"))
    spec = json.loads(pio.to_json(fig, validate=False))
    class_bars, marks, model_bars = spec["data"]
    assert class_bars["x"] == ["·love", "·Lovelace *"] and class_bars["y"] == [0.75, 0.25]
    assert marks["y"] == [0.4, 0.0001] and model_bars["y"] == [0.4, 0.2]
    assert model_bars["xaxis"] == "x2" and spec["layout"]["xaxis2"]["domain"][0] > spec["layout"]["xaxis"]["domain"][1]
    assert spec["layout"]["title"]["text"] and spec["layout"]["yaxis"]["title"]["text"]
    assert all(t["hovertemplate"] for t in spec["data"])


def test_figure_in_german():
    st.session_state[keys.LANG] = "de"
    try:
        fig = guesses_figure([" love"], [2], [0.4], [False], [" love"], [0.4], [True], figure_words("de"))
    finally:
        del st.session_state[keys.LANG]
    spec = json.loads(pio.to_json(fig, validate=False))
    assert spec["layout"]["title"]["text"].startswith("Die Vermutungen") and not english_left(spec)
