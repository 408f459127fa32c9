"""Logits & sampling: from the model's scores for every token to one chosen token, stage by stage."""

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.errors import PlaygroundError
from core.inference.sampling import (
    STAGES,
    distribution_from_stages,
    entropy_bits,
    parse_logits,
    pipeline_stages,
    sample,
    softmax,
    stage_summary,
)
from playground import code_view, figures, share, snippets, state, ui
from playground.i18n import list_separator, number, percent, t
from playground.sampling_controls import next_logits, prompt_input, sampling_controls, shown_pieces

LECTURE_LOGITS = (3.23, -7.1, 5.57, 0.39, 2.4)  # the lecture's example, written in the session's locale below
LECTURE_TEMPERATURES = [0.01, 0.5, 1, 2, 5]
DRAWS = (10, 100, 1000, 10000)

PAGE = "sampling"
st.title(t("nav.sampling"))
model = ui.current_model()
tok = model.tokenizer
SHARE = share.params(*share.sampling_params(PAGE, tok.n_vocab), share.Param("sampling.lecture_logits"),
                     share.Param("sampling.top_n", int, 5, 40), share.Param("sampling.ask"),
                     share.Param("sampling.draws", int, choices=DRAWS), share.Param("sampling.seed", int, 0, 2**31 - 1))
share.restore(PAGE, SHARE)


# --- the lecture's example ------------------------------------------------------------------------------
side, stage = ui.stage()  # presenter mode: the lecture's example beside its figure, on the first screen
ui.explain(t("sampling.explain1"), side)
side.subheader(t("sampling.by_hand"))
side.latex(r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}")
raw = side.text_input(t("sampling.small_vector"), list_separator().join(number(v, None) for v in LECTURE_LOGITS),
                      key="sampling.lecture_logits")
with stage, ui.friendly_errors():
    z = parse_logits(raw)
    table = [softmax(z, temp).tolist() for temp in LECTURE_TEMPERATURES]
    labels = [t("sampling.token_n", n=i + 1, logit=number(v, None)) for i, v in enumerate(z.tolist())]
    frame = pd.DataFrame(table, columns=labels, index=[f"T = {number(temp, None)}" for temp in LECTURE_TEMPERATURES])
    # the figure first: in presenter mode it is on the first screen, the exact numbers under it
    ui.chart(st, figures.temperature_bars(labels, LECTURE_TEMPERATURES, table), key="sampling.lecture_chart")
    ui.table(st, frame.map(lambda p: number(p, None, 3)), header_ids=False, index=True)
    side.caption(t("sampling.temperature_caption"))
    code_view.show_code(st, snippets.temperature_table(raw, LECTURE_TEMPERATURES))

# --- the model's distribution -----------------------------------------------------------------------------
st.subheader(t("sampling.model_distribution"))
prompt, ids = prompt_input("sampling", model)
logits = torch.from_numpy(next_logits(state.current_model_key(), tuple(ids)))
probs_raw = torch.softmax(logits, -1)

top_n = st.slider(t("sampling.tokens_shown"), 5, 40, 15, key="sampling.top_n")
order = torch.argsort(probs_raw, descending=True)[:top_n].tolist()
m1, m2, m3 = st.columns(3)
m1.metric(t("sampling.vocabulary"), t("sampling.n_tokens", n=number(len(logits))))
m2.metric(t("sampling.entropy"), t("sampling.bits", bits=number(entropy_bits(probs_raw), 2)),
          help=t("sampling.entropy_help"))
m3.metric(t("sampling.most_likely"), f"{shown_pieces(tok, order[:1])[0]!r} ({percent(float(probs_raw[order[0]]))})")
ui.chart(st, figures.distribution_bars(shown_pieces(tok, order), probs_raw[order].tolist(), logits[order].tolist(),
                                          t("sampling.dist_title")), key="sampling.dist")
# ' love' where it is one token of this tokenizer, else the second likeliest token: the line always has an answer
default_ask = " love" if len(tok.encode_piece(" love")) == 1 else next(
    p for p in shown_pieces(tok, order[1:]) + [" love"] if p != t("app.filtered"))
