"""Home: what the playground is, how to walk through it, and the model underneath."""

import pandas as pd
import streamlit as st

from core.model.gpt import count_parameters
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
cols[3].metric(t("home.val_loss"), f"{card['val_loss']:.3f}" if isinstance(card.get("val_loss"), (int, float)) else "–")

left, right = st.columns([1, 1])
with left:
    st.markdown(f"**{t('home.config')}**")
    rows = [
        (t("home.r_vocab"), f"{config.vocab_size:,}"), (t("home.r_tokenizer"), config.tokenizer),
        (t("home.r_context"), config.context_length), (t("home.r_layers"), config.n_layer), (t("home.r_heads"), config.n_head),
        (t("home.r_width"), config.n_embd), (t("home.r_dhead"), config.d_head),
        (t("home.r_mlp"), 4 * config.n_embd), (t("home.r_bias"), config.bias), (t("home.r_tied"), config.tied_embeddings),
        (t("home.r_params"), f"{count_parameters(config):,}"),
        (t("home.r_device"), loaders.device_label()),
    ]
    ui.table(st, pd.DataFrame(rows, columns=[t("home.c_setting"), t("home.c_value")]).astype(str),
             english_headers=False, height="content")  # every row, no inner scrolling
with right:
    st.markdown(f"**{t('home.card')}**")
    if card:
        facts = [(t("home.f_corpus"), card.get("corpus")), (t("home.f_split"), card.get("data_split")),
                 (t("home.f_steps"), f"{card.get('step')} of {card.get('steps')}"), (t("home.f_train"), card.get("train_loss")),
                 (t("home.f_val"), card.get("val_loss")), (t("home.r_device"), card.get("device_name", card.get("device"))),
                 (t("home.f_wall"), f"{card.get('wall_time_s')} s")]
        ui.table(st, pd.DataFrame([(k, str(v)) for k, v in facts if v is not None],
                                  columns=[t("home.c_fact"), t("home.c_value")]), english_headers=False, height="content")
        st.markdown(f"**{t('home.reproduce')}**")
        st.code(card.get("command", ""), language="bash", wrap_lines=True)
    else:
        st.caption(t("home.no_card"))
if card.get("sample"):
    st.markdown(f"**{t('home.sample')}**")
    st.code(card["sample"], language=None, wrap_lines=True)
