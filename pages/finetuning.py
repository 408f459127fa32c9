"""Finetuning: teach the pretrained model a new job — spot spam, or follow instructions — and compare before/after."""

import pandas as pd
import streamlit as st

from core.errors import PlaygroundError
from core.model.lora import lora_parameter_count
from core.training.data import check_size
from core.training.finetune import DEFAULT_LR, FinetuneConfig
from core.training.finetune_data import (
    balanced_split,
    collate_instructions,
    format_prompt,
    instruction_example,
    load_instructions,
    load_sms,
    read_instructions,
    read_labelled_table,
    split_instructions,
)
from core.training.runfolder import FINAL_STATES
from playground import figures, identity, runs, state, ui
from playground.i18n import number, percent, t
from playground.run_view import (
    cached_classify,
    cached_next_tokens,
    cached_respond,
    get_run,
    loss_figure,
    pick_run,
    progress,
    results,
    show_reason,
    visible_runs,
)
from playground.tokens_view import masked_example_html

UPLOAD_LIMIT = 5 * 1024 * 1024

st.title(t("nav.finetuning"))
ui.explain(t("finetuning.explain1"))
user, instructor = identity.current_user(), identity.is_instructor()
identity.identity_box()
store = runs.store_or_stop()
with ui.friendly_errors():
    store.tick()
model = ui.current_model()
base_key = state.current_model_key()


def training_options(prefix: str, epochs: int, task: str) -> dict:
    def lr_follows_choice():  # LoRA wants a larger learning rate than training the weights themselves
        st.session_state[f"{prefix}.lr"] = DEFAULT_LR[task, st.session_state[f"{prefix}.what"]]

    o1, o2, o3, o4 = st.columns(4)
    trainable = o1.radio(t("finetuning.what"), ["last block + head", "all layers", "lora"], index=1, key=f"{prefix}.what",
                         format_func=lambda o: t({"last block + head": "finetuning.opt_last", "all layers": "finetuning.opt_all",
                                                  "lora": "finetuning.opt_lora"}[o]), on_change=lr_follows_choice)
    n_epochs = o2.number_input(t("finetuning.epochs"), 1, 50, epochs, key=f"{prefix}.epochs")
    rate = ui.choice(o3, t("finetuning.lr"), ui.LEARNING_RATES[:-4], DEFAULT_LR[task, trainable], key=f"{prefix}.lr")
    batch = o4.number_input(t("finetuning.batch"), 1, 128, 8, key=f"{prefix}.batch")
    rank, alpha = 8, 16
    total = model.num_parameters()
    if trainable == "lora":
        l1, l2 = st.columns(2)
        rank = l1.number_input(t("finetuning.rank"), 1, 256, 8, key=f"{prefix}.rank")
        alpha = ui.choice(l2, t("finetuning.alpha"), [2**i for i in range(10)], 16, key=f"{prefix}.alpha")
        n = lora_parameter_count(model, int(rank))
        st.caption(t("finetuning.lora_caption", n=number(n), share=percent(n / total, 2), total=number(total)))
    return dict(trainable=trainable, epochs=int(n_epochs), lr=float(rate), min_lr=float(rate) / 10,
                batch_size=int(batch), lora_rank=int(rank), lora_alpha=float(alpha))


def start(cfg: FinetuneConfig, name: str, key: str, upload: bytes | None) -> None:
    with ui.friendly_errors():
        run = store.submit(cfg, owner=user, name=name, upload=upload)
        store.tick()
        st.session_state[key] = run.id  # the run picker shows the new run
        if state.presenter():  # its live view is at the top, far above Start
            st.toast(t("finetuning.started_top", name=name))
            ui.scroll_to_top()
        else:
            st.success(t("finetuning.started", name=name))


def sections(runs_of_kind: list | None):
    """(view, form) of a task's tab: the form for a new run, then the chosen run's live view; on a projector, when
    this participant has runs of this kind, the view comes first (on the first screen) and the form folds away."""
    if state.presenter() and runs_of_kind:
        view = st.container()
        return view, st.expander(t("finetuning.new_run"), icon=":material/add:")
    form = st.container()
    return st.container(), form


def live(view, run) -> None:
    """A run's view, redrawn every two seconds while it is queued or running, drawn once when it has ended."""
    st.fragment(view, run_every=2.0 if run.state not in FINAL_STATES else None)(run.id, run.state not in FINAL_STATES)


