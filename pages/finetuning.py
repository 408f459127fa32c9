"""Finetuning: teach the pretrained model a new job — spot spam, or follow instructions — and compare before/after."""

import pandas as pd
import streamlit as st
import torch

from core.errors import PlaygroundError
from core.inference.generate import generate
from core.inference.sampling import softmax
from core.model.lora import lora_parameter_count
from core.training.data import decode_text
from core.training.finetune import FinetuneConfig, classify, respond
from core.training.finetune_data import (
    balanced_split,
    collate_instructions,
    format_prompt,
    instruction_example,
    load_instructions,
    load_sms,
    read_instructions,
    read_labelled_table,
)
from playground import figures, identity, loaders, state, ui
from playground.i18n import t
from playground.run_view import classifier, loss_figure, pick_run, progress, results, show_reason
from playground.runs import get_store, save_upload
from playground.tokens_view import masked_example_html

UPLOAD_LIMIT = 5 * 1024 * 1024

st.title(t("nav.finetuning"))
ui.explain(t("finetuning.explain1"))
user, instructor = identity.current_user(), identity.is_instructor()
identity.identity_box()
store = get_store()
store.tick()
model = ui.current_model()
base_key = state.current_model_key()


def training_options(prefix: str, epochs: int, lr: float) -> dict:
    o1, o2, o3, o4 = st.columns(4)
    trainable = o1.radio(t("finetuning.what"), ["last block + head", "all layers", "lora"], index=1, key=f"{prefix}.what",
                         format_func=lambda o: t({"last block + head": "finetuning.opt_last", "all layers": "finetuning.opt_all",
                                                  "lora": "finetuning.opt_lora"}[o]))
    n_epochs = o2.number_input(t("finetuning.epochs"), 1, 50, epochs, key=f"{prefix}.epochs")
    rate = o3.number_input(t("finetuning.lr"), 1e-6, 1e-1, lr, format="%.5f", key=f"{prefix}.lr")
    batch = o4.number_input(t("finetuning.batch"), 1, 128, 8, key=f"{prefix}.batch")
    rank, alpha = 8, 16.0
    total = model.num_parameters()
    if trainable == "lora":
        l1, l2 = st.columns(2)
        rank = l1.number_input(t("finetuning.rank"), 1, 256, 8, key=f"{prefix}.rank")
        alpha = l2.number_input(t("finetuning.alpha"), 1.0, 512.0, 16.0, key=f"{prefix}.alpha")
        n = lora_parameter_count(model, int(rank))
        st.caption(t("finetuning.lora_caption", n=f"{n:,}", share=f"{n / total:.2%}", total=f"{total:,}"))
    return dict(trainable=trainable, epochs=int(n_epochs), lr=float(rate), min_lr=float(rate) / 10,
                batch_size=int(batch), lora_rank=int(rank), lora_alpha=float(alpha))


def start(cfg: FinetuneConfig, name: str, key: str) -> None:
    with ui.friendly_errors():
        run = store.submit(cfg, owner=user, name=name)
        store.tick()
        st.session_state[f"{key}.last"] = run.id
        st.success(t("finetuning.started", name=name))


def run_progress(run_id: str):
    """Shared top of both live views: the run's state, progress, loss curves and truncation counts."""
    store.tick()
    run = store.get(run_id)
    status, records = progress(run)
    train_rows = [r for r in records if "train_loss" in r and "val_loss" not in r]
    evals = [r for r in records if "val_loss" in r]
    total = max(1, status.get("steps") or 1)
    step = train_rows[-1]["step"] if train_rows else 0
    st.progress(min(1.0, step / total), text=t("finetuning.progress", state=ui.word(run.state), step=step, total=total))
    show_reason(run)
    if train_rows:
        ui.chart(st, loss_figure(train_rows, evals), key=f"finetuning.loss.{run.id}")
    if status.get("truncated") and any(status["truncated"].values()):
        st.caption(t("finetuning.truncated") + ", ".join(f"{n} {k}" for k, n in status["truncated"].items()))
    return run, records


