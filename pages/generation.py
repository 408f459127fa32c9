"""Generation: token by token, seeing and choosing each step; a full run with streaming; strategies compared."""

import random
import time
from dataclasses import replace

import streamlit as st
import torch

from core.inference.generate import stream_text
from core.inference.sampling import SamplingSettings, next_token_distribution, sample
from playground import code_view, figures, share, snippets, state, ui
from playground.i18n import number, percent, t
from playground.navigation import VIEWS
from playground.sampling_controls import classroom_filter, next_logits, prompt_input, sampling_controls
from playground.stepper import StepTree
from playground.tokens_view import ProbabilityChips, probability_chips_html

CANDIDATES = 8
ALTERNATIVES = 5  # shown when hovering a generated token
DRAW_EVERY_S = 0.1  # streaming: redraw the text at most ten times a second (every token cost 60 % of the speed)
STRATEGIES = {  # id: settings; shown as t("generation.strategy_<id>")
    "greedy": SamplingSettings(temperature=0.0),
    "temp_top_k": SamplingSettings(temperature=0.7, top_k=40),
    "top_p": SamplingSettings(temperature=1.0, top_p=0.9),
    "hot": SamplingSettings(temperature=1.5),
}
PATH_LIMIT = 256  # tokens stepped that a link may carry


def named(tokenizer, likeliest):
    """(id, probability) pairs as (token text, probability), for the hover of a generated token; impossible
    tokens (probability 0, e.g. hidden by the classroom filter) are left out."""
    return None if likeliest is None else [(tokenizer.token_text(i), p) for i, p in likeliest if p > 0]


PAGE = "generation"
st.title(t("nav.generation"))
side, stage = ui.stage()
ui.explain(t("generation.explain1"), side)
model = ui.current_model()
tok = model.tokenizer
SHARE = share.params(*share.sampling_params(PAGE, tok.n_vocab), share.Param("generation.seed", int, 0, 2**31 - 1),
                     share.Param("generation.view", choices=tuple(VIEWS[PAGE])),
                     share.Param("generation.path"), share.Param("generation.max_new", int, 1, 500),
                     share.Param("generation.stops"), share.Param("generation.compare_n", int, 10, 200))
share.restore(PAGE, SHARE)

with side:
    prompt, prompt_ids = prompt_input("generation", model)
    with ui.friendly_errors(stop=True):
        settings = sampling_controls("generation", tok, temperature=0.8, top_k=40)
    seed = st.number_input(t("sampling.seed"), 0, 2**31 - 1, None, key="generation.seed",
                           placeholder=t("generation.seed_random"), help=t("generation.seed_help"))


def stepped_path(raw: str) -> list[int]:
    """The token ids a link says were stepped (comma-separated, in the vocabulary, at most PATH_LIMIT)."""
    parts = [p for p in raw.split(",") if p.strip()]
    if len(parts) > PATH_LIMIT or not all(p.strip().isdigit() and int(p) < tok.n_vocab for p in parts):
        st.warning(t("generation.path_unusable"))
        return []
    return [int(p) for p in parts]


def likeliest_of(probs) -> list[tuple[int, float]]:
    """A step's ALTERNATIVES most likely tokens (id, probability), best first, for the hover of its token."""
    return [(i, float(probs[i])) for i in torch.argsort(probs, descending=True)[:ALTERNATIVES].tolist() if probs[i] > 0]