def run_progress(run_id: str, polling: bool):
    """Shared top of both live views: the run's state, progress, loss curves and truncation counts; returns the run
    and its evaluation records."""
    with ui.friendly_errors():
        store.tick()
    run = get_run(store, run_id)
    if run is None:  # deleted meanwhile (in another tab)
        return None, []
    if polling and run.state in FINAL_STATES:
        st.rerun(scope="app")  # once: the polling stops and the page shows the results
    status, records = progress(run)
    train_rows = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    total = max(1, status.get("steps") or 1)
    step = train_rows[-1]["step"] if train_rows else 0
    st.progress(min(1.0, step / total), text=t("finetuning.progress", state=t(f"runs.state_{run.state}"), step=step,
                                                          total=total))
    show_reason(run)
    if train_rows:
        ui.chart(st, loss_figure(train_rows, evals), key=f"finetuning.loss.{run.id}")
    if status.get("truncated") and any(status["truncated"].values()):
        st.caption(t("finetuning.truncated") + ", ".join(f"{n} {k}" for k, n in status["truncated"].items()))
    return run, evals


def checked_upload(upload) -> bytes | None:
    """The uploaded file's bytes, refused by its size before anything reads or parses it."""
    if upload is None:
        return None
    check_size(upload.size, upload.name, UPLOAD_LIMIT)
    return upload.getvalue()


classify_tab, instruct_tab, compare_tab = st.tabs([t("finetuning.tab_cls"), t("finetuning.tab_ins"), t("finetuning.tab_cmp")])

with classify_tab:
    ui.explain(t("finetuning.explain2"))
    cls_runs = visible_runs(store, ("classify",), user, instructor)  # read once: the layout and the picker
    cls_view, cls_form = sections(cls_runs)
with cls_form:
    upload = ui.file_uploader(st, t("finetuning.upload_cls"), key="finetuning.cls_upload", types=["tsv", "csv", "txt"],
                              max_mb=5)
    with ui.friendly_errors():
        raw = checked_upload(upload)
        if raw is not None:
            rows, classes = read_labelled_table(raw, upload.name)
        else:
            rows, classes = load_sms()
        train_rows, val_rows, test_rows = balanced_split(rows)
        counts = pd.Series([classes[r.label] for r in rows]).value_counts()
        st.markdown(t("finetuning.data", n=number(len(rows)), counts=", ".join(f"{c}: {number(n)}" for c, n in counts.items()),
                      train=number(len(train_rows)), val=number(len(val_rows)), test=number(len(test_rows))))
        ui.table(st, [{"label": classes[r.label], "text": r.text} for r in train_rows[:6]])
        options = training_options("finetuning.cls", 5, "classify")
        if st.button(t("finetuning.start_cls"), key="finetuning.cls_start", type="primary"):
            start(FinetuneConfig(task="classify", init_from=base_key, **options),
                  t("finetuning.run_cls", base=base_key.split("/")[-1]), "finetuning.cls_run", raw)
            cls_runs = visible_runs(store, ("classify",), user, instructor)  # with the new run
with cls_view:
    run = pick_run(cls_runs, "finetuning.cls_run")


def classification_view(run_id: str, polling: bool) -> None:
    run, evals = run_progress(run_id, polling)
    if run is None:
        return
    if evals:
        ui.chart(st, figures.accuracy_curves([r["step"] for r in evals], [r["train_accuracy"] for r in evals],
                                                [r["val_accuracy"] for r in evals]), key=f"finetuning.acc.{run.id}")
    res = results(run)
    if res:
        m1, m2, m3 = st.columns(3)
        m1.metric(t("finetuning.test_acc"), percent(res["test_accuracy"]))
        m2.metric(t("finetuning.trainable"), number(res["trainable_parameters"]))
        m3.metric(t("finetuning.wall"), t("finetuning.wall_value", s=number(res["wall_time_s"]), device=res["device"]))
        ui.chart(st, figures.confusion_matrix(res["confusion"], res["classes"]), key=f"finetuning.cm.{run.id}")
        if res["misclassified"]:
            st.markdown(t("finetuning.wrong"))
            ui.table(st, res["misclassified"])
        st.markdown(t("finetuning.try"))
        message = st.text_input(t("finetuning.message"), "Congratulations! You won a free cruise. Call 0800 now to claim.",
                                key="finetuning.cls_try")
        if message.strip():
            with ui.friendly_errors():
                labels, probs = cached_classify(str(run.folder / "best"), message)
                st.markdown(" · ".join(f"**{label}**: {percent(p)}" for label, p in zip(labels, probs)))
    elif run.state not in ("queued", "running"):
        st.caption(t("finetuning.no_results"))