classify_tab, instruct_tab, compare_tab = st.tabs([t("finetuning.tab_cls"), t("finetuning.tab_ins"), t("finetuning.tab_cmp")])

with classify_tab:
    ui.explain(t("finetuning.explain2"))
    upload = st.file_uploader(t("finetuning.upload_cls"),
                              type=["tsv", "csv", "txt"], key="finetuning.cls_upload", max_upload_size=5)
    data_path = ""
    with ui.friendly_errors():
        if upload is not None:
            raw = upload.getvalue()
            rows, classes = read_labelled_table(raw, upload.name)
            data_path = save_upload(decode_text(raw, upload.name, UPLOAD_LIMIT))
        else:
            rows, classes = load_sms()
        train_rows, val_rows, test_rows = balanced_split(rows)
        counts = pd.Series([classes[r.label] for r in rows]).value_counts()
        st.markdown(t("finetuning.data", n=f"{len(rows):,}", counts=", ".join(f"{c}: {n:,}" for c, n in counts.items()),
                      train=len(train_rows), val=len(val_rows), test=len(test_rows)))
        ui.table(st, [{"label": classes[r.label], "text": r.text} for r in train_rows[:6]])
        options = training_options("finetuning.cls", 5, 5e-4)
        if st.button(t("finetuning.start_cls"), key="finetuning.cls_start", type="primary"):
            start(FinetuneConfig(task="classify", init_from=base_key, data=data_path, **options),
                  t("finetuning.run_cls", base=base_key.split("/")[-1]), "finetuning.cls_run")
    run = pick_run("classify", user, instructor, "finetuning.cls_run")


@st.fragment(run_every=2.0)
def classification_view(run_id: str) -> None:
    """Refreshes every two seconds while the page is open; the run lives in its own process."""
    run, records = run_progress(run_id)
    evals = [r for r in records if "val_accuracy" in r]
    if evals:
        ui.chart(st, figures.accuracy_curves([r["step"] for r in evals], [r["train_accuracy"] for r in evals],
                                                [r["val_accuracy"] for r in evals]), key=f"finetuning.acc.{run.id}")
    res = results(run)
    if res:
        m1, m2, m3 = st.columns(3)
        m1.metric(t("finetuning.test_acc"), f"{res['test_accuracy']:.1%}")
        m2.metric(t("finetuning.trainable"), f"{res['trainable_parameters']:,}")
        m3.metric(t("finetuning.wall"), t("finetuning.wall_value", s=f"{res['wall_time_s']:.0f}", device=res["device"]))
        ui.chart(st, figures.confusion_matrix(res["confusion"], res["classes"]), key=f"finetuning.cm.{run.id}")
        if res["misclassified"]:
            st.markdown(t("finetuning.wrong"))
            ui.table(st, res["misclassified"])
        st.markdown(t("finetuning.try"))
        message = st.text_input(t("finetuning.message"), "Congratulations! You won a free cruise. Call 0800 now to claim.",
                                key="finetuning.cls_try")
        if message.strip():
            clf, labels = classifier(str(run.folder / "best"))
            probs = classify(clf, model.tokenizer, message)
            st.markdown(" · ".join(f"**{label}**: {p:.1%}" for label, p in zip(labels, probs)))
    elif run.state not in ("queued", "running"):
        st.caption(t("finetuning.no_results"))


with classify_tab:
    if run is not None:
        classification_view(run.id)

