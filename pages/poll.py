"""Guess the next token: the instructor opens a poll on a prompt, everyone types the token they expect next, and
the projected view sets the class's guesses beside the model's distribution."""

import pandas as pd
import streamlit as st
import torch

from core.errors import PlaygroundError
from core.inference.generate import prepare_prompt
from playground import identity, keys, loaders, poll_figures, state, ui
from playground.figures import visible_plain
from playground.hall import GUESS_CHARS, PROMPT_CHARS, get_hall
from playground.i18n import error_text, number, percent, t
from playground.poll_results import results_csv, space_before_guesses, tally
from playground.sampling_controls import next_logits

LIVE_S = 1  # the projected results refresh this often while the poll is open
CHECK_S = 2  # a participant's page looks this often for a new or closed poll

st.title(t("nav.poll"))
ui.explain(t("poll.explain"))
with ui.friendly_errors(stop=True):  # a full or read-only runs folder: one sentence, the other pages work on
    hall = get_hall()


def model_distribution(poll):
    """The poll's model's tokenizer and its next-token probabilities after the prompt (as on Logits & sampling)."""
    model = loaders.get_model(poll.model)
    ids, _ = prepare_prompt(model.tokenizer, poll.prompt, model.config.context_length)
    return model.tokenizer, torch.softmax(torch.from_numpy(next_logits(poll.model, tuple(ids))), -1)


def results_view(poll) -> None:
    """The class against the model: a histogram beside the distribution, the hits, each guess's probability."""
    answers = hall.answers(poll.id)
    try:
        tok, probs = model_distribution(poll)
    except PlaygroundError as e:
        st.error(error_text(e), icon=":material/warning:")
        return
    results = tally([a.guess for a in answers], probs.numpy(), tok, poll.space)
    c1, c2 = st.columns(2)
    c1.metric(t("poll.answers"), len(answers))
    c2.metric(t("poll.hits", token=visible_plain(results.top_token)),
              t("poll.hits_value", hits=results.hits, n=results.answers))
    st.markdown(t("poll.top_line", token=f"`{visible_plain(results.top_token)}`", p=percent(results.top_probability)))
    if not answers:
        st.caption(t("poll.no_answers"))
        return
    shown = torch.argsort(probs, descending=True)[:poll_figures.SHOWN_TOKENS].tolist()
    firsts = {row.ids[0] for row in results.rows}
    words = {k: t(f"poll.fig_{k}") for k in ("title", "class", "model", "share", "probability", "first_token",
                                             "guessed", "not_guessed", "answers", "guess", "next_token")}
    rows = results.rows
    ui.chart(st, poll_figures.guesses_figure(
        [r.guess for r in rows], [r.count for r in rows], [r.probability for r in rows], [r.several for r in rows],
        tok.pieces(shown), probs[shown].tolist(), [i in firsts for i in shown], words), key="poll.figure")
    st.dataframe(pd.DataFrame({
        t("poll.col_guess"): [visible_plain(r.guess) for r in rows],
        t("poll.col_answers"): [r.count for r in rows],
        t("poll.col_tokens"): [" | ".join(visible_plain(p) for p in tok.pieces(r.ids)) for r in rows],
        t("poll.col_probability"): [percent(r.probability, 4) + (" *" if r.several else "") for r in rows],
        t("poll.col_rank"): [number(r.rank) for r in rows]}), hide_index=True, width="stretch")
    notes = [t("poll.space_note")] if poll.space else []
    if any(r.several for r in rows):
        notes.append(t("poll.several_note"))
    st.caption(" ".join(notes + [t("poll.dot_note")]))
    st.download_button(t("poll.csv"), results_csv(poll, answers, results), f"poll-{poll.id}.csv", "text/csv",
                       key="poll.csv", icon=":material/download:")


def change_hall(action, *args) -> None:
    """An instructor's button changes the hall; what stops it (an empty prompt, a full disk) is kept as one
    sentence for the page to show under the buttons."""
    st.session_state.pop("poll.error", None)
    try:
        action(*args)
    except PlaygroundError as e:
        st.session_state["poll.error"] = error_text(e)


def open_poll() -> None:
    prompt = st.session_state.get("poll.prompt", "")
    change_hall(hall.open_poll, prompt, state.current_model_key(), space_before_guesses(prompt))


@st.fragment(run_every=LIVE_S)
def live_results(poll_id: int) -> None:
    with ui.friendly_errors():
        poll = hall.poll(poll_id)
        if not poll.open:
            st.rerun()  # closed elsewhere: the whole page shows the final results
        results_view(poll)


def instructor_view() -> None:
    st.subheader(t("poll.ask"))
    st.text_area(t("poll.prompt"), t("poll.example"), key="poll.prompt", max_chars=PROMPT_CHARS, height=90)
    st.button(t("poll.open"), key="poll.open", on_click=open_poll, type="primary", icon=":material/how_to_vote:")
    if st.session_state.get("poll.error"):
        st.error(st.session_state["poll.error"], icon=":material/warning:")
    poll = hall.latest_poll()
    if poll is None:
        st.caption(t("poll.none_yet"))
        return
    st.subheader(t("poll.open_title" if poll.open else "poll.closed_title", id=poll.id))
    st.code(poll.prompt, language=None, wrap_lines=True)
    if poll.open:
        st.button(t("poll.close"), key="poll.close", on_click=change_hall, args=(hall.close_poll, poll.id),
                  icon=":material/stop_circle:")
        live_results(poll.id)
    else:
        results_view(poll)


@st.fragment
def answer_box(poll_id: int) -> None:
    """One box and one button, stacked, so a phone shows both; answering again replaces the guess."""
    user = identity.current_user()
    with st.form("poll.answer", clear_on_submit=True, border=False):
        guess = st.text_input(t("poll.guess"), key=keys.POLL_GUESS, max_chars=GUESS_CHARS,
                              placeholder=t("poll.guess_placeholder"))
        sent = st.form_submit_button(t("poll.send"), type="primary", icon=":material/send:")
    if sent:
        try:
            hall.answer(poll_id, user, guess)
        except PlaygroundError as e:
            st.error(error_text(e), icon=":material/warning:")
    with ui.friendly_errors(stop=True):
        mine = hall.my_answer(poll_id, user)
    if mine is not None:
        st.success(t("poll.your_guess", guess=f"`{visible_plain(mine)}`"), icon=":material/check:")


@st.fragment(run_every=CHECK_S)
def watch(shown: tuple) -> None:
    """Reruns the page when the instructor opens or closes a poll."""
    with ui.friendly_errors(stop=True):
        poll = hall.latest_poll()
    if (poll and (poll.id, poll.open)) != shown:
        st.rerun()


def participant_view() -> None:
    poll = hall.latest_poll()
    watch(poll and (poll.id, poll.open))
    if poll is None:
        st.info(t("poll.wait"), icon=":material/hourglass_empty:")
        return
    st.subheader(t("poll.question"))
    st.code(poll.prompt, language=None, wrap_lines=True)
    if poll.open:
        answer_box(poll.id)
    else:
        st.info(t("poll.closed"), icon=":material/lock:")
        results_view(poll)


with ui.friendly_errors():
    if identity.is_instructor():
        instructor_view()
    else:
        participant_view()
identity.identity_box()
