"""Training studio: set up a small pretraining run, watch it learn live, manage your runs."""

import time

import pandas as pd
import streamlit as st
import torch

from core.model.families import ARCHS, count_parameters
from core.tokens.encodings import TOKENIZER_NAMES, load_tokenizer
from core.training.common import pick_device
from core.training.data import CORPORA, check_size, decode_text
from core.training.estimates import check_memory, eta_seconds, measure_in_subprocess, memory_estimate_bytes
from core.training.pretrain import TrainConfig
from core.training.runfolder import FINAL_STATES
from playground import figures, identity, run_view, runs, state, ui
from playground.i18n import number, percent, t
from playground.sampling_controls import shown_text

PRESETS = {  # id: (layers, heads, width, context); shown as t("training.preset_<id>")
    "tiny": (2, 2, 64, 64),
    "small": (4, 4, 128, 128),
    "gpt2": (12, 12, 768, 1024),
    "custom": None,
}
SOURCES = ("bundled", "upload", "paste")  # where the text comes from; shown as t("training.src_<id>")
UPLOAD_LIMIT = 5 * 1024 * 1024
TAB = "training.tab"  # the open tab's label
STARTED = "training.started_note"  # a run was started: its sentence, shown once under 'Your runs'

st.title(t("training.title"))
ui.explain(t("training.explain1"))
user = identity.current_user()
instructor = identity.is_instructor()
identity.identity_box()
store = runs.store_or_stop()
with ui.friendly_errors():
    store.tick()

runs_list = run_view.visible_runs(store, ("pretrain",), user, instructor)
tab_names = [t("training.tab_new"), t("training.tab_runs")]
if st.session_state.get(STARTED):  # Start opens the new run, live, under 'Your runs'
    st.session_state[TAB] = tab_names[1]
# A projector opens on the runs' live figures when there are runs; the form is one click away.
new_tab, runs_tab = st.tabs(tab_names, key=TAB, on_change="rerun",
                            default=tab_names[1] if state.presenter() and runs_list else None)