@st.fragment
def generated_text(prompt: str, prompt_ids: list[int], settings, seed, max_new: int, stops: list[str]) -> None:
    """The Generate button and its text. A click reruns only this part (the controls above are not built again
    before the first token), and the text streams in, each token coloured by its probability."""
    clicked = st.button(t("generation.generate"), key="generation.run", type="primary")
    box = st.empty()
    chips = None
    if clicked:
        started, chunk, drawn = time.perf_counter(), None, 0.0
        pieces, probs_seen, others, chips = [], [], [], ProbabilityChips()
        with ui.friendly_errors():
            for chunk in stream_text(model, prompt_ids, max_new, settings, seed, stops, alternatives=ALTERNATIVES):
                pieces.append(tok.token_text(chunk.token))
                probs_seen.append(chunk.prob)
                others.append(named(tok, chunk.alternatives))
                chips.add(pieces[-1], chunk.prob, others[-1])
                if time.perf_counter() - drawn >= DRAW_EVERY_S:
                    box.html(chips.html())
                    drawn = time.perf_counter()
        elapsed = time.perf_counter() - started
        if chunk is None:
            chips = None  # nothing new: the last result stays
        else:
            st.session_state["generation.run_result"] = (prompt + chunk.text, len(pieces), elapsed, chunk.stopped,
                                                         (pieces, probs_seen, others))
    if "generation.run_result" in st.session_state:
        text, n, elapsed, stopped, drawn_chips = st.session_state["generation.run_result"]
        # Hover a token: what else the model would have written. Built again only on later runs (another language).
        box.html(chips.html() if chips is not None else probability_chips_html(*drawn_chips))
        st.code(text, language=None, wrap_lines=True)
        st.caption(t("generation.speed", n=number(n), s=number(elapsed, 2), rate=number(n / max(elapsed, 1e-9)))
                   + (t("generation.stopped", stop=repr(stopped)) if stopped else ""))


key = (state.current_model_key(), tuple(prompt_ids))
if st.session_state.get("generation.tree_key") != key:
    linked = st.session_state.get("generation.path", "") if "generation.tree" not in st.session_state else ""
    st.session_state["generation.tree_key"] = key
    tree = st.session_state["generation.tree"] = StepTree(tuple(prompt_ids))
    for token in stepped_path(linked):  # the steps of a link or snapshot, taken again in order
        context = tree.ids[-model.config.context_length:]
        with ui.friendly_errors(stop=True):
            probs = next_token_distribution(torch.from_numpy(next_logits(state.current_model_key(), tuple(context))),
                                            settings, context)
        tree.choose(token, float(probs[token]), likeliest_of(probs))
tree: StepTree = st.session_state["generation.tree"]
st.session_state["generation.path"] = ",".join(map(str, tree.path))
st.session_state.setdefault("generation.draw", random.getrandbits(62))  # this step's die, without a seed

with side:
    view = ui.view(PAGE)

