"""Tokens: text → tokens → ids and bytes; encodings side by side; decode; special tokens; BPE by doing;
the training windows a model learns from."""

import json

import pandas as pd
import streamlit as st

from core.errors import PlaygroundError
from core.tokens import bpe
from core.tokens.chat import PLAIN_CHATML, chat_format, chat_ids, special_text
from core.tokens.encodings import TOKENIZER_NAMES, load_tokenizer
from core.tokens.stats import parse_id_list, text_stats, token_rows
from core.training.data import CORPORA, TokenWindows, decode_text, load_corpus
from playground import code_view, figures, share, snippets, ui
from playground.examples import TOKEN_EXAMPLE_FIRST, TOKEN_EXAMPLES
from playground.i18n import error_text, language, lazy, number, t
from playground.navigation import VIEWS
from playground.tokens_view import chips_html, window_rows_html

CHIP_LIMIT = 2000
TABLE_LIMIT = 2000
UPLOAD_LIMIT = 2 * 1024 * 1024
BPE_TEXT_LIMIT = 200_000
MODEL_OWN = "model"  # the choice of the model's own trained tokenizer (a folder path stays out of links)
COMPARE_CHIPS = 400  # chips per encoding side by side
CHAT_LIMIT = 5_000  # characters per chat message


@st.cache_data(show_spinner=False, max_entries=64)
def encode(text: str, tokenizer_key: str, allow_special: bool) -> list[int]:
    return load_tokenizer(tokenizer_key).encode(text, allow_special=allow_special)


@st.cache_data(show_spinner=lazy("spin.bpe"), max_entries=16)
def learn_bpe(text: str, n_merges: int) -> list[bpe.Merge]:
    return bpe.train_bpe(text, n_merges)


def use_example():
    st.session_state["tokens.text"] = TOKEN_EXAMPLES[st.session_state["tokens.example"]]


PAGE = "tokens"
SHARE = share.params(
    share.Param("tokens.example", choices=tuple(TOKEN_EXAMPLES)), share.Param("tokens.text"),
    share.Param("tokens.encoding", choices=(*TOKENIZER_NAMES, MODEL_OWN)), share.Param("tokens.special", bool),
    share.Param("tokens.view", choices=tuple(VIEWS[PAGE])),
    share.Param("tokens.chat_system"), share.Param("tokens.chat_user"), share.Param("tokens.chat_reply", bool),
    share.Param("tokens.decode_ids"), share.Param("tokens.bpe_source", choices=("text", *CORPORA)),
    share.Param("tokens.bpe_merges", int, 1, 500), share.Param("tokens.bpe_step", int, 0, 500),
    share.Param("tokens.bpe_word"), share.Param("tokens.window_context", int, 2, 16),
    share.Param("tokens.window_stride", int, 1, 16))

st.title(t("nav.tokens"))
share.restore(PAGE, SHARE)

# --- text in ----------------------------------------------------------------------------------------
st.session_state.setdefault("tokens.example", TOKEN_EXAMPLE_FIRST[language()])
st.session_state.setdefault("tokens.text", TOKEN_EXAMPLES[st.session_state["tokens.example"]])
side, stage = ui.stage()
with side:
    ui.explain(t("tokens.explain1"))
    left, right = ui.controls_row(st, 2)
    left.selectbox(t("tokens.example"), list(TOKEN_EXAMPLES), key="tokens.example", on_change=use_example,
                   format_func=lambda example: t(f"tokex.{example}"))
    upload = ui.file_uploader(right, t("tokens.upload"), key="tokens.upload", types=["txt"], max_mb=2)
    if upload is not None and st.session_state.get("tokens.upload_id") != upload.file_id:
        st.session_state["tokens.upload_id"] = upload.file_id
        try:
            st.session_state["tokens.text"] = decode_text(upload.getvalue(), upload.name, UPLOAD_LIMIT)
        except PlaygroundError as e:
            st.session_state["tokens.upload_error"] = error_text(e)
        else:
            st.session_state.pop("tokens.upload_error", None)
    if st.session_state.get("tokens.upload_error"):
        st.error(st.session_state["tokens.upload_error"] + " " + t("tokens.unchanged"), icon=":material/warning:")
    text = st.text_area(t("tokens.text"), key="tokens.text", height=150, max_chars=1_000_000)

