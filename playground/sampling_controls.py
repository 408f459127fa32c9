"""The sampling controls, shared by the Logits & sampling and Generation pages (keys namespaced per page)."""

from __future__ import annotations

import streamlit as st
import torch

from core.inference.classroom import ClassroomFilter
from core.inference.classroom import classroom_filter as build_classroom_filter
from core.inference.generate import prepare_prompt
from core.inference.sampling import SamplingSettings, parse_logit_bias
from playground import loaders, state, ui
from playground.i18n import lazy, message_text, number, t


def sampling_controls(prefix: str, tokenizer, temperature: float = 1.0, top_k: int = 0,
                      top_p: float = 1.0) -> SamplingSettings:
    """Widgets for every stage of the pipeline (defaults given per page); raises PlaygroundError for
    impossible combinations."""
    c1, c2, c3, c4 = ui.controls_row(st, 4)
    temperature = ui.choice(c1, t("sampling.temperature"), ui.grid(0.0, 3.0, 0.05), temperature, key=f"{prefix}.temperature")
    top_k = c2.number_input(t("sampling.top_k"), 0, tokenizer.n_vocab, top_k, key=f"{prefix}.top_k")
    top_p = ui.choice(c3, t("sampling.top_p"), ui.grid(0.01, 1.0, 0.01), top_p, key=f"{prefix}.top_p")
    min_p = ui.choice(c4, t("sampling.min_p"), ui.grid(0.0, 0.5, 0.01), 0.0, key=f"{prefix}.min_p")
    with st.expander(t("sampling.penalties")):
        p1, p2, p3 = ui.controls_row(st, 3)
        repetition = ui.choice(p1, t("sampling.repetition"), ui.grid(1.0, 3.0, 0.05), 1.0, key=f"{prefix}.repetition",
                               help=t("sampling.repetition_help"))
        frequency = ui.choice(p2, t("sampling.frequency"), ui.grid(0.0, 2.0, 0.05), 0.0, key=f"{prefix}.frequency",
                              help=t("sampling.frequency_help"))
        presence = ui.choice(p3, t("sampling.presence"), ui.grid(0.0, 2.0, 0.05), 0.0, key=f"{prefix}.presence",
                             help=t("sampling.presence_help"))
        bias_text = st.text_area(t("sampling.bias"),
                                 "", key=f"{prefix}.bias", height=90,
                                 placeholder='" the": -100\n" love": 5')
    bias = parse_logit_bias(bias_text, tokenizer)
    if bias:
        st.caption(t("sampling.bias_ids") + ", ".join(f"{i} ({tokenizer.token_text(i)!r}) {'+' if v >= 0 else ''}"
                                                      f"{number(v, None)}" for i, v in bias.items()))
    return SamplingSettings(temperature=temperature, top_k=int(top_k) or None, top_p=top_p if top_p < 1 else None,
                            min_p=min_p or None, repetition_penalty=repetition, frequency_penalty=frequency,
                            presence_penalty=presence, logit_bias={i: v for i, v in bias.items() if v != 0},
                            classroom=classroom_filter(tokenizer))


@st.cache_resource(show_spinner=lazy("spin.classroom"), max_entries=8)
def _classroom_filter(tokenizer_key: str, n_vocab: int, _tokenizer) -> ClassroomFilter:
    return build_classroom_filter(_tokenizer)


def classroom_filter(tokenizer) -> ClassroomFilter | None:
    """The session's classroom filter for this tokenizer (built once per server process), or None when off."""
    return _classroom_filter(tokenizer.key, tokenizer.n_vocab, tokenizer) if state.classroom() else None


def shown_pieces(tokenizer, ids) -> list[str]:
    """Token texts for labels and chips, the classroom filter's banned tokens hidden while it is on."""
    banned = classroom_filter(tokenizer)
    mark = t("app.filtered")
    return [mark if banned is not None and i in banned.always else tokenizer.token_text(i) for i in ids]


def shown_text(text: str, tokenizer) -> str:
    """A sample's text as shown: the classroom filter's banned words hidden while it is on."""
    banned = classroom_filter(tokenizer)
    return text if banned is None else banned.hide(text, tokenizer)


def prompt_input(prefix: str, model) -> tuple[str, list[int]]:
    """The prompt box of a page (key "<prefix>.prompt", its example from ui.example) and its ids; says when it
    starts from <|endoftext|> or keeps only the end of a prompt longer than the context."""
    prompt = st.text_area(t("sampling.prompt"), ui.example(prefix), key=f"{prefix}.prompt", height=90)
    ui.language_note()
    ids, note = prepare_prompt(model.tokenizer, prompt, model.config.context_length)
    if note:
        st.info(message_text(note), icon=":material/info:")
    return prompt, ids


@st.cache_data(show_spinner=lazy("spin.run"), max_entries=256)
def next_logits(model_key: str, ids: tuple[int, ...]):
    """Raw logits of the next token after ids (a numpy vector); cached, so moving a slider never reruns the model."""
    model = loaders.get_model(model_key)
    with torch.no_grad():
        return model(torch.tensor([list(ids)], device=model.device))[0, -1].float().cpu().numpy()
