"""Training studio: set up a small pretraining run, watch it learn live, manage your runs."""

import time

import pandas as pd
import streamlit as st
import torch

from core.model.gpt import count_parameters
from core.tokens.encodings import TOKENIZER_NAMES
from core.training.data import CORPORA, decode_text
from core.training.estimates import eta_seconds, measure_step_seconds, memory_estimate_bytes
from core.training.pretrain import TrainConfig
from playground import figures, identity, run_view, ui
from playground.i18n import t
from playground.runs import checkpoint_zip, get_store, metrics_csv, save_upload

PRESETS = {  # name: (layers, heads, width, context)
    "tiny (2 layers, width 64)": (2, 2, 64, 64),
    "small (4 layers, width 128)": (4, 4, 128, 128),
    "GPT-2 124M shape (12 layers, width 768)": (12, 12, 768, 1024),
    "custom": None,
}
UPLOAD_LIMIT = 5 * 1024 * 1024

st.title(t("training.title"))
ui.explain(t("training.explain1"))
user = identity.current_user()
instructor = identity.is_instructor()
identity.identity_box()
store = get_store()
store.tick()

new_tab, runs_tab = st.tabs([t("training.tab_new"), t("training.tab_runs")])

with new_tab:
    st.markdown(t("training.data"))
    source = st.radio(t("training.text_from"), ["a bundled corpus", "upload a .txt file", "paste text"],
                      format_func=lambda o: t({"a bundled corpus": "training.src_bundled",
                                               "upload a .txt file": "training.src_upload",
                                               "paste text": "training.src_paste"}[o]),
                      horizontal=True, key="training.source")
    corpus, corpus_label = None, ""
    if source == "a bundled corpus":
        corpus = st.selectbox(t("training.corpus"), list(CORPORA), format_func=ui.corpus_title, key="training.corpus")
        corpus_label = CORPORA[corpus].title
    elif source == "upload a .txt file":
        upload = st.file_uploader(t("training.upload"), type=["txt"], key="training.upload",
                                  max_upload_size=5)
        if upload is not None:
            with ui.friendly_errors():
                corpus = save_upload(decode_text(upload.getvalue(), upload.name, UPLOAD_LIMIT))
                corpus_label = upload.name
    else:
        pasted = st.text_area(t("training.your_text"), key="training.pasted", height=150)
        if pasted.strip():
            corpus, corpus_label = save_upload(pasted), "pasted text"

    st.markdown(t("training.model"))
    m1, m2 = st.columns(2)
    tokenizer = m1.selectbox(t("training.tokenizer"), TOKENIZER_NAMES, key="training.tokenizer")
    preset = m2.selectbox(t("training.size"), list(PRESETS), key="training.preset",
                          format_func=lambda p: t("training.custom") if p == "custom" else p)
    layers, heads, width, context = PRESETS[preset] or (4, 4, 128, 128)
    if preset == "custom":
        c1, c2, c3, c4 = st.columns(4)
        layers = c1.number_input(t("training.layers"), 1, 48, layers, key="training.layers")
        heads = c2.number_input(t("training.heads"), 1, 64, heads, key="training.heads")
        width = c3.number_input(t("training.width"), 8, 4096, width, step=8, key="training.width")
        context = c4.number_input(t("training.context"), 8, 2048, context, step=8, key="training.context")

    st.markdown(t("training.training"))
    h1, h2, h3, h4 = st.columns(4)
    lr = h1.number_input(t("training.lr"), 1e-6, 1.0, 1e-3, format="%.5f", key="training.lr")
    batch = h2.number_input(t("training.batch"), 1, 512, 16, key="training.batch")
    steps = h3.number_input(t("training.steps"), 1, 1_000_000, 300, key="training.steps")
    warmup = h4.number_input(t("training.warmup"), 0, 100_000, 30, key="training.warmup")
    h5, h6, h7, h8 = st.columns(4)
    weight_decay = h5.number_input(t("training.wd"), 0.0, 1.0, 0.1, key="training.wd")
    dropout = h6.number_input(t("training.dropout"), 0.0, 0.9, 0.1, key="training.dropout")
    eval_interval = h7.number_input(t("training.eval"), 1, 100_000, 50, key="training.eval")
    devices = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    device = h8.selectbox(t("training.device"), devices, key="training.device",
                          help=t("training.device_help"))
    p1, p2, p3 = st.columns(3)
    precision = p1.selectbox(t("training.precision"), ["auto", "bf16", "fp32"], key="training.precision",
                             help=t("training.precision_help"))
    compile_model = p2.toggle("torch.compile", key="training.compile", help=t("training.compile_help"))
    name = p3.text_input(t("training.name"), "", key="training.name", placeholder=t("training.name_placeholder"))

    cfg = None
    with ui.friendly_errors():
        candidate = TrainConfig(corpus=corpus or "tinyshakespeare", tokenizer=tokenizer, n_layer=int(layers),
                          n_head=int(heads), n_embd=int(width), context_length=int(context), dropout=float(dropout),
                          batch_size=int(batch), steps=int(steps), lr=float(lr), min_lr=float(lr) / 10,
                          warmup_steps=int(warmup), weight_decay=float(weight_decay),
                          eval_interval=int(eval_interval), device=device, precision=precision,
                          compile=bool(compile_model), log_interval=max(1, int(steps) // 500))
        candidate.validate()
        cfg = candidate  # only settings that passed the checks can be started
        model_config = cfg.model_config()
        e1, e2, e3 = st.columns(3)
        e1.metric(t("training.parameters"), f"{count_parameters(model_config):,}")
        e2.metric(t("training.memory"), f"{memory_estimate_bytes(model_config, int(batch)) / 2**30:.2f} GiB")
        key = ("training.speed", str(model_config), int(batch), device)
        if st.session_state.get("training.speed_key") == key:
            per_step = st.session_state["training.speed"]
            e3.metric(t("training.time"), f"{per_step * int(steps) / 60:.1f} min",
                      help=t("training.per_step_help", ms=f"{per_step * 1000:.0f}"))
        elif e3.button(t("training.measure"), key="training.measure"):
            with st.spinner(t("training.timing")):
                dev = "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
                st.session_state["training.speed"] = measure_step_seconds(model_config, int(batch), dev)
                st.session_state["training.speed_key"] = key
            st.rerun()
    if st.button(t("training.start"), key="training.start", type="primary", disabled=cfg is None or corpus is None):
        with ui.friendly_errors():
            run = store.submit(cfg, owner=user, name=name.strip() or corpus_label)
            store.tick()
            st.session_state["training.selected"] = run.id
            st.success(t("training.started", name=run.name, state=store.get(run.id).state))


def run_label(run) -> str:
    return f"{run.name} · {run.id}"  # stable: a label that changed with the state would reset the choice


@st.fragment(run_every=1.0)
def live_view(run_id: str) -> None:
    """Refreshes every second while the page is open; the run itself lives in its own process."""
    store.tick()
    run = store.get(run_id)
    status, records = run_view.progress(run)
    train_rows = [r for r in records if "lr" in r]
    evals = [r for r in records if "val_loss" in r]
    total = max(1, status.get("steps") or run.config.get("steps") or 1)
    step = train_rows[-1]["step"] if train_rows else 0
    elapsed = train_rows[-1]["time"] if train_rows else 0.0
    s1, s2, s3, s4, s5 = st.columns(5)
    s1.metric(t("training.state"), ui.word(run.state))
    s2.metric(t("training.step"), f"{step:,} / {total:,}")
    eta = eta_seconds(step, total, elapsed) if run.state == "running" else None
    s3.metric(t("training.eta"), f"{eta / 60:.1f} min" if eta is not None else "–")
    s4.metric(t("training.val_loss"), f"{evals[-1]['val_loss']:.3f}" if evals else "–")
    s5.metric(t("training.tps"), f"{train_rows[-1]['tokens_per_s']:,.0f}" if train_rows else "–")
    if run.state == "queued":
        st.info(t("training.queued", n=store.queue_position(run_id), device=run.device))
    st.progress(min(1.0, step / total), text=f"{step / total:.0%}")
    run_view.show_reason(run)
    if train_rows:
        steps_x = [r["step"] for r in train_rows]
        ui.chart(st, run_view.loss_figure(train_rows, evals, smoothing=0.1), key=f"training.loss.{run_id}")
        g1, g2 = st.columns(2)
        ui.chart(g1, figures.metric_line([r["step"] for r in evals], [r["perplexity"] for r in evals],
                                            t("training.ppl"), "step", "perplexity", log_y=True),
                        key=f"training.ppl.{run_id}")
        ui.chart(g2, figures.metric_line(steps_x, [r["lr"] for r in train_rows], t("training.lr"),
                                            "step", "learning rate", figures.OKABE_ITO[3]), key=f"training.lr.{run_id}")
        g3, g4 = st.columns(2)
        ui.chart(g3, figures.metric_line(steps_x, [r["grad_norm"] for r in train_rows], t("training.grad_norm"), "step", "norm",
                                          figures.OKABE_ITO[5]), key=f"training.gn.{run_id}")
        ui.chart(g4, figures.metric_line(steps_x, [r["tokens_per_s"] for r in train_rows], t("training.speed_title"), "step",
                                            "tokens per second", figures.OKABE_ITO[4]), key=f"training.tps.{run_id}")
    if evals:
        st.markdown(t("training.samples"))
        for r in reversed(evals[-6:]):
            st.markdown(t("training.sample_head", step=r["step"], loss=f"{r['val_loss']:.3f}"))
            st.code(r["sample"], language=None, wrap_lines=True)
    if run.state not in ("queued", "running"):
        st.caption(t("training.device_used", device=status.get("device", run.device)))
        return


with runs_tab:
    runs = [r for r in store.visible(user, instructor) if r.kind == "pretrain"]
    if not runs:
        st.info(t("training.no_runs"))
    else:
        table = pd.DataFrame([{
            "run": r.name, "id": r.id, "state": ui.word(r.state),
            "owner": ui.word("you") if r.owner == user else (ui.word("shared") if r.shared else r.owner),
            "device": r.device, "steps": r.config["steps"],
            "queue position": store.queue_position(r.id) or "",
            "started": time.strftime("%H:%M:%S", time.localtime(r.started)) if r.started else ""} for r in runs])
        ui.table(st, table)
        ids = [r.id for r in runs]
        chosen = st.session_state.get("training.selected")
        selected = st.selectbox(t("training.run"), ids, index=ids.index(chosen) if chosen in ids else 0,
                                key="training.run_select",
                                format_func=lambda i: run_label(store.get(i)))
        run = store.get(selected)
        mine = run.owner == user or instructor
        b1, b2, b3, b4, b5, b6 = st.columns(6)
        with ui.friendly_errors():
            if b1.button(t("training.cancel"), key="training.cancel",
                         disabled=not mine or run.state not in ("queued", "running")):
                store.cancel(run.id, user, instructor)
                st.rerun()
            if b2.button(t("training.resume"), key="training.resume", disabled=not mine or run.state in ("queued", "running")):
                store.resume(run.id, user, instructor)
                store.tick()
                st.rerun()
            if b3.button(t("training.delete"), key="training.delete", disabled=not mine or run.state == "running"):
                store.delete(run.id, user, instructor)
                st.rerun()
            if instructor and b4.button(t("training.unshare") if run.shared else t("training.share"), key="training.share"):
                store.share(run.id, not run.shared, instructor)
                st.rerun()
        b5.download_button(t("training.csv"), metrics_csv(run.folder), f"{run.id}-metrics.csv", "text/csv",
                           key="training.csv")
        archive = checkpoint_zip(run.folder)
        b6.download_button(t("training.zip"), archive or b"", f"{run.id}.zip", "application/zip",
                           key="training.zip", disabled=archive is None)
        if archive is not None:
            st.caption(t("training.in_picker"))
        live_view(selected)