with instruct_tab:
    ui.explain(t("finetuning.explain3"))
    upload = st.file_uploader(t("finetuning.upload_ins"),
                              type=["json"], key="finetuning.ins_upload", max_upload_size=5)
    data_path = ""
    with ui.friendly_errors():
        if upload is not None:
            records_in = read_instructions(upload.getvalue(), upload.name)
            data_path = save_upload(decode_text(upload.getvalue(), upload.name, UPLOAD_LIMIT))
        else:
            records_in = load_instructions()
        st.markdown(t("finetuning.template"))
        st.code(format_prompt("{instruction}", "{input}") + "{output}<|endoftext|>", language=None, wrap_lines=True)
        st.markdown(t("finetuning.batch_view"))
        tok = model.tokenizer
        examples = [instruction_example(tok, r, min(200, model.config.context_length - 1)) for r in records_in[:3]]
        x, y = collate_instructions([(i, t) for i, t, _ in examples], tok.eot_id)
        for row in range(x.shape[0]):
            length = len(examples[row][0])
            st.html(masked_example_html(tok.pieces(x[row].tolist()), y[row].tolist(), length))
        options = training_options("finetuning.ins", 2, 3e-4)
        if st.button(t("finetuning.start_ins"), key="finetuning.ins_start", type="primary"):
            start(FinetuneConfig(task="instruct", init_from=base_key, data=data_path, max_tokens=200,
                                 eval_interval=100, **options), t("finetuning.run_ins", base=base_key.split("/")[-1]),
                  "finetuning.ins_run")
    run = pick_run("instruct", user, instructor, "finetuning.ins_run")


@st.fragment(run_every=2.0)
def instruction_view(run_id: str) -> None:
    run, records = run_progress(run_id)
    res = results(run)
    if res:
        st.metric(t("finetuning.best_val"), f"{res['best_val_loss']:.3f}")
        st.markdown(t("finetuning.held_out", score=f"{res['mean_fuzzy']:.2f}"))
        ui.table(st, [{"instruction": e["instruction"] + (f" [{e['input']}]" if e["input"] else ""),
                       "before finetuning": e["before"], "after finetuning": e["after"], "reference": e["expected"],
                       "fuzzy": round(e["fuzzy"], 2)} for e in res["examples"]])
        instruction = st.text_input(t("finetuning.try_ins"), "Rewrite the sentence in passive voice.",
                                    key="finetuning.ins_try")
        extra = st.text_input(t("finetuning.input"), "The chef cooked the meal.", key="finetuning.ins_try_input")
        if instruction.strip():
            tuned = loaders.get_model(str(run.folder / "best"))
            st.code(respond(tuned, instruction, extra), language=None, wrap_lines=True)


with instruct_tab:
    if run is not None:
        instruction_view(run.id)

with compare_tab:
    ui.explain(t("finetuning.explain4"))
    finetuned = [r for r in store.visible(user, instructor) if r.kind in ("instruct", "classify")
                 and (r.folder / "best" / "model.safetensors").exists()]
    if not finetuned:
        st.info(t("finetuning.first"))
    else:
        chosen = st.selectbox(t("finetuning.model"), [r.id for r in finetuned], key="finetuning.cmp_run",
                              format_func=lambda i: next(f"{r.name} · {r.id}" for r in finetuned if r.id == i))
        tuned = loaders.get_model(str(store.get(chosen).folder / "best"))
        prompt = st.text_area(t("finetuning.prompt"), format_prompt("Name a fruit that is yellow."), key="finetuning.cmp_prompt")
        with ui.friendly_errors():
            if not prompt.strip():
                raise PlaygroundError(t("finetuning.need_prompt"))
            c1, c2 = st.columns(2)
            for col, (label, m) in zip((c1, c2), (("base", model), ("finetuned", tuned))):
                ids = m.tokenizer.encode(prompt)[-(m.config.context_length - 41):]
                with torch.no_grad():
                    logits = m(torch.tensor([ids], device=m.device))[0, -1].float().cpu()
                probs = softmax(logits)
                top = torch.argsort(probs, descending=True)[:10].tolist()
                ui.chart(col, figures.distribution_bars(m.tokenizer.pieces(top), probs[top].tolist(),
                                                           logits[top].tolist(), t("finetuning.next_token", label=label)),
                                 key=f"finetuning.cmp.{label}")
                continuation = generate(m, ids, 40, temperature=0, stop_ids={m.tokenizer.eot_id})[len(ids):]
                col.code(m.tokenizer.decode(continuation), language=None, wrap_lines=True)
