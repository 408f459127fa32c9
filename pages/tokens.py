"""Tokens: text → tokens → ids and bytes; encodings side by side; decode; special tokens; BPE by doing;
the training windows a model learns from."""

import json

import pandas as pd
import streamlit as st

from core.errors import PlaygroundError
from core.tokens import bpe
from core.tokens.chat import CHAT_FORMATS, chat_ids, special_text
from core.tokens.encodings import TOKENIZER_NAMES, load_tokenizer
from core.tokens.stats import parse_id_list, text_stats, token_rows
from core.training.data import CORPORA, TokenWindows, decode_text, load_corpus
from playground import figures, share, ui
from playground.examples import TOKEN_EXAMPLE_FIRST, TOKEN_EXAMPLES
from playground.i18n import error_text, language, lazy, t
from playground.navigation import VIEWS
from playground.tokens_view import chips_html, window_rows_html

CHIP_LIMIT = 2000
TABLE_LIMIT = 2000
UPLOAD_LIMIT = 2 * 1024 * 1024
BPE_TEXT_LIMIT = 200_000
COMPARE_CHIPS = 400  # chips per encoding side by side
CHAT_LIMIT = 5_000  # characters per chat message


@st.cache_data(show_spinner=False, max_entries=64)
def encode(text: str, name: str, allow_special: bool) -> list[int]:
    return load_tokenizer(name).encode(text, allow_special=allow_special)


@st.cache_data(show_spinner=lazy("spin.bpe"), max_entries=16)
def learn_bpe(text: str, n_merges: int) -> list[bpe.Merge]:
    return bpe.train_bpe(text, n_merges)


def use_example():
    st.session_state["tokens.text"] = TOKEN_EXAMPLES[st.session_state["tokens.example"]]


PAGE = "tokens"
SHARE = {"text": share.Param("tokens.text"), "encoding": share.Param("tokens.encoding", choices=TOKENIZER_NAMES),
         "view": share.Param("tokens.view", choices=tuple(VIEWS[PAGE]))}

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
    upload = right.file_uploader(t("tokens.upload"), type=["txt"], key="tokens.upload", max_upload_size=2)
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

    c1, c2 = ui.controls_row(st, 2)
    model = ui.current_model()
    model_tok = model.config.tokenizer
    encoding = c1.radio(t("tokens.encoding"), TOKENIZER_NAMES, horizontal=True, key="tokens.encoding",
                        format_func=lambda n: t("tokens.the_models", name=n) if n == model_tok else n)
    allow_special = c2.toggle(t("tokens.special"), key="tokens.special", help=t("tokens.special_help"))

if not text:
    st.info(t("tokens.empty"))
    st.stop()

tokenizer = load_tokenizer(encoding)
ids = encode(text, encoding, allow_special)
stats = text_stats(text, ids)

# --- token view ---------------------------------------------------------------------------------------
with side:
    view = ui.view(PAGE)

