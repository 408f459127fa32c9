"""Home: what the playground is, how to walk through it, and the model underneath."""

import pandas as pd
import streamlit as st

from core.model import count_parameters
from playground import loaders, state, ui
from playground.i18n import t

st.title(t("home.title"))
st.markdown(t("home.intro"))
st.subheader(t("home.walk"))
st.markdown(t("home.walk_steps"))

model = ui.current_model()
key = state.current_model_key()
card = loaders.get_card(key)
config = model.config

st.subheader(t("home.model"))
cols = st.columns(4)
cols[0].metric(t("home.parameters"), f"{model.num_parameters():,}")
cols[1].metric(t("home.layers_heads"), f"{config.n_layer} × {config.n_head}")
cols[2].metric(t("home.context"), t("home.context_value", n=config.context_length))
cols[3].metric(t("home.val_loss"), f"{card['val_loss']:.3f}" if "val_loss" in card else "–")

left, right = st.columns([1, 1])
with left:
    st.markdown(f"**{t('home.config')}**")
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
    st.markdown(f"**{t('home.card')}**")
    if card:
        facts = [("trained on", card.get("corpus")), ("data split", card.get("data_split")),
                 ("steps", f"{card.get('step')} of {card.get('steps')}"), ("train loss", card.get("train_loss")),
                 ("validation loss", card.get("val_loss")), ("device", card.get("device_name", card.get("device"))),
                 ("wall time", f"{card.get('wall_time_s')} s")]
        st.dataframe(pd.DataFrame([(k, str(v)) for k, v in facts if v is not None], columns=["fact", "value"]),
                     hide_index=True, width="stretch")
        st.markdown(f"**{t('home.reproduce')}**")
        st.code(card.get("command", ""), language="bash", wrap_lines=True)
    else:
        st.caption(t("home.no_card"))
if card.get("sample"):
    st.markdown(f"**{t('home.sample')}**")
    st.code(card["sample"], language=None, wrap_lines=True)