model = ui.current_model()
model_tok = model.tokenizer.label
# A model with its own tokenizer (trained here, or a Llama-family tokenizer.json) shows it first, beside the shipped
# encodings.
own_tokenizer = model.tokenizer.trained or model.tokenizer.name not in TOKENIZER_NAMES
options = ([MODEL_OWN] if own_tokenizer else []) + list(TOKENIZER_NAMES)
if st.session_state.get("tokens.encoding") not in options:
    st.session_state.pop("tokens.encoding", None)


def tokenizer_key(choice: str) -> str:
    return model.tokenizer.key if choice == MODEL_OWN else choice


def is_models(choice: str) -> bool:
    return choice == MODEL_OWN or choice == model_tok


with side:
    c1, c2 = ui.controls_row(st, 2)
    encoding = c1.radio(t("tokens.encoding"), options, horizontal=True, key="tokens.encoding",
                        format_func=lambda n: t("tokens.the_models", name=model_tok) if is_models(n) else n)
    allow_special = c2.toggle(t("tokens.special"), key="tokens.special", help=t("tokens.special_help"))

if not text:
    st.info(t("tokens.empty"))
    st.stop()

tokenizer = load_tokenizer(tokenizer_key(encoding))
ids = encode(text, tokenizer_key(encoding), allow_special)
stats = text_stats(text, ids)

# --- token view ---------------------------------------------------------------------------------------
with side:
    view = ui.view(PAGE)