with cls_view:
    if run is not None:
        live(classification_view, run)

with instruct_tab:
    ui.explain(t("finetuning.explain3"))
    ins_runs = visible_runs(store, ("instruct",), user, instructor)  # read once: the layout and the picker
    ins_view, ins_form = sections(ins_runs)
with ins_form:
    upload = ui.file_uploader(st, t("finetuning.upload_ins"), key="finetuning.ins_upload", types=["json"], max_mb=5)
    with ui.friendly_errors():
        raw = checked_upload(upload)
        records_in = read_instructions(raw, upload.name) if raw is not None else load_instructions()
        split_instructions(records_in)  # too few records: one sentence here, not a failed run
        st.markdown(t("finetuning.template"))
        st.code(format_prompt("{instruction}", "{input}") + "{output}<|endoftext|>", language=None, wrap_lines=True)
        st.markdown(t("finetuning.batch_view"))
        tok = model.tokenizer
        examples = [instruction_example(tok, r, min(200, model.config.context_length - 1)) for r in records_in[:3]]
        x, y = collate_instructions([(i, t) for i, t, _ in examples], tok.eot_id)
        for row in range(x.shape[0]):
            length = len(examples[row][0])
            st.html(masked_example_html(tok.pieces(x[row].tolist()), y[row].tolist(), length))
        options = training_options("finetuning.ins", 2, "instruct")
        if st.button(t("finetuning.start_ins"), key="finetuning.ins_start", type="primary"):
            start(FinetuneConfig(task="instruct", init_from=base_key, max_tokens=200, eval_interval=100, **options),
                  t("finetuning.run_ins", base=base_key.split("/")[-1]), "finetuning.ins_run", raw)
            ins_runs = visible_runs(store, ("instruct",), user, instructor)  # with the new run
with ins_view:
    run = pick_run(ins_runs, "finetuning.ins_run")


def instruction_view(run_id: str, polling: bool) -> None:
    run, _ = run_progress(run_id, polling)
    if run is None:
        return
    res = results(run)
    if res:
        st.metric(t("finetuning.best_val"), number(res["best_val_loss"], 3))
        st.markdown(t("finetuning.held_out", score=number(res["mean_fuzzy"], 2)))
        ui.table(st, [{"instruction": e["instruction"] + (f" [{e['input']}]" if e["input"] else ""),
                       "before_finetuning": e["before"], "after_finetuning": e["after"], "reference": e["expected"],
                       "fuzzy": number(e["fuzzy"], 2)} for e in res["examples"]])
        instruction = st.text_input(t("finetuning.try_ins"), "Rewrite the sentence in passive voice.",
                                    key="finetuning.ins_try")
        extra = st.text_input(t("finetuning.input"), "The chef cooked the meal.", key="finetuning.ins_try_input")
        if instruction.strip():
            with ui.friendly_errors():
                st.code(cached_respond(str(run.folder / "best"), instruction, extra), language=None, wrap_lines=True)


with ins_view:
    if run is not None:
        live(instruction_view, run)

with compare_tab:
    ui.explain(t("finetuning.explain4"))
    visible = visible_runs(store, ("instruct", "classify"), user, instructor)
    finetuned = [r for r in visible or [] if r.state == "finished" and r.files.folder(r.files.BEST) is not None]
    if visible is not None and not finetuned:
        st.info(t("finetuning.first"))
    elif finetuned:
        chosen = st.selectbox(t("finetuning.model"), [r.id for r in finetuned], key="finetuning.cmp_run",
                              format_func=lambda i: next(f"{r.name} · {r.id}" for r in finetuned if r.id == i))
        tuned_key = str(next(r for r in finetuned if r.id == chosen).folder / "best")
        prompt = st.text_area(t("finetuning.prompt"), format_prompt("Name a fruit that is yellow."), key="finetuning.cmp_prompt")
        with ui.friendly_errors():
            if not prompt.strip():
                raise PlaygroundError(t("finetuning.need_prompt"))
            c1, c2 = st.columns(2)
            for col, (label, key) in zip((c1, c2), (("base", base_key), ("finetuned", tuned_key))):
                answer = cached_next_tokens(key, prompt)  # computed once per model and prompt
                ui.chart(col, figures.distribution_bars(answer["pieces"], answer["probs"], answer["logits"],
                                                        t("finetuning.next_token", label=t(f"finetuning.model_{label}"))),
                         key=f"finetuning.cmp.{label}")
                col.code(answer["continuation"], language=None, wrap_lines=True)
