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
    pipeline_stages,
    sample,
    softmax,
    stage_summary,
)
from playground import figures, share, state, ui
from playground.i18n import t
from playground.sampling_controls import next_logits, prompt_input, sampling_controls

LECTURE_LOGITS = "3.23, -7.1, 5.57, 0.39, 2.4"
LECTURE_TEMPERATURES = [0.01, 0.5, 1, 2, 5]
STAGE_TITLES = {"raw": "raw logits", "bias": "logit bias", "penalties": "penalties", "temperature": "temperature",
                "top_k": "top-k", "top_p": "top-p", "min_p": "min-p"}

PAGE = "sampling"
SHARE = share.sampling_params("sampling")

st.title(t("nav.sampling"))
share.restore(PAGE, SHARE)

# --- the lecture's example ------------------------------------------------------------------------------
side, stage = ui.stage()  # presenter mode: the lecture's example beside its figure, on the first screen
ui.explain(t("sampling.explain1"), side)
side.subheader(t("sampling.by_hand"))
side.latex(r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}")
raw = side.text_input(t("sampling.small_vector"), LECTURE_LOGITS, key="sampling.lecture_logits")
with stage, ui.friendly_errors():
    try:
        z = torch.tensor([float(v) for v in raw.replace(";", ",").split(",") if v.strip()], dtype=torch.float64)
    except ValueError:
        raise PlaygroundError("Write the logits as numbers separated by commas, e.g. 3.23, -7.1, 5.57.") from None
    if len(z) < 2 or len(z) > 20:
        raise PlaygroundError("Give between 2 and 20 logits.")
    table = [softmax(z, t).tolist() for t in LECTURE_TEMPERATURES]
    token = ui.word("token")
    labels = [f"{token} {i + 1} ({v:g})" for i, v in enumerate(z.tolist())]
    frame = pd.DataFrame(table, columns=labels, index=[f"T = {t:g}" for t in LECTURE_TEMPERATURES])
    ui.table(st, frame.map(lambda p: f"{p:.3g}"), english_headers=False, index=True)
    side.caption(t("sampling.temperature_caption"))
    ui.chart(st, figures.temperature_bars(labels, LECTURE_TEMPERATURES, table), key="sampling.lecture_chart")

# --- the model's distribution -----------------------------------------------------------------------------
st.subheader(t("sampling.model_distribution"))
model = ui.current_model()
tok = model.tokenizer
_, ids = prompt_input("sampling", model, "ex.sampling")
logits = torch.from_numpy(next_logits(state.current_model_key(), tuple(ids)))
probs_raw = torch.softmax(logits, -1)

top_n = st.slider(t("sampling.tokens_shown"), 5, 40, 15, key="sampling.top_n")
order = torch.argsort(probs_raw, descending=True)[:top_n].tolist()
m1, m2, m3 = st.columns(3)
m1.metric(t("sampling.vocabulary"), t("sampling.n_tokens", n=f"{len(logits):,}"))
m2.metric(t("sampling.entropy"), t("sampling.bits", bits=f"{entropy_bits(probs_raw):.2f}"),
          help=t("sampling.entropy_help"))
m3.metric(t("sampling.most_likely"), f"{tok.token_text(order[0])!r} ({float(probs_raw[order[0]]):.1%})")
ui.chart(st, figures.distribution_bars(tok.pieces(order), probs_raw[order].tolist(), logits[order].tolist(),
                                          t("sampling.dist_title")), key="sampling.dist")
asked = st.text_input(t("sampling.rank_q"), " love", key="sampling.ask")
with ui.friendly_errors():
    asked_ids = tok.encode(asked)
    if len(asked_ids) != 1:
        raise PlaygroundError(
            "'{asked}' is {n_asked_ids} tokens; ask about one token (try a leading space).",
            asked=asked, n_asked_ids=len(asked_ids))
    rank = int((probs_raw > probs_raw[asked_ids[0]]).sum()) + 1
    st.markdown(t("sampling.rank_line", token=f"`{asked!r}`", id=asked_ids[0], logit=f"{float(logits[asked_ids[0]]):.3f}",
                  p=f"{float(probs_raw[asked_ids[0]]):.4%}", rank=f"{rank:,}", total=f"{len(logits):,}"))

# --- the pipeline ----------------------------------------------------------------------------------------------
st.subheader(t("sampling.pipeline"))
ui.explain(t("sampling.explain2"))
with ui.friendly_errors(stop=True):
    settings = sampling_controls("sampling", tok, temperature=0.8, top_k=10, top_p=0.9)
    stages = pipeline_stages(logits, settings, ids)
    final = distribution_from_stages(stages, settings)
shown = list(dict.fromkeys(order + torch.argsort(final, descending=True)[:5].tolist()))
stage_probs = {name: torch.softmax(stages[name], -1) for name in STAGES}
rows = [[None if torch.isneginf(stages[name][i]) else float(stage_probs[name][i]) for name in STAGES]
        + [float(final[i]) if final[i] > 0 else None] for i in shown]
ui.chart(st, figures.pipeline_figure([STAGE_TITLES[s] for s in STAGES] + ["final"], tok.pieces(shown), rows),
                key="sampling.pipeline")
summary = pd.DataFrame(stage_summary(stages))
summary["stage"] = summary["stage"].map(STAGE_TITLES)
summary["mass kept"] = summary["mass kept"].map(lambda v: f"{v:.1%}")
ui.table(st, summary)

# --- the weighted dice --------------------------------------------------------------------------------------
st.subheader(t("sampling.dice"))
ui.explain(t("sampling.explain3"))
d1, d2 = st.columns(2)
n_draws = d1.select_slider(t("sampling.draws"), [10, 100, 1000, 10000], 1000, key="sampling.draws")
seed = d2.number_input(t("sampling.seed"), 0, 2**31 - 1, 42, key="sampling.seed")
generator = torch.Generator().manual_seed(int(seed))
draws = torch.multinomial(final, int(n_draws), replacement=True, generator=generator)
counts = np.bincount(draws.numpy(), minlength=len(final))
dice_ids = torch.argsort(final, descending=True)[:12].tolist()
ui.chart(st, figures.dice_histogram(tok.pieces(dice_ids), final[dice_ids].tolist(),
                                       (counts[dice_ids] / n_draws).tolist(), int(n_draws)), key="sampling.dice")
one = sample(final, torch.Generator().manual_seed(int(seed)))
st.markdown(t("sampling.one_draw", seed=seed, token=repr(tok.token_text(one)), p=f"{float(final[one]):.2%}"))

share.publish(SHARE, page=PAGE, outputs={
    "next_token": [{"token": tok.token_text(i), "probability": float(probs_raw[i])} for i in order],
    "after_pipeline": [{"token": tok.token_text(i), "probability": float(final[i])} for i in shown if final[i] > 0]})