with new_tab:
    st.markdown(t("training.data"))
    source = st.radio(t("training.text_from"), SOURCES, format_func=lambda o: t(f"training.src_{o}"),
                      horizontal=True, key="training.source")
    corpus, corpus_label, upload_bytes = None, "", None  # an upload or pasted text is written only on Start
    if source == "bundled":
        corpus = st.selectbox(t("training.corpus"), list(CORPORA), format_func=ui.corpus_title, key="training.corpus")
        corpus_label = ui.corpus_title(corpus)  # the run is named in the session's language
    elif source == "upload":
        upload = ui.file_uploader(st, t("training.upload"), key="training.upload", types=["txt"],
                                  max_mb=UPLOAD_LIMIT // 2**20)
        if upload is not None:
            with ui.friendly_errors():
                check_size(upload.size, upload.name, UPLOAD_LIMIT)
                upload_bytes = upload.getvalue()
                decode_text(upload_bytes, upload.name, UPLOAD_LIMIT)
                corpus, corpus_label = upload.name, upload.name
    else:
        pasted = st.text_area(t("training.your_text"), key="training.pasted", height=150, max_chars=UPLOAD_LIMIT // 4)
        if pasted.strip():
            with ui.friendly_errors():
                upload_bytes = pasted.encode("utf-8", "replace")
                check_size(len(upload_bytes), t("training.src_paste"), UPLOAD_LIMIT)
                corpus, corpus_label = "pasted text", t("training.src_paste")

    st.markdown(t("training.model"))
    arch = st.selectbox(t("training.arch"), ARCHS, format_func=lambda a: t(f"training.arch_{a}"),
                        key="training.arch", help=t("training.arch_help"))
    m1, m2 = st.columns(2)
    tokenizer = m1.selectbox(t("training.tokenizer"), [*TOKENIZER_NAMES, "bpe"], key="training.tokenizer",
                             format_func=lambda n: t("training.tok_bpe") if n == "bpe" else n)
    if tokenizer == "bpe":  # learned in the run's process, from the training part of the corpus
        merges = m1.number_input(t("training.merges"), 1, 8000, 2000, step=100, key="training.merges",
                                 help=t("training.merges_help"))
        tokenizer = f"bpe-{int(merges)}"
    preset = m2.selectbox(t("training.size"), list(PRESETS), key="training.preset",
                          format_func=lambda p: t(f"training.preset_{p}"))
    layers, heads, width, context = PRESETS[preset] or (4, 4, 128, 128)
    if preset == "custom":
        c1, c2, c3, c4 = st.columns(4)
        layers = c1.number_input(t("training.layers"), 1, 48, layers, key="training.layers")
        heads = c2.number_input(t("training.heads"), 1, 64, heads, key="training.heads")
        width = c3.number_input(t("training.width"), 8, 4096, width, step=8, key="training.width")
        context = c4.number_input(t("training.context"), 8, 2048, context, step=8, key="training.context")
    # GPT-2: a key/value head per query head; Llama: pairs of query heads share one, so the groups show
    kv_heads = int(heads) // 2 if arch == "llama" and int(heads) % 2 == 0 else int(heads)
    if preset == "custom" and arch == "llama":
        kv_heads = st.number_input(t("training.kv_heads"), 1, int(heads), kv_heads, key="training.kv_heads",
                                   help=t("training.kv_heads_help"))

    st.markdown(t("training.training"))
    h1, h2, h3, h4 = st.columns(4)
    lr = ui.choice(h1, t("training.lr"), ui.LEARNING_RATES, 1e-3, key="training.lr")
    batch = h2.number_input(t("training.batch"), 1, 512, 16, key="training.batch")
    steps = h3.number_input(t("training.steps"), 1, store.limits.max_steps, 300, key="training.steps")
    warmup = h4.number_input(t("training.warmup"), 0, 100_000, 30, key="training.warmup")
    h5, h6, h7, h8 = st.columns(4)
    weight_decay = ui.choice(h5, t("training.wd"), (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0), 0.1, key="training.wd")
    dropout = ui.choice(h6, t("training.dropout"), [i / 20 for i in range(19)], 0.1, key="training.dropout")
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
        candidate = TrainConfig(corpus=corpus if source == "bundled" else "tinyshakespeare", tokenizer=tokenizer,
                                arch=arch, n_layer=int(layers), n_head=int(heads), n_kv_head=int(kv_heads),
                                n_embd=int(width), context_length=int(context),
                                dropout=float(dropout), batch_size=int(batch), steps=int(steps), lr=float(lr),
                                min_lr=float(lr) / 10, warmup_steps=int(warmup), weight_decay=float(weight_decay),
                                eval_interval=int(eval_interval), device=device, precision=precision,
                                compile=bool(compile_model), log_interval=max(1, int(steps) // 500),
                                measure=False)  # a pass over the held-out text would lengthen every participant's run
        candidate.validate()
        model_config = candidate.model_config()
        e1, e2, e3 = st.columns(3)
        e1.metric(t("training.parameters"), number(count_parameters(model_config)))
        run_device = pick_device(device)
        e2.metric(t("training.memory"), f"{number(memory_estimate_bytes(model_config, int(batch)) / 2**30, 2)} GiB")
        check_memory(model_config, int(batch), run_device)  # a run that cannot fit is refused here, before Start
        cfg = candidate  # only settings that passed the checks can be started
        key = ("training.speed", str(model_config), int(batch), str(run_device))
        if st.session_state.get("training.speed_key") == key:
            per_step = st.session_state["training.speed"]
            e3.metric(t("training.time"), f"{number(per_step * int(steps) / 60, 1)} min",
                      help=t("training.per_step_help", ms=number(per_step * 1000)))
        elif e3.button(t("training.measure"), key="training.measure", help=t("training.measure_help")):
            with st.spinner(t("training.timing")):  # in its own short-lived process, never in this server
                st.session_state["training.speed"] = measure_in_subprocess(model_config, int(batch), str(run_device))
                st.session_state["training.speed_key"] = key
            st.rerun()
    if st.button(t("training.start"), key="training.start", type="primary", disabled=cfg is None or corpus is None):
        with ui.friendly_errors():
            run = store.submit(cfg, owner=user, name=name.strip() or corpus_label, upload=upload_bytes)
            store.tick()
            st.session_state["training.run_select"] = run.id  # the new run is the one shown under 'Your runs'
            st.session_state[STARTED] = t("training.started", name=run.name,
                                          state=t(f"runs.state_{store.get(run.id).state}"))
            st.rerun()


def run_label(run) -> str:
    return f"{run.name} · {run.id}"  # stable: a label that changed with the state would reset the choice


def live_view(run_id: str) -> None:
    """The chosen run, redrawn every second while it is queued or running (its process lives on its own); a run
    that has ended is drawn once and not polled."""
    run = run_view.get_run(store, run_id)
    if run is None:
        return
    active = run.state not in FINAL_STATES
    st.fragment(_live_body, run_every=1.0 if active else None)(run_id, active)


def _live_body(run_id: str, polling: bool) -> None:
    with ui.friendly_errors():
        store.tick()
    run = run_view.get_run(store, run_id)
    if run is None:  # deleted meanwhile (in another tab)
        return
    if polling and run.state in FINAL_STATES:
        st.rerun(scope="app")  # once: the buttons and downloads above follow the new state, the polling stops
    status, records = run_view.progress(run)
    train_rows = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    total = max(1, status.get("steps") or run.config.get("steps") or 1)
    step = train_rows[-1]["step"] if train_rows else 0
    elapsed = train_rows[-1]["time"] if train_rows else 0.0
    # On a projector the loss curve comes first (on the first screen), the figures in numbers below it.
    curve = st.container() if state.presenter() else None
    s1, s2, s3, s4, s5 = st.columns(5)
    s1.metric(t("training.state"), t(f"runs.state_{run.state}"))
    s2.metric(t("training.step"), f"{number(step)} / {number(total)}")
    eta = eta_seconds(step, total, elapsed) if run.state == "running" else None
    s3.metric(t("training.eta"), f"{number(eta / 60, 1)} min" if eta is not None else "–")
    s4.metric(t("training.val_loss"), number(evals[-1]['val_loss'], 3) if evals else "–")
    s5.metric(t("training.tps"), number(train_rows[-1]['tokens_per_s']) if train_rows else "–")
    if run.state == "queued":
        st.info(t("training.queued", n=store.queue_position(run_id), device=run.device))
    elif run.state == "running" and store.waiting(run):
        st.info(t("training.cluster_queue"))
    st.progress(min(1.0, step / total), text=percent(step / total, 0))
    run_view.show_reason(run)
    if train_rows:
        steps_x = [r["step"] for r in train_rows]
        ui.chart(curve or st, run_view.loss_figure(train_rows, evals, smoothing=0.1), key=f"training.loss.{run_id}")
        g1, g2 = st.columns(2)
        if evals:  # no empty frame before the first evaluation
            ui.chart(g1, figures.metric_line([r["step"] for r in evals], [r["perplexity"] for r in evals],
                                             t("training.ppl"), t("fig.step"), t("fig.perplexity"), log_y=True),
                     key=f"training.ppl.{run_id}")
        else:
            g1.caption(t("training.ppl_later", n=run.config.get("eval_interval", "–")))
        ui.chart(g2, figures.metric_line(steps_x, [r["lr"] for r in train_rows], t("training.lr"),
                                         t("fig.step"), t("fig.learning_rate"), figures.OKABE_ITO[3]),
                 key=f"training.lr.{run_id}")
        g3, g4 = st.columns(2)
        ui.chart(g3, figures.metric_line(steps_x, [r["grad_norm"] for r in train_rows], t("training.grad_norm"),
                                         t("fig.step"), t("fig.norm"), figures.OKABE_ITO[5]), key=f"training.gn.{run_id}")
        ui.chart(g4, figures.metric_line(steps_x, [r["tokens_per_s"] for r in train_rows], t("training.speed_title"),
                                         t("fig.step"), t("fig.tokens_per_second"), figures.OKABE_ITO[4]),
                 key=f"training.tps.{run_id}")
    if evals:
        st.markdown(t("training.samples"))
        # A tokenizer the run learnt (bpe-<N>) lives in its folder; a shipped one is loaded by name.
        tokenizer = (load_tokenizer(run.folder) if run.files.has_tokenizer()
                     else load_tokenizer(run.config.get("tokenizer", "gpt2")))
        for r in reversed(evals[-6:]):
            st.markdown(t("training.sample_head", step=r["step"], loss=number(r["val_loss"], 3)))
            st.code(shown_text(r["sample"], tokenizer), language=None, wrap_lines=True)
    if run.state in FINAL_STATES:
        st.caption(t("training.device_used", device=status.get("device", run.device)))


with runs_tab:
    if started := st.session_state.pop(STARTED, None):
        (st.toast if state.presenter() else st.success)(started)
        ui.scroll_to_top()  # Start was far down the form
    if runs_list == []:
        st.info(t("training.no_runs"))
    elif runs_list:
        table = pd.DataFrame([{
            "run": r.name, "id": r.id, "state": t(f"runs.state_{r.state}"),
            "owner": t("runs.you") if r.owner == user else (t("runs.shared") if r.shared else r.owner),
            "device": run_view.device_of(r), "steps": number(r.config["steps"]) if isinstance(r.config.get("steps"), int) else "",
            "queue_position": store.queue_position(r.id) or "",
            "started": time.strftime("%H:%M:%S", time.localtime(r.started)) if r.started else ""} for r in runs_list])
        # On a projector the table, the choice and the actions fold away: the chosen run's figure has the first screen.
        manage = st.expander(t("training.all_runs", n=len(runs_list))) if state.presenter() else st.container()
        ui.table(manage, table)
        by_id = {r.id: r for r in runs_list}
        if st.session_state.get("training.run_select") not in by_id:
            st.session_state.pop("training.run_select", None)  # a run deleted meanwhile: show the newest
        selected = manage.selectbox(t("training.run"), list(by_id), key="training.run_select",
                                    format_func=lambda i: run_label(by_id[i]))
        run = by_id[selected]
        mine = run.owner == user or instructor
        b1, b2, b3, b4, b5, b6 = manage.columns(6)
        with ui.friendly_errors():
            if b1.button(t("training.cancel"), key="training.cancel",
                         disabled=not mine or run.state in FINAL_STATES):
                store.cancel(run.id, user, instructor)
                st.rerun()
            if b2.button(t("training.resume"), key="training.resume", disabled=not mine or run.state not in FINAL_STATES):
                store.resume(run.id, user, instructor)
                store.tick()
                st.rerun()
            if b3.button(t("training.delete"), key="training.delete", disabled=not mine or run.state == "running"):
                store.delete(run.id, user, instructor)
                st.rerun()
            if instructor and b4.button(t("training.unshare") if run.shared else t("training.share"), key="training.share"):
                store.share(run.id, not run.shared, instructor)
                st.rerun()
        # Both files are made only when their button is clicked (a checkpoint zip can be large).
        b5.download_button(t("training.csv"), lambda folder=run.folder: runs.metrics_csv(folder),
                           f"{run.id}-metrics.csv", "text/csv", key="training.csv")
        has_weights = run.files.model_folder() is not None
        b6.download_button(t("training.zip"), lambda folder=run.folder: runs.checkpoint_zip(folder) or b"",
                           f"{run.id}.zip", "application/zip", key="training.zip", disabled=not has_weights)
        if has_weights:
            manage.caption(t("training.in_picker"))
        live_view(selected)