with stage:
    if view == "tokens":
        ui.explain(t("tokens.explain2"), side)
        m = st.columns(4)
        m[0].metric(t("tokens.characters"), number(stats.chars))
        m[1].metric(t("tokens.tokens"), number(stats.tokens))
        m[2].metric(t("tokens.chars_per_token"), number(stats.chars_per_token, 2))
        m[3].metric(t("tokens.words_per_token"), number(stats.words_per_token, 2))
        shown = ids[:CHIP_LIMIT]
        st.html(chips_html(tokenizer.pieces(shown), shown, [tokenizer.token_bytes(i) for i in shown], CHIP_LIMIT))
        if len(ids) > CHIP_LIMIT:
            st.caption(t("tokens.hidden", shown=number(CHIP_LIMIT), total=number(len(ids)),
                         hidden=number(len(ids) - CHIP_LIMIT)))
        if "<|endoftext|>" in text:
            other = encode(text, tokenizer_key(encoding), not allow_special)
            plain, special = (other, ids) if allow_special else (ids, other)
            st.markdown(t("tokens.special_diff", n=len(plain) - len(special) + 1,
                          id=tokenizer.special_tokens["<|endoftext|>"]))
            ui.table(st, {"as_plain": [str(plain[:40])], "as_special": [str(special[:40])]})
        st.markdown(t("tokens.every_token"))
        rows = token_rows(tokenizer, ids[:TABLE_LIMIT])
        ui.table(st, rows, height=280)
        st.markdown(t("tokens.id_list"))
        st.code(json.dumps(ids), language="json", wrap_lines=True)
        code_view.show_code(st, snippets.tokens(text, tokenizer_key(encoding), allow_special))

    elif view == "compare":
        ui.explain(t("tokens.explain3"), side)
        names, counts, cpt, wpt = [], [], [], []
        for name in options:
            s = text_stats(text, encode(text, tokenizer_key(name), allow_special))
            label = t("tokens.model_encoding", name=model_tok) if is_models(name) else name
            names.append(label)
            counts.append(s.tokens)
            cpt.append(s.chars_per_token)
            wpt.append(s.words_per_token)
        table = pd.DataFrame({"encoding": names, "characters": number(stats.chars), "words": number(stats.words),
                              "tokens": [number(c) for c in counts], "chars_per_token": [number(c, 2) for c in cpt],
                              "words_per_token": [number(w, 2) for w in wpt]})
        cols = st.columns(len(options))  # the same text as chips in each encoding, side by side
        for col, name, label, n in zip(cols, options, names, counts):
            other = load_tokenizer(tokenizer_key(name))
            some = encode(text, tokenizer_key(name), allow_special)[:COMPARE_CHIPS]
            col.markdown(t("tokens.encoding_chips", name=label, n=number(n)))
            col.html(chips_html(other.pieces(some), some, [other.token_bytes(i) for i in some]))
        if max(counts) > COMPARE_CHIPS:
            st.caption(t("tokens.first_chips", n=COMPARE_CHIPS))
        ui.table(st, table)
        ui.chart(st, figures.encodings_bar(names, counts, cpt, wpt), key="tokens.compare_chart")
        gpt2_cpt = cpt[options.index("gpt2")]
        verdict = t("tokens.close" if 3.3 <= gpt2_cpt <= 4.7 else "tokens.below" if gpt2_cpt < 3.3 else "tokens.above")
        st.markdown(t("tokens.rule_of_thumb", cpt=number(gpt2_cpt, 2), wpt=number(wpt[options.index("gpt2")], 2),
                      verdict=verdict))

    elif view == "chat":
        chat_note = "llama.chat_tokenizer_json" if encoding == MODEL_OWN and not model.tokenizer.trained else \
            "tokens.chat_model" if encoding == MODEL_OWN else f"tokens.chat_{encoding}"
        ui.explain(t(chat_note, name=model_tok), side)
        system = side.text_input(t("tokens.chat_system"), t("tokens.chat_system_example"), key="tokens.chat_system")
        user = side.text_area(t("tokens.chat_user"), t("tokens.chat_user_example"), key="tokens.chat_user", height=90)
        reply = side.toggle(t("tokens.chat_reply"), True, key="tokens.chat_reply")
        messages = [(role, content[:CHAT_LIMIT]) for role, content in (("system", system), ("user", user)) if content]
        chat, marks = chat_ids(tokenizer, messages, reply)
        plain = sum(len(encode(content, tokenizer_key(encoding), False)) for _, content in messages)
        frame = chat_format(tokenizer)
        st.markdown(t("tokens.chat_count", n=number(len(chat)),
                      format=t("tokens.chat_plain") if frame is PLAIN_CHATML else frame.name,
                      special=number(sum(marks)), plain=number(plain), extra=number(len(chat) - plain)))
        st.html(chips_html([special_text(tokenizer, i) if m else tokenizer.token_text(i) for i, m in zip(chat, marks)],
                           chat, [(special_text(tokenizer, i) or "").encode() if m else tokenizer.token_bytes(i)
                                  for i, m in zip(chat, marks)], special=marks))
        st.code(json.dumps(chat), language="json", wrap_lines=True)

    elif view == "decode":
        ui.explain(t("tokens.explain4"), side)
        example_ids = tokenizer.encode("Hello world!") + [tokenizer.eot_id]  # GPT-2: 15496, 995, 0, 50256
        raw = st.text_input(t("tokens.ids"), value=", ".join(map(str, example_ids)), key="tokens.decode_ids")
        with ui.friendly_errors():
            pasted = parse_id_list(raw)
            decoded = tokenizer.decode(pasted)
            st.markdown(f"**{t('tokens.text')}**")
            st.code(decoded, language=None, wrap_lines=True)
            st.html(chips_html(tokenizer.pieces(pasted), pasted, limit=CHIP_LIMIT))

    elif view == "bpe":
        ui.explain(t("tokens.explain5"), side)
        sources = ["text"] + list(CORPORA)  # the text above, or a bundled corpus
        b1, b2 = st.columns(2)
        source = b1.selectbox(t("tokens.learn_from"), sources, key="tokens.bpe_source",
                              format_func=lambda s: t("fig.your_text") if s == "text" else ui.corpus_title(s))
        n_merges = b2.slider(t("tokens.n_merges"), 1, 500, 60, key="tokens.bpe_merges")
        corpus = text if source == "text" else load_corpus(source)
        if len(corpus) > BPE_TEXT_LIMIT:
            st.caption(t("tokens.bpe_limit", limit=number(BPE_TEXT_LIMIT), total=number(len(corpus))))
            corpus = corpus[:BPE_TEXT_LIMIT]
        merges = learn_bpe(corpus, n_merges)
        if not merges:
            st.warning(t("tokens.no_pair"))
        else:
            step = st.slider(t("tokens.merges_applied"), 0, len(merges), min(10, len(merges)), key="tokens.bpe_step")
            learned = merges[:step]
            vocab = bpe.vocabulary(merges)
            shown = figures.visible_plain  # a space is · here, as on the chips
            merge_table = pd.DataFrame([{
                "merge": m.rank + 1, "left": shown(bpe.bytes_to_display(vocab[m.pair[0]])),
                "right": shown(bpe.bytes_to_display(vocab[m.pair[1]])), "count": number(m.count), "new_id": m.new_id,
                "new_token": shown(m.text)} for m in learned])
            preview = corpus[:300]
            preview_ids = bpe.encode(preview, learned)
            p1, p2 = st.columns([1, 1])
            with p1:
                st.markdown(t("tokens.merges_so_far", n=step))
                ui.table(st, merge_table, height=300)
            with p2:
                st.markdown(t("tokens.after_merges", n=step, tokens=len(preview_ids), bytes=len(preview.encode())))
                st.html(chips_html(bpe.pieces(preview_ids, learned), preview_ids))
                gpt2 = load_tokenizer("gpt2")
                gpt2_ids = gpt2.encode(preview)
                st.markdown(t("tokens.gpt2_split", tokens=len(gpt2_ids)))
                st.html(chips_html(gpt2.pieces(gpt2_ids), gpt2_ids))
            st.markdown(t("tokens.apply_word"))
            word = st.text_input(t("tokens.word"), value=" Citizen" if source == "tinyshakespeare" else " the",
                                 key="tokens.bpe_word")
            if word:
                steps = bpe.apply_steps(word[:100], merges[:step] if step else merges)
                for merge, word_ids in steps:
                    label = t("tokens.step_bytes") if merge is None else t("tokens.step_merge", n=merge.rank + 1,
                                                                                          text=repr(merge.text))
                    st.markdown(f"`{label}`")
                    st.html(chips_html(bpe.pieces(word_ids, merges), word_ids))

    else:  # training windows
        ui.explain(t("tokens.explain6"), side)
        w1, w2 = st.columns(2)
        context = w1.slider(t("tokens.context"), 2, 16, 8, key="tokens.window_context")
        stride = w2.slider(t("tokens.stride"), 1, 16, 4, key="tokens.window_stride")
        with ui.friendly_errors():
            windows = TokenWindows(ids, context, stride, label="text")
            st.caption(t("tokens.windows", n=number(len(windows)), context=context, total=number(len(ids))))
            for i in range(min(4, len(windows))):
                x, y = windows[i]
                st.markdown(t("tokens.window", n=i + 1, start=i * stride))
                st.html(window_rows_html([(t("tokens.row_input"), tokenizer.pieces(x.tolist())),
                                          (t("tokens.row_target"), tokenizer.pieces(y.tolist()))]))

share.publish(SHARE, page=PAGE, outputs={"ids": ids[:5000], "tokens": len(ids), "characters": stats.chars})
