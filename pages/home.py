"""Home: what the playground is, how to walk through it, and the model underneath."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.model.families import count_parameters
from core.training.data import CORPORA, corpus_names
from playground import llama_views, loaders, state, ui
from playground.i18n import number, t
from playground.sampling_controls import shown_text

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
cols[0].metric(t("home.parameters"), number(model.num_parameters()))
cols[1].metric(t("home.layers_heads"), f"{config.n_layer} × {config.n_head}")
cols[2].metric(t("home.context"), t("home.context_value", n=number(config.context_length)))
cols[3].metric(t("home.val_loss"), number(card["val_loss"], 3) if isinstance(card.get("val_loss"), (int, float)) else "–")

left, right = st.columns([1, 1])
with left:
    st.markdown(f"**{t('home.config')}**")
    rows = [
        (t("home.r_vocab"), number(config.vocab_size)), (t("home.r_tokenizer"), config.tokenizer),
        (t("home.r_context"), number(config.context_length)), (t("home.r_layers"), config.n_layer),
        (t("home.r_heads"), config.n_head), (t("home.r_width"), number(config.n_embd)), (t("home.r_dhead"), config.d_head),
        (t("home.r_mlp"), number(config.d_mlp)), (t("home.r_bias"), t("home.yes" if config.bias else "home.no")),
        (t("home.r_tied"), t("home.yes" if config.tied_embeddings else "home.no")), *llama_views.config_rows(config),
        (t("home.r_params"), number(count_parameters(config))),
        (t("home.r_device"), loaders.device_label()),
    ]
    ui.table(st, pd.DataFrame(rows, columns=[t("home.c_setting"), t("home.c_value")]).astype(str),
             header_ids=False, height="content")  # every row, no inner scrolling
with right:
    st.markdown(f"**{t('home.card')}**")
    if card:
        corpus = card.get("corpus")
        split = card.get("split")  # tokens for training and held out, as core.training.pretrain.make_card writes
        facts = [(t("home.f_corpus"), " + ".join(ui.corpus_title(name) if name in CORPORA else name
                                                 for name in corpus_names(corpus)) if corpus else None),
                 (t("home.f_split"), t("home.split_value_tokens" if split.get("unit") == "tokens" else "home.split_value",
                                       train=number(split["train_tokens"]), val=number(split["val_tokens"]),
                                       train_share=number(100 * (1 - split["val_fraction"])),
                                       val_share=number(100 * split["val_fraction"])) if split else card.get("data_split")),
                 (t("home.f_steps"), t("home.step_of", step=number(card["step"]), steps=number(card["steps"]))
                  if "step" in card and "steps" in card else None),
                 (t("home.f_train"), number(card["train_loss"], 4) if "train_loss" in card else None),
                 (t("home.f_val"), number(card["val_loss"], 4) if "val_loss" in card else None),
                 (t("home.r_device"), card.get("device_name", card.get("device"))),
                 (t("home.f_wall"), t("home.seconds", s=number(card["wall_time_s"], 1)) if "wall_time_s" in card else None)]
        facts += [(t("home.f_bpc", corpus=ui.corpus_title(name) if name in CORPORA else Path(name).name), number(bits, 3))
                  for name, bits in card.get("bits_per_character", {}).items()]
        facts += [(t("home.f_head", what=t(f"attention.score_{name}")),
                   t("home.head_value", layer=best["layer"], head=best["head"], score=number(best["score"], 2)))
                  for name, best in card.get("head_scores", {}).items() if name in ("previous_token", "induction")]
        ui.table(st, pd.DataFrame([(k, str(v)) for k, v in facts if v is not None],
                                  columns=[t("home.c_fact"), t("home.c_value")]), header_ids=False, height="content")
        st.markdown(f"**{t('home.reproduce')}**")
        st.code(card.get("command", ""), language="bash", wrap_lines=True)
    else:
        st.caption(t("home.no_card"))
if card.get("sample"):
    st.markdown(f"**{t('home.sample')}**")
    st.code(shown_text(card["sample"], model.tokenizer), language=None, wrap_lines=True)
