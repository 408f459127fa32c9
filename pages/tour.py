"""Guided tour: one sentence from text to the next token, in the lecture's order, one step per screen."""

import streamlit as st
import torch

from core.inference.sampling import apply_classroom_filter, sample, softmax
from playground import activations, code_view, figures, share, snippets, state, ui
from playground.i18n import number, t
from playground.navigation import TOUR_STEPS
from playground.sampling_controls import classroom_filter, shown_pieces
from playground.tokens_view import chips_html

STEPS = TOUR_STEPS

PAGE = "tour"
ROOM = 420  # px for the figure in presenter mode, under the title, the progress and the buttons of a 720 px screen
# (the German step titles take a line more)
SHARE = share.params(share.Param("tour.text"))

st.title(t("tour.title"))
share.restore(PAGE, SHARE)
model = ui.current_model()
tok = model.tokenizer

if "tour.step" not in st.session_state:
    wanted = st.query_params.get("step", "1")
    st.session_state["tour.step"] = min(len(STEPS), max(1, int(wanted))) if wanted.isdigit() else 1
    st.session_state["tour.jump"] = STEPS[st.session_state["tour.step"] - 1]


def go(delta: int) -> None:
    st.session_state["tour.step"] = min(len(STEPS), max(1, st.session_state["tour.step"] + delta))
    st.session_state["tour.jump"] = STEPS[st.session_state["tour.step"] - 1]


def jump() -> None:
    st.session_state["tour.step"] = STEPS.index(st.session_state["tour.jump"]) + 1


step = st.session_state["tour.step"]
names = {s: t(f"tour.{s}") for s in STEPS}
st.progress(step / len(STEPS), text=" → ".join(f"**{names[s]}**" if i + 1 == step else names[s]
                                                for i, s in enumerate(STEPS)))
n1, n2, n3, n4 = st.columns([1, 1, 2, 3], vertical_alignment="bottom")
n1.button(t("tour.back"), key="tour.back", on_click=go, args=(-1,), disabled=step == 1, width="stretch", shortcut="Left",
          help=t("app.key", key="←"))
n2.button(t("tour.next"), key="tour.next", on_click=go, args=(1,), disabled=step == len(STEPS), type="primary",
          width="stretch", shortcut="Right", help=t("app.key", key="→"))
n3.selectbox(t("tour.jump"), STEPS, key="tour.jump", on_change=jump, label_visibility="collapsed",
             format_func=names.get)
text = n4.text_input(t("tour.sentence"), ui.example("tour"), key="tour.text")

ui.language_note()
with ui.friendly_errors(stop=True):
    ids, logits, cache = activations.current_run(model, text)
pieces = tok.pieces(ids)
labels = figures.token_labels(pieces)
last = logits[0, -1].float()
probs = softmax(last).float()
top = torch.argsort(probs, descending=True)[:10].tolist()
name = STEPS[step - 1]
side, stage = ui.stage()  # presenter mode: the step's words left of its figure, both on the first screen
side.subheader(t("tour.step", n=step, total=len(STEPS), name=names[name]))
room = ROOM if state.presenter() else None

if name == "Token":
    side.markdown(t("tour.token_text", n=len(ids)))
    stage.html(chips_html(pieces, ids, [tok.token_bytes(i) for i in ids]))
    stage.code(str(ids), language="json")
    code_view.show_code(stage, snippets.token_ids(state.current_model_key(), text, len(ids)))
elif name == "Embedding":
    side.markdown(t("tour.embedding_text", d=model.config.n_embd))
    ui.chart(stage, figures.heatmap(cache["resid_pre", 0][0][:, :64].tolist(), [f"d{i}" for i in range(64)], labels,
                                    t("tour.embedding_title"), t("fig.dimension"), t("fig.token"),
                                    height=room or max(300, 24 * len(ids) + 140)), key="tour.embed")
    code_view.show_code(stage, snippets.activations(state.current_model_key(), text, len(ids), [("resid_pre", 0)], 64))
elif name == "Attention":
    patterns = cache["pattern", 0][0]
    head = int(patterns[:, 1:, 0].mean(-1).argmax()) if len(ids) > 1 else 0
    side.markdown(t("tour.attention_text", head=head))
    ui.chart(stage, figures.attention_heatmap(patterns[head].numpy(), pieces, t("attention.layer_head", layer=0, head=head),
                                              height=room or 520), key="tour.attn")
    code_view.show_code(stage, snippets.attention(state.current_model_key(), text, len(ids), 0, head))
elif name == "Logits":
    side.markdown(t("tour.logits_text", n=number(len(last))))
    ui.chart(stage, figures.bars(figures.token_labels(shown_pieces(tok, top)), {t("fig.logit"): last[top].tolist()},
                                 t("tour.logits_title"), t("fig.token"), t("fig.logit")), key="tour.logits")
elif name == "Softmax":
    side.latex(r"p_i = \frac{e^{z_i}}{\sum_j e^{z_j}}")
    side.markdown(t("tour.softmax_text"))
    ui.chart(stage, figures.distribution_bars(shown_pieces(tok, top), probs[top].tolist(), last[top].tolist(),
                                              t("tour.softmax_title")), key="tour.softmax")
elif name == "Temperature":
    side.markdown(t("tour.temperature_text", n=number(len(last))))
    temps = [0.5, 1.0, 2.0]
    five = top[:5]
    # softmax over the whole vocabulary at each temperature; the bars show the five most likely tokens of it
    table = [softmax(last, temp)[five].tolist() for temp in temps]
    labels = [f"{figures.visible_plain(piece)} ({number(float(last[i]), 2)})" for piece, i in zip(shown_pieces(tok, five), five)]
    ui.chart(stage, figures.temperature_bars(labels, temps, table), key="tour.temp")
    code_view.show_code(stage, snippets.temperatures(state.current_model_key(), text, len(ids), temps))
else:
    side.markdown(t("tour.sampling_text"))
    probs = torch.softmax(apply_classroom_filter(last, classroom_filter(tok), ids), -1)  # the die the text rolls
    top = [i for i in torch.argsort(probs, descending=True)[:10].tolist() if probs[i] > 0]
    generator = torch.Generator().manual_seed(0)
    draws = torch.multinomial(probs, 1000, replacement=True, generator=generator)
    counts = torch.bincount(draws, minlength=len(probs)).double() / 1000
    ui.chart(stage, figures.dice_histogram(tok.pieces(top), probs[top].tolist(), counts[top].tolist(), 1000),
             key="tour.dice")
    code_view.show_code(stage, snippets.tour_dice(state.current_model_key(), text, len(ids), classroom_filter(tok) is not None))
    chosen = sample(probs, torch.Generator().manual_seed(1))
    side.success(t("tour.drawn", token=repr(tok.token_text(chosen)), text=repr(text + tok.decode([chosen]))))

if name in ("Logits", "Softmax"):
    code_view.show_code(stage, snippets.next_token(state.current_model_key(), text, len(ids)))
share.publish(SHARE, {"step": step}, page=PAGE)