with stage:
    if view == "tokens":
        ui.explain(t("tokens.explain2"), side)
        m = st.columns(4)
        m[0].metric(t("tokens.characters"), f"{stats.chars:,}")
        m[1].metric(t("tokens.tokens"), f"{stats.tokens:,}")
        m[2].metric(t("tokens.chars_per_token"), f"{stats.chars_per_token:.2f}")
        m[3].metric(t("tokens.words_per_token"), f"{stats.words_per_token:.2f}")
        shown = ids[:CHIP_LIMIT]
        st.html(chips_html(tokenizer.pieces(shown), shown, [tokenizer.token_bytes(i) for i in shown], CHIP_LIMIT))
        if len(ids) > CHIP_LIMIT:
            st.caption(t("tokens.hidden", shown=f"{CHIP_LIMIT:,}", total=f"{len(ids):,}", hidden=f"{len(ids) - CHIP_LIMIT:,}"))
        if "<|endoftext|>" in text:
            other = encode(text, encoding, not allow_special)
            plain, special = (other, ids) if allow_special else (ids, other)
            st.markdown(t("tokens.special_diff", n=len(plain) - len(special) + 1,
                          id=tokenizer.special_tokens["<|endoftext|>"]))
            ui.table(st, {"as plain text": [str(plain[:40])], "as special token": [str(special[:40])]})
        st.markdown(t("tokens.every_token"))
        rows = token_rows(tokenizer, ids[:TABLE_LIMIT])
        ui.table(st, rows, height=280)
        st.markdown(t("tokens.id_list"))
        st.code(json.dumps(ids), language="json", wrap_lines=True)

    elif view == "compare":
        ui.explain(t("tokens.explain3"), side)
        names, counts, cpt, wpt = [], [], [], []
        for name in TOKENIZER_NAMES:
            s = text_stats(text, encode(text, name, allow_special))
            label = t("tokens.model_encoding", name=name) if name == model_tok else name
            names.append(label)
            counts.append(s.tokens)
            cpt.append(s.chars_per_token)
            wpt.append(s.words_per_token)
        table = pd.DataFrame({"encoding": names, "characters": stats.chars, "words": stats.words, "tokens": counts,
                              "characters per token": [round(c, 2) for c in cpt],
                              "words per token": [round(w, 2) for w in wpt]})
        cols = st.columns(len(TOKENIZER_NAMES))  # the same text as chips in each encoding, side by side
        for col, name, label, n in zip(cols, TOKENIZER_NAMES, names, counts):
            other = load_tokenizer(name)
            some = encode(text, name, allow_special)[:COMPARE_CHIPS]
            col.markdown(t("tokens.encoding_chips", name=label, n=f"{n:,}"))
            col.html(chips_html(other.pieces(some), some, [other.token_bytes(i) for i in some]))
        if max(counts) > COMPARE_CHIPS:
            st.caption(t("tokens.first_chips", n=COMPARE_CHIPS))
        ui.table(st, table)
        ui.chart(st, figures.encodings_bar(names, counts, cpt, wpt), key="tokens.compare_chart")
        gpt2_cpt = cpt[TOKENIZER_NAMES.index("gpt2")]
        verdict = t("tokens.close" if 3.3 <= gpt2_cpt <= 4.7 else "tokens.below" if gpt2_cpt < 3.3 else "tokens.above")
        st.markdown(t("tokens.rule_of_thumb", cpt=f"{gpt2_cpt:.2f}", wpt=f"{wpt[TOKENIZER_NAMES.index('gpt2')]:.2f}",
                      verdict=verdict))

    elif view == "chat":
        ui.explain(t(f"tokens.chat_{encoding}"), side)
        system = side.text_input(t("tokens.chat_system"), t("tokens.chat_system_example"), key="tokens.chat_system")
        user = side.text_area(t("tokens.chat_user"), t("tokens.chat_user_example"), key="tokens.chat_user", height=90)
        reply = side.toggle(t("tokens.chat_reply"), True, key="tokens.chat_reply")
        messages = [(role, content[:CHAT_LIMIT]) for role, content in (("system", system), ("user", user)) if content]
        chat, marks = chat_ids(tokenizer, messages, reply)
        plain = sum(len(encode(content, encoding, False)) for _, content in messages)
        st.markdown(t("tokens.chat_count", n=len(chat), format=CHAT_FORMATS[encoding].name, special=sum(marks),
                      plain=plain, extra=len(chat) - plain))
        st.html(chips_html([special_text(tokenizer, i) if m else tokenizer.token_text(i) for i, m in zip(chat, marks)],
                           chat, [(special_text(tokenizer, i) or "").encode() if m else tokenizer.token_bytes(i)
                                  for i, m in zip(chat, marks)], special=marks))
        st.code(json.dumps(chat), language="json", wrap_lines=True)

    elif view == "decode":
        ui.explain(t("tokens.explain4"), side)
        raw = st.text_input(t("tokens.ids"), value="15496, 995, 0, 50256", key="tokens.decode_ids")
        with ui.friendly_errors():
            pasted = parse_id_list(raw)
            decoded = tokenizer.decode(pasted)
            st.markdown(f"**{t('tokens.text')}**")
            st.code(decoded, language=None, wrap_lines=True)
            st.html(chips_html(tokenizer.pieces(pasted), pasted, limit=CHIP_LIMIT))

    elif view == "bpe":
        ui.explain(t("tokens.explain5"), side)
        sources = ["your text"] + list(CORPORA)
        b1, b2 = st.columns(2)
        source = b1.selectbox(t("tokens.learn_from"), sources, key="tokens.bpe_source",
                              format_func=lambda s: ui.word(s) if s == "your text" else ui.corpus_title(s))
        n_merges = b2.slider(t("tokens.n_merges"), 1, 500, 60, key="tokens.bpe_merges")
        corpus = text if source == "your text" else load_corpus(source)
        if len(corpus) > BPE_TEXT_LIMIT:
            st.caption(t("tokens.bpe_limit", limit=f"{BPE_TEXT_LIMIT:,}", total=f"{len(corpus):,}"))
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
                "right": shown(bpe.bytes_to_display(vocab[m.pair[1]])), "count": m.count, "new id": m.new_id,
                "new token": shown(m.text)} for m in learned])
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
            st.caption(t("tokens.windows", n=f"{len(windows):,}", context=context, total=f"{len(ids):,}"))
            for i in range(min(4, len(windows))):
                x, y = windows[i]
                st.markdown(t("tokens.window", n=i + 1, start=i * stride))
                st.html(window_rows_html([("input", tokenizer.pieces(x.tolist())),
                                          ("target", tokenizer.pieces(y.tolist()))]))

share.publish(SHARE, page=PAGE, outputs={"ids": ids[:5000], "tokens": len(ids), "characters": stats.chars})
