"""The sampling controls, shared by the Logits & sampling and Generation pages (keys namespaced per page)."""

from __future__ import annotations

import streamlit as st

from core.sampling import SamplingSettings, parse_logit_bias


def sampling_controls(prefix: str, tokenizer, temperature: float = 1.0, top_k: int = 0,
                      top_p: float = 1.0) -> SamplingSettings:
    """Widgets for every stage of the pipeline (defaults given per page); raises PlaygroundError for
    impossible combinations."""
    c1, c2, c3, c4 = st.columns(4)
    temperature = c1.slider("Temperature (0 = greedy)", 0.0, 3.0, temperature, 0.05, key=f"{prefix}.temperature")
    top_k = c2.number_input("Top-k (0 = off)", 0, tokenizer.n_vocab, top_k, key=f"{prefix}.top_k")
    top_p = c3.slider("Top-p (1 = off)", 0.01, 1.0, top_p, 0.01, key=f"{prefix}.top_p")
    min_p = c4.slider("Min-p (0 = off)", 0.0, 0.5, 0.0, 0.01, key=f"{prefix}.min_p")
    with st.expander("Penalties and logit bias"):
        p1, p2, p3 = st.columns(3)
        repetition = p1.slider("Repetition penalty (1 = off)", 1.0, 3.0, 1.0, 0.05, key=f"{prefix}.repetition",
                               help="Seen tokens: positive logits divided by it, negative multiplied (CTRL).")
        frequency = p2.slider("Frequency penalty", 0.0, 2.0, 0.0, 0.05, key=f"{prefix}.frequency",
                              help="Minus this times how often the token already occurred (OpenAI).")
        presence = p3.slider("Presence penalty", 0.0, 2.0, 0.0, 0.05, key=f"{prefix}.presence",
                             help="Minus this once a token occurred at all (OpenAI).")
        bias_text = st.text_area("Logit bias, one per line:  token: value  (−100 bans a token)",
                                 "", key=f"{prefix}.bias", height=90,
                                 placeholder='" the": -100\n" love": 5')
    bias = parse_logit_bias(bias_text, tokenizer)
    if bias:
        st.caption("Bias on ids: " + ", ".join(f"{i} ({tokenizer.token_text(i)!r}) {v:+g}" for i, v in bias.items()))
    return SamplingSettings(temperature=temperature, top_k=int(top_k) or None, top_p=top_p if top_p < 1 else None,
                            min_p=min_p or None, repetition_penalty=repetition, frequency_penalty=frequency,
                            presence_penalty=presence, logit_bias={i: v for i, v in bias.items() if v != 0})


@st.cache_data(show_spinner="Running the model…", max_entries=256)
def next_logits(model_key: str, ids: tuple[int, ...]):
    """Raw logits of the next token after ids (a numpy vector); cached, so moving a slider never reruns the model."""
    from playground import loaders
    import torch

    model = loaders.get_model(model_key)
    with torch.no_grad():
        return model(torch.tensor([list(ids)], device=model.device))[0, -1].float().cpu().numpy()
