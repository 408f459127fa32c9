"""Home: what the playground is, how to walk through it, and the model underneath."""

import pandas as pd
import streamlit as st

from core.model import count_parameters
from playground import loaders, state, ui

st.title("LLM Playground")
st.markdown(
    "Look inside a real, trained language model, one step at a time: how text becomes **tokens**, tokens become "
    "**vectors**, how **attention** mixes them, how the model scores every possible **next token**, and how "
    "**sampling** turns those scores into text. Every number on these pages is computed by the model you pick "
    "in the sidebar, on this machine, offline."
)

st.subheader("How to walk through it")
st.markdown(
    """
1. **Tokens**: text → tokens → ids, in the encodings of GPT-2, GPT-4 and GPT-4o side by side.
2. **Embeddings**: each id picks a row of a matrix; positions add their own vectors.
3. **Attention**: every layer and head, and one head computed by hand with the real numbers.
4. **Logits & sampling**: the next-token distribution and the controls: temperature, top-k, top-p, penalties.
5. **Generation**: step through generation token by token, choosing each step yourself.
6. **Training**: train a small model yourself and watch it learn.
"""
)

model = ui.current_model()
key = state.current_model_key()
card = loaders.get_card(key)
config = model.config

st.subheader("The model underneath")
cols = st.columns(4)
cols[0].metric("Parameters", f"{model.num_parameters():,}")
cols[1].metric("Layers × heads", f"{config.n_layer} × {config.n_head}")
cols[2].metric("Context length", f"{config.context_length} tokens")
cols[3].metric("Validation loss", f"{card['val_loss']:.3f}" if "val_loss" in card else "–")

left, right = st.columns([1, 1])
with left:
    st.markdown("**Configuration**")
    rows = [
        ("vocabulary size", f"{config.vocab_size:,}"), ("tokenizer", config.tokenizer),
        ("context length", config.context_length), ("layers", config.n_layer), ("heads", config.n_head),
        ("width (d_model)", config.n_embd), ("head size (d_head)", config.d_head),
        ("MLP width", 4 * config.n_embd), ("biases", config.bias), ("tied embeddings", config.tied_embeddings),
        ("parameters (formula)", f"{count_parameters(config):,}"),
        ("device", loaders.device_label()),
    ]
    st.dataframe(pd.DataFrame(rows, columns=["setting", "value"]).astype(str), hide_index=True,
                 width="stretch")
with right:
    st.markdown("**Model card**")
    if card:
        facts = [("trained on", card.get("corpus")), ("data split", card.get("data_split")),
                 ("steps", f"{card.get('step')} of {card.get('steps')}"), ("train loss", card.get("train_loss")),
                 ("validation loss", card.get("val_loss")), ("device", card.get("device_name", card.get("device"))),
                 ("wall time", f"{card.get('wall_time_s')} s")]
        st.dataframe(pd.DataFrame([(k, str(v)) for k, v in facts if v is not None], columns=["fact", "value"]),
                     hide_index=True, width="stretch")
        st.markdown("**Reproduce it**")
        st.code(card.get("command", ""), language="bash", wrap_lines=True)
    else:
        st.caption("This model has no card (e.g. a Hugging Face GPT-2 folder).")
if card.get("sample"):
    st.markdown("**A sample from this model**")
    st.code(card["sample"], language=None, wrap_lines=True)
