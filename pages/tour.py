"""Guided tour: one sentence from text to the next token, in the lecture's order, one step per screen."""

import torch
import streamlit as st

from core.sampling import sample, softmax
from playground import activations, figures, share, ui
from playground.tokens_view import chips_html

SENTENCE = "But, soft! what light through yonder window"
STEPS = ["Token", "Embedding", "Attention", "Logits", "Softmax", "Temperature", "Sampling"]

PAGE = "tour"
SHARE = {"text": share.Param("tour.text")}

st.title("Guided tour: from text to the next token")
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
st.progress(step / len(STEPS), text=" → ".join(f"**{s}**" if i + 1 == step else s for i, s in enumerate(STEPS)))
n1, n2, n3 = st.columns([1, 1, 3])
n1.button("← Back", key="tour.back", on_click=go, args=(-1,), disabled=step == 1, width="stretch", shortcut="Left",
          help="Keyboard: ←")
n2.button("Next →", key="tour.next", on_click=go, args=(1,), disabled=step == len(STEPS), type="primary",
          width="stretch", shortcut="Right", help="Keyboard: →")
n3.selectbox("Jump to a step", STEPS, key="tour.jump", on_change=jump, label_visibility="collapsed")

text = st.text_input("The example sentence", SENTENCE, key="tour.text")
with ui.friendly_errors(stop=True):
    ids, logits, cache = activations.current_run(model, text)
pieces = tok.pieces(ids)
labels = figures.token_labels(pieces)
last = logits[0, -1].float()
probs = softmax(last).float()
top = torch.argsort(probs, descending=True)[:10].tolist()
name = STEPS[step - 1]
st.subheader(f"Step {step} of {len(STEPS)}: {name}")

if name == "Token":
    st.markdown(f"The tokenizer cuts the sentence into **{len(ids)} tokens** and replaces each by its id. The model "
                "never sees letters, only these numbers.")
    st.html(chips_html(pieces, ids, [tok.token_bytes(i) for i in ids]))
    st.code(str(ids), language="json")
elif name == "Embedding":
    st.markdown(f"Each id selects a row of the token embedding matrix, a vector of {model.config.n_embd} numbers; a "
                "position vector is added. This grid of numbers is what the first layer reads.")
    ui.chart(st, figures.heatmap(cache["resid_pre", 0][0][:, :64].tolist(), [f"d{i}" for i in range(64)], labels,
                                    "Token + position embeddings (first 64 dimensions)", "dimension", "token",
                                    height=max(300, 24 * len(ids) + 140)), key="tour.embed")
elif name == "Attention":
    patterns = cache["pattern", 0][0]
    head = int(patterns[:, 1:, 0].mean(-1).argmax()) if len(ids) > 1 else 0
    st.markdown(f"In every layer, each token looks back at earlier tokens and mixes in their information. Here is "
                f"head {head} of layer 0: each row is a token, and the shading says how much it attends to each "
                "earlier token (rows sum to 1; the future is hidden).")
    ui.chart(st, figures.attention_heatmap(patterns[head].numpy(), pieces, f"Layer 0, head {head}"),
                    key="tour.attn")
elif name == "Logits":
    st.markdown(f"After the last layer, the vector of the last token is compared with every one of the "
                f"{len(last):,} tokens of the vocabulary: one score (logit) each. Higher means more likely next.")
    ui.chart(st, figures.bars(tok.pieces(top), last[top].tolist(), "The 10 highest logits for the next token",
                                 "token", "logit", "logit"), key="tour.logits")
elif name == "Softmax":
    st.latex(r"p_i = \frac{e^{z_i}}{\sum_j e^{z_j}}")
    st.markdown("Softmax turns the scores into probabilities: all positive, summing to 1 over the whole vocabulary.")
    ui.chart(st, figures.distribution_bars(tok.pieces(top), probs[top].tolist(), last[top].tolist(),
                                              "Next-token probabilities"), key="tour.softmax")
elif name == "Temperature":
    st.markdown("Dividing the logits by a temperature T before softmax sharpens (T < 1) or flattens (T > 1) the "
                "distribution. T → 0 always picks the top token.")
    temps = [0.5, 1.0, 2.0]
    five = top[:5]
    table = [softmax(last[five], t).tolist() for t in temps]
    ui.chart(st, figures.temperature_bars(tok.pieces(five), temps, table), key="tour.temp")
else:
    st.markdown("Finally a weighted die is rolled: each token wins with its probability. The winner is appended "
                "to the text, and the whole process starts again for the next token.")
    generator = torch.Generator().manual_seed(0)
    draws = torch.multinomial(probs, 1000, replacement=True, generator=generator)
    counts = torch.bincount(draws, minlength=len(probs)).float() / 1000
    ui.chart(st, figures.dice_histogram(tok.pieces(top), probs[top].tolist(), counts[top].tolist(), 1000),
                    key="tour.dice")
    chosen = sample(probs, torch.Generator().manual_seed(1))
    st.success(f"Drawn: {tok.token_text(chosen)!r} → the text continues: {text + tok.decode([chosen])!r}")

share.publish(SHARE, {"step": step}, page=PAGE)