with stage:
    if view == "step":
        ids = tree.ids[-model.config.context_length:]
        logits = torch.from_numpy(next_logits(state.current_model_key(), tuple(ids)))
        with ui.friendly_errors(stop=True):
            probs = next_token_distribution(logits, settings, ids)
        # A seed makes every step repeatable (undo and take again: the same token); without one each step rolls anew.
        draw = int(seed) * 7919 + len(tree.path) if seed is not None else st.session_state["generation.draw"]
        sampled = sample(probs, torch.Generator().manual_seed(draw))
        greedy = int(probs.argmax())
        order = [i for i in torch.argsort(probs, descending=True)[:CANDIDATES].tolist() if probs[i] > 0]
        likeliest = likeliest_of(probs)
        if sampled not in order:
            order[-1] = sampled

        st.markdown(t("generation.so_far", n=len(tree.path)))
        pieces = tok.pieces(tree.ids)
        st.html(probability_chips_html(pieces, [None] * len(tree.prompt) + tree.probs,
                                       [None] * len(tree.prompt) + [named(tok, top) for top in tree.alternatives()]))

        def choose(token: int, prob: float):
            st.session_state["generation.tree"].choose(token, prob, likeliest)
            st.session_state["generation.draw"] = random.getrandbits(62)

        def undo():
            st.session_state["generation.tree"].undo()
            st.session_state["generation.draw"] = random.getrandbits(62)

        b1, b2, b3 = st.columns(3)
        b1.button(t("generation.take_sample", token=repr(tok.token_text(sampled)), p=percent(float(probs[sampled]))),
                  key="generation.take_sample",
                  on_click=choose, args=(sampled, float(probs[sampled])), type="primary", width="stretch",
                  shortcut="Right", help=t("app.key", key="→"))
        b2.button(t("generation.take_greedy", token=repr(tok.token_text(greedy)), p=percent(float(probs[greedy]))),
                  key="generation.take_greedy",
                  on_click=choose, args=(greedy, float(probs[greedy])), width="stretch", shortcut="G",
                  help=t("app.key", key="G"))
        b3.button(t("generation.undo"), key="generation.undo", on_click=undo, disabled=not tree.path, width="stretch",
                  shortcut="Left", help=t("app.key", key="←"))
        ui.chart(st, figures.distribution_bars(tok.pieces(order), probs[order].tolist(), logits[order].tolist(),
                                               t("generation.step_title", n=len(tree.path) + 1), marked=order.index(sampled),
                                               marked_name=t("generation.sampled"),
                                               height=360 if state.presenter() else 420),  # the text above grows
                 key="generation.step_chart")
        code_view.show_code(st, snippets.step(state.current_model_key(), ids, settings, draw, CANDIDATES))
        st.markdown(t("generation.force"))
        cols = st.columns(4)
        for i, token in enumerate(order):
            cols[i % 4].button(f"{tok.token_text(token)!r} · {percent(float(probs[token]))}", key=f"generation.force.{i}",
                               on_click=choose, args=(token, float(probs[token])), width="stretch")
        branches = tree.branches()
        if len(branches) > 1:
            st.markdown(t("generation.branches"))
            for i, branch in enumerate(branches[:12]):
                c1, c2 = st.columns([5, 1])
                c1.code(tok.decode(branch), language=None, wrap_lines=True)
                c2.button(t("generation.go"), key=f"generation.branch.{i}",
                          on_click=lambda b=branch: st.session_state["generation.tree"].goto(b),
                          disabled=branch == tree.path)

    elif view == "run":
        ui.explain(t("generation.explain2"), side)
        r1, r2 = ui.controls_row(side, 2)
        max_new = r1.slider(t("generation.max_new"), 1, 500, 120, key="generation.max_new")
        # No stop by default: a blank line ends a Shakespeare speech after a few tokens; the placeholder shows the form.
        stops_raw = r2.text_input(t("generation.stops"), "", key="generation.stops", placeholder="\\n\\n")
        stops = [s.replace("\\n", "\n") for s in stops_raw.split(",") if s]
        generated_text(prompt, prompt_ids, settings, seed, max_new, stops)
        code_view.show_code(st, snippets.generation(state.current_model_key(), prompt, settings, seed, max_new, stops))

    else:  # compare strategies
        ui.explain(t("generation.explain3"), side)
        n_compare = side.slider(t("generation.new_tokens"), 10, 200, 60, key="generation.compare_n")
        strategies = {name: replace(strategy, classroom=classroom_filter(tok)) for name, strategy in STRATEGIES.items()}
        if st.button(t("generation.compare"), key="generation.compare", type="primary"):
            results = {}
            progress = st.progress(0.0, text=t("generation.generating"))
            for i, (name, strategy) in enumerate(strategies.items()):
                chunks = list(stream_text(model, prompt_ids, n_compare, strategy, seed))
                results[name] = chunks[-1].text if chunks else ""
                progress.progress((i + 1) / len(STRATEGIES),
                                  text=t("generation.generated_with", name=t(f"generation.strategy_{name}")))
            progress.empty()
            st.session_state["generation.compare_result"] = results
        results = st.session_state.get("generation.compare_result")
        if results:
            cols = st.columns(len(results))
            for col, (name, text) in zip(cols, results.items()):
                col.markdown(f"**{t(f'generation.strategy_{name}')}**")
                col.code(prompt + text, language=None, wrap_lines=True)
        code_view.show_code(st, snippets.compare(state.current_model_key(), prompt, strategies, seed, n_compare))

share.publish(SHARE, page=PAGE, outputs={"text": tok.decode(tree.ids), "chosen_ids": tree.path,
                                          "probabilities": tree.probs})
