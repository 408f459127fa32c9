"""Generation: token by token, seeing and choosing each step; a full run with streaming; strategies compared."""

import time

import streamlit as st
import torch

from core.inference.generate import stream_text
from core.inference.sampling import SamplingSettings, next_token_distribution, sample
from playground import figures, share, state, ui
from playground.i18n import t
from playground.navigation import VIEWS
from playground.sampling_controls import next_logits, prompt_input, sampling_controls
from playground.stepper import StepTree
from playground.tokens_view import probability_chips_html

CANDIDATES = 8
ALTERNATIVES = 5  # shown when hovering a generated token
DRAW_EVERY_S = 0.05  # streaming: redraw the text at most this often (every token cost 60 % of the speed)
STRATEGIES = {
    "greedy": SamplingSettings(temperature=0.0),
    "temperature 0.7 + top-k 40": SamplingSettings(temperature=0.7, top_k=40),
    "top-p 0.9": SamplingSettings(temperature=1.0, top_p=0.9),
    "temperature 1.5": SamplingSettings(temperature=1.5),
}

def named(tokenizer, likeliest):
    """(id, probability) pairs as (token text, probability), for the hover of a generated token."""
    return None if likeliest is None else [(tokenizer.token_text(i), p) for i, p in likeliest]


PAGE = "generation"
SHARE = {**share.sampling_params("generation"), "view": share.Param("generation.view", choices=tuple(VIEWS[PAGE]))}

st.title(t("nav.generation"))
side, stage = ui.stage()
ui.explain(t("generation.explain1"), side)
share.restore(PAGE, SHARE)

model = ui.current_model()
tok = model.tokenizer
with side:
    prompt, prompt_ids = prompt_input("generation", model, "ex.generation")
    with ui.friendly_errors(stop=True):
        settings = sampling_controls("generation", tok, temperature=0.8, top_k=40)
    seed = int(st.number_input(t("sampling.seed"), 0, 2**31 - 1, 7, key="generation.seed"))

key = (state.current_model_key(), tuple(prompt_ids))
if st.session_state.get("generation.tree_key") != key:
    st.session_state["generation.tree_key"] = key
    st.session_state["generation.tree"] = StepTree(tuple(prompt_ids))
tree: StepTree = st.session_state["generation.tree"]

with side:
    view = ui.view(PAGE)

with stage:
    if view == "step":
        ids = tree.ids[-model.config.context_length:]
        logits = torch.from_numpy(next_logits(state.current_model_key(), tuple(ids)))
        with ui.friendly_errors(stop=True):
            probs = next_token_distribution(logits, settings, ids)
        sampled = sample(probs, torch.Generator().manual_seed(seed * 7919 + len(tree.path)))
        greedy = int(probs.argmax())
        order = torch.argsort(probs, descending=True)[:CANDIDATES].tolist()
        likeliest = [(i, float(probs[i])) for i in order[:ALTERNATIVES]]
        if sampled not in order:
            order[-1] = sampled

        st.markdown(t("generation.so_far", n=len(tree.path)))
        pieces = tok.pieces(tree.ids)
        st.html(probability_chips_html(pieces, [None] * len(tree.prompt) + tree.probs,
                                       [None] * len(tree.prompt) + [named(tok, top) for top in tree.alternatives()]))

        def choose(token: int, prob: float):
            st.session_state["generation.tree"].choose(token, prob, likeliest)

        def undo():
            st.session_state["generation.tree"].undo()

        b1, b2, b3 = st.columns(3)
        b1.button(t("generation.take_sample", token=repr(tok.token_text(sampled)), p=f"{float(probs[sampled]):.1%}"),
                  key="generation.take_sample",
                  on_click=choose, args=(sampled, float(probs[sampled])), type="primary", width="stretch",
                  shortcut="Right", help=t("app.key", key="→"))
        b2.button(t("generation.take_greedy", token=repr(tok.token_text(greedy)), p=f"{float(probs[greedy]):.1%}"),
                  key="generation.take_greedy",
                  on_click=choose, args=(greedy, float(probs[greedy])), width="stretch", shortcut="G",
                  help=t("app.key", key="G"))
        b3.button(t("generation.undo"), key="generation.undo", on_click=undo, disabled=not tree.path, width="stretch",
                  shortcut="Left", help=t("app.key", key="←"))
        ui.chart(st, figures.distribution_bars(tok.pieces(order), probs[order].tolist(), logits[order].tolist(),
                                                  t("generation.step_title", n=len(tree.path) + 1), marked=order.index(sampled),
                                                  marked_name=t("generation.sampled")), key="generation.step_chart")
        st.markdown(t("generation.force"))
        cols = st.columns(4)
        for i, token in enumerate(order):
            cols[i % 4].button(f"{tok.token_text(token)!r} · {float(probs[token]):.1%}", key=f"generation.force.{i}",
                               on_click=choose, args=(token, float(probs[token])), width="stretch",
                               disabled=float(probs[token]) == 0)
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
        clicked = st.button(t("generation.generate"), key="generation.run", type="primary")
        box = st.empty()
        if clicked:
            started, chunk, drawn = time.perf_counter(), None, 0.0
            pieces, probs_seen, others = [], [], []
            with ui.friendly_errors():
                for chunk in stream_text(model, prompt_ids, max_new, settings, seed, stops, alternatives=ALTERNATIVES):
                    pieces.append(tok.token_text(chunk.token))
                    probs_seen.append(chunk.prob)
                    others.append(named(tok, chunk.alternatives))
                    if time.perf_counter() - drawn >= DRAW_EVERY_S:
                        box.html(probability_chips_html(pieces, probs_seen, others))
                        drawn = time.perf_counter()
                box.html(probability_chips_html(pieces, probs_seen, others))
            elapsed = time.perf_counter() - started
            if chunk is not None:
                st.session_state["generation.run_result"] = (prompt + chunk.text, len(pieces), elapsed, chunk.stopped,
                                                             (pieces, probs_seen, others))
        if "generation.run_result" in st.session_state:
            text, n, elapsed, stopped, chips = st.session_state["generation.run_result"]
            box.html(probability_chips_html(*chips))  # hover a token: what else the model would have written
            st.code(text, language=None, wrap_lines=True)
            st.caption(t("generation.speed", n=n, s=f"{elapsed:.2f}", rate=f"{n / max(elapsed, 1e-9):.0f}")
                       + (t("generation.stopped", stop=repr(stopped)) if stopped else ""))

    else:  # compare strategies
        ui.explain(t("generation.explain3"), side)
        n_compare = side.slider(t("generation.new_tokens"), 10, 200, 60, key="generation.compare_n")
        if st.button(t("generation.compare"), key="generation.compare", type="primary"):
            results = {}
            progress = st.progress(0.0, text=t("generation.generating"))
            for i, (name, strategy) in enumerate(STRATEGIES.items()):
                chunks = list(stream_text(model, prompt_ids, n_compare, strategy, seed))
                results[name] = chunks[-1].text if chunks else ""
                progress.progress((i + 1) / len(STRATEGIES), text=t("generation.generated_with", name=name))
            progress.empty()
            st.session_state["generation.compare_result"] = results
        results = st.session_state.get("generation.compare_result")
        if results:
            cols = st.columns(len(results))
            for col, (name, text) in zip(cols, results.items()):
                col.markdown(f"**{name}**")
                col.code(prompt + text, language=None, wrap_lines=True)

share.publish(SHARE, page=PAGE, outputs={"text": tok.decode(tree.ids), "chosen_ids": tree.path,
                                          "probabilities": tree.probs})