asked = st.text_input(t("sampling.rank_q"), default_ask, key="sampling.ask")
with ui.friendly_errors():
    asked_ids = tok.encode_piece(asked)
    if len(asked_ids) != 1:
        raise PlaygroundError(
            "'{asked}' is {n_asked_ids} tokens; ask about one token (try a leading space).",
            asked=asked, n_asked_ids=len(asked_ids))
    rank = int((probs_raw > probs_raw[asked_ids[0]]).sum()) + 1
    st.markdown(t("sampling.rank_line", token=f"`{asked!r}`", id=asked_ids[0],
                  logit=number(float(logits[asked_ids[0]]), 3), p=percent(float(probs_raw[asked_ids[0]]), 4),
                  rank=number(rank), total=number(len(logits))))
    code_view.show_code(st, snippets.distribution(state.current_model_key(), prompt, top_n, asked))

# --- the pipeline ----------------------------------------------------------------------------------------------
st.subheader(t("sampling.pipeline"))
ui.explain(t("sampling.explain2"))
with ui.friendly_errors(stop=True):
    settings = sampling_controls("sampling", tok, temperature=0.8, top_k=10, top_p=0.9)
    stages = pipeline_stages(logits, settings, ids)
    final = distribution_from_stages(stages, settings)
stage_names = {name: t(f"sampling.stage_{name}") for name in STAGES}
biased = torch.argsort(stages["bias"], descending=True)[:3].tolist()  # what the bias pushed, even if removed later
shown = list(dict.fromkeys(order + biased + [i for i in torch.argsort(final, descending=True)[:5].tolist()
                                             if final[i] > 0]))
stage_probs = {name: torch.softmax(stages[name], -1) for name in STAGES}
rows = [[None if torch.isneginf(stages[name][i]) else float(stage_probs[name][i]) for name in STAGES]
        + [float(final[i]) if final[i] > 0 else None] for i in shown]
ui.chart(st, figures.pipeline_figure([stage_names[s] for s in STAGES] + [t("sampling.stage_final")], shown_pieces(tok, shown),
                                     rows), key="sampling.pipeline")
summary = pd.DataFrame(stage_summary(stages))
summary["stage"] = summary["stage"].map(stage_names)
summary["tokens_left"] = summary["tokens_left"].map(number)
summary["mass_kept"] = summary["mass_kept"].map(percent)
ui.table(st, summary)
code_view.show_code(st, snippets.sampling(state.current_model_key(), prompt, settings, top_n))

# --- the weighted dice --------------------------------------------------------------------------------------
st.subheader(t("sampling.dice"))
ui.explain(t("sampling.explain3"))
d1, d2 = st.columns(2)
n_draws = d1.select_slider(t("sampling.draws"), DRAWS, 1000, key="sampling.draws", format_func=number)
seed = d2.number_input(t("sampling.seed"), 0, 2**31 - 1, 42, key="sampling.seed")
generator = torch.Generator().manual_seed(int(seed))
draws = torch.multinomial(final, int(n_draws), replacement=True, generator=generator)
counts = np.bincount(draws.numpy(), minlength=len(final))
dice_ids = [i for i in torch.argsort(final, descending=True)[:12].tolist() if final[i] > 0]  # the die's real sides
ui.chart(st, figures.dice_histogram(tok.pieces(dice_ids), final[dice_ids].tolist(),
                                       (counts[dice_ids] / n_draws).tolist(), int(n_draws)), key="sampling.dice")
one = sample(final, torch.Generator().manual_seed(int(seed)))
st.markdown(t("sampling.one_draw", seed=seed, token=repr(tok.token_text(one)), p=percent(float(final[one]), 2)))
code_view.show_code(st, snippets.dice(state.current_model_key(), prompt, settings, int(n_draws), int(seed)))

share.publish(SHARE, page=PAGE, outputs={
    "next_token": [{"token": tok.token_text(i), "probability": float(probs_raw[i])} for i in order],
    "after_pipeline": [{"token": tok.token_text(i), "probability": float(final[i])} for i in shown if final[i] > 0]})
