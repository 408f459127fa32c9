"""Finetuning, the book's chapters 6 and 7: spam classification and instruction following.

`python -m core.finetune --task classify|instruct ...` (argparse, help on every flag), or `finetune(cfg)`.
A finetuning run is a run like any other (core.jobs starts it; its folder has the same files as a
pretraining run), plus `results.json` with the evaluation at the end.

classify  a classification head on the last real token of each message; train the last block + head,
          all layers, or LoRA adapters (merged into plain weights when saved). Saved: best/ (the backbone in
          our format, usable by every page) + head.safetensors + labels.json.
instruct  the Alpaca template, loss on the response only; responses to held-out instructions before and
          after, with exact-match and a fuzzy score. Saved: best/ (a plain GPT).

Left out: multi-label classification, chat templates with several turns.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import random
import sys
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from core.errors import PlaygroundError, message, unexpected
from core.inference.generate import generate
from core.model.checkpoints import DEFAULT_MODEL, load_checkpoint, load_model, save_checkpoint
from core.model.gpt import GPT
from core.model.lora import apply_lora, merge_lora
from core.training.common import autocast_for, check_device_name, configure_optimizer, lr_at, pick_device
from core.training.finetune_data import (
    IGNORE,
    balanced_split,
    check_data_file,
    collate_instructions,
    encode_classification,
    format_prompt,
    instruction_example,
    load_instructions,
    load_sms,
    pad_batch,
    read_instructions,
    read_labelled_table,
    split_instructions,
)
from core.training.options import build_parser, command_line
from core.training.options import option as _f
from core.training.runfolder import RunFolder

TRAINABLE = ("last block + head", "all layers", "lora")
# The app's default learning rate per task and choice. LoRA trains only the small adapters B·A (B starts at zero) and
# needs a larger step than updating the weights themselves; see tests/core/training/test_finetune.py for the sweep.
DEFAULT_LR = {("classify", "last block + head"): 5e-4, ("classify", "all layers"): 5e-4, ("classify", "lora"): 2e-3,
              ("instruct", "last block + head"): 3e-4, ("instruct", "all layers"): 3e-4, ("instruct", "lora"): 2e-3}


@dataclass
class FinetuneConfig:
    task: str = _f("classify", "classify (spam / not spam) or instruct (follow instructions)")
    out_dir: str = _f("runs/finetune", "folder of the run")
    init_from: str = _f(DEFAULT_MODEL, "model to start from (bundled name or checkpoint folder)")
    data: str = _f("", "data file (TSV/CSV for classify, JSON for instruct); empty = the shipped data set")
    trainable: str = _f("all layers", "what to train: 'last block + head', 'all layers' or 'lora'")
    lora_rank: int = _f(8, "LoRA rank r")
    lora_alpha: float = _f(16.0, "LoRA alpha (the update is scaled by alpha / r)")
    max_tokens: int = _f(120, "longest example in tokens (longer ones are truncated and counted)")
    epochs: int = _f(5, "passes over the training split")
    batch_size: int = _f(8, "examples per step")
    lr: float = _f(5e-4, "peak learning rate")
    min_lr: float = _f(5e-5, "learning rate at the end")
    warmup_steps: int = _f(20, "linear warmup steps")
    weight_decay: float = _f(0.1, "AdamW weight decay")
    eval_interval: int = _f(50, "evaluate every this many steps")
    log_interval: int = _f(5, "write a metrics line every this many steps")
    device: str = _f("auto", "auto, cuda, mps or cpu")
    seed: int = _f(123, "seed for the split, the order and the weights of new layers")
    resume: bool = _f(False, "not supported for finetuning; kept for the job runner's interface")
    steps: int = _f(0, "filled in from epochs × batches (shown in the runs list)")
    max_steps: int = _f(0, "refuse a run of more steps than this (epochs × batches); 0 = no limit")
    max_seconds: float = _f(0.0, "stop after this many seconds of training (best/ is kept); 0 = no limit")

    def validate(self) -> None:
        if self.task not in ("classify", "instruct"):
            raise PlaygroundError("Unknown finetuning task '{task}': choose classify or instruct.", task=self.task)
        if self.trainable not in TRAINABLE:
            raise PlaygroundError("'trainable' must be one of {options}.", options=', '.join(TRAINABLE))
        if self.batch_size < 1 or self.epochs < 1 or not 0 < self.lr < math.inf or self.max_tokens < 4:
            raise PlaygroundError("Impossible finetuning setting: batch size, epochs and max tokens must be "
                                  "positive, and the learning rate above 0.")
        if not (0 <= self.min_lr < math.inf and 0 <= self.weight_decay < math.inf and 0 < self.lora_alpha < math.inf
                and self.warmup_steps >= 0 and self.eval_interval >= 1 and self.log_interval >= 1 and self.seed >= 0):
            raise PlaygroundError("Impossible finetuning setting: the minimum learning rate, weight decay, warmup and "
                                  "seed must be 0 or more, LoRA alpha above 0 and the intervals at least 1.")
        check_device_name(self.device)
        if self.data:
            check_data_file(self.data)
        if self.max_steps < 0 or not self.max_seconds >= 0:
            raise PlaygroundError("Impossible finetuning setting: the step and time limits cannot be negative.")
        if self.trainable == "lora" and self.lora_rank < 1:
            raise PlaygroundError("The LoRA rank must be at least 1, not {rank}.", rank=self.lora_rank)


class GPTClassifier(nn.Module):
    """A GPT backbone whose final hidden state of the last real token goes through a linear head."""

    def __init__(self, backbone: GPT, n_classes: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.config.n_embd, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids [B, T] (right-padded), lengths [B] -> class logits [B, n_classes]."""
        hidden = self.backbone.hidden(ids)
        last = hidden[torch.arange(ids.shape[0], device=ids.device), lengths.to(ids.device) - 1]
        return self.head(last)


def set_trainable(model: nn.Module, backbone: GPT, how: str, rank: int, alpha: float) -> int:
    """Freeze what should not train; returns the number of trainable parameters."""
    if how == "lora":
        apply_lora(backbone, rank, alpha)
    else:
        for p in backbone.parameters():
            p.requires_grad_(how == "all layers")
        if how == "last block + head":
            for p in list(backbone.blocks[-1].parameters()) + list(backbone.final_norm.parameters()):
                p.requires_grad_(True)
    for module in model.modules():
        if module is not backbone and isinstance(module, nn.Linear) and module not in backbone.modules():
            for p in module.parameters():
                p.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _optimizer(model, cfg: FinetuneConfig, device):
    return configure_optimizer(model, cfg.lr, cfg.weight_decay, (0.9, 0.95), device)


def _run_epochs(cfg, files: RunFolder, model, optimizer, n_examples: int, batch_loss, evaluate, info: dict, device,
                should_stop, on_record) -> dict | None:
    """The loop both tasks share: shuffled epochs, warmup + cosine learning rate, a non-finite loss stops the run,
    gradient clipping, metrics lines, evaluations. batch_loss(indices) -> (loss, {name: lazy value}); evaluate(step)
    -> {name: value}. Returns a final status when the run stops early, None when all epochs ran."""
    if cfg.max_steps and cfg.steps > cfg.max_steps:
        raise PlaygroundError("This run would take {steps:,} steps; this server allows at most {limit:,} per run: "
                              "use fewer epochs or a larger batch.", steps=cfg.steps, limit=cfg.max_steps)
    started, step = time.time(), 0
    rng = random.Random(cfg.seed)
    for epoch in range(cfg.epochs):
        order = list(range(n_examples))
        rng.shuffle(order)
        for i in range(0, n_examples, cfg.batch_size):
            if should_stop and should_stop():
                return {"state": "cancelled", "reason": message("cancelled by the user"), "step": step, "steps": cfg.steps}
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, cfg)
            loss, extras = batch_loss(order[i:i + cfg.batch_size])
            if not math.isfinite(loss.item()):
                return {"state": "failed", "step": step, "steps": cfg.steps, "reason": message(
                    "The loss became {loss} at step {step}: lower the learning rate.", loss=loss.item(), step=step)}
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            out_of_time = bool(cfg.max_seconds) and time.time() - started >= cfg.max_seconds
            if step % cfg.log_interval == 0 or step == 1 or step == cfg.steps or out_of_time:
                record = files.log("train", step=step, train_loss=loss.item(), lr=lr_at(step - 1, cfg),
                                   **{k: v() for k, v in extras.items()}, time=time.time() - started, epoch=epoch + 1)
                on_record and on_record(record)
            if step % cfg.eval_interval == 0 or step == cfg.steps or out_of_time:
                record = files.log("eval", step=step, **evaluate(step), time=time.time() - started)
                on_record and on_record(record)
                files.set_status("running", step=step, device=str(device), **info)
            if out_of_time and step < cfg.steps:
                return {"state": "cancelled", "step": step, "steps": cfg.steps, "reason": message(
                    "Stopped at step {step} at the time limit of {minutes:.0f} minutes; the best weights so far are "
                    "kept.", step=step, minutes=cfg.max_seconds / 60)}
    return None


# --- classification ---------------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate_classifier(model, ids, labels, batch_size, device, pad_id):
    """(loss, accuracy, predictions)."""
    model.eval()
    losses, predictions = [], []
    for i in range(0, len(ids), batch_size):
        x, lengths = pad_batch(ids[i:i + batch_size], pad_id)
        y = torch.tensor(labels[i:i + batch_size], device=device)
        with autocast_for(device):
            logits = model(x.to(device), lengths).float()
        losses.append(nn.functional.cross_entropy(logits, y, reduction="sum").item())
        predictions += logits.argmax(-1).tolist()
    model.train()
    correct = sum(int(p == t) for p, t in zip(predictions, labels))
    return sum(losses) / len(labels), correct / len(labels), predictions


def load_classifier(folder) -> tuple[GPTClassifier, list[str]]:
    """A finetuned classifier: best/ backbone + head.safetensors + labels.json."""
    folder = Path(folder)
    labels = json.loads((folder / "labels.json").read_text())
    model = GPTClassifier(load_checkpoint(folder), len(labels))
    model.head.load_state_dict(load_file(str(folder / "head.safetensors")))
    return model.eval(), labels


@torch.no_grad()
def classify(model: GPTClassifier, tokenizer, text: str, max_tokens: int = 120) -> list[float]:
    """Class probabilities of one text."""
    ids = tokenizer.encode(text)[:max_tokens] or [tokenizer.eot_id]
    device = next(model.parameters()).device
    logits = model(torch.tensor([ids], device=device), torch.tensor([len(ids)]))
    return torch.softmax(logits.float(), -1)[0].tolist()


def _classify(cfg, files: RunFolder, device, should_stop, on_record) -> dict:
    if cfg.data:
        rows, classes = read_labelled_table(check_data_file(cfg.data).read_bytes(), Path(cfg.data).name)
    else:
        rows, classes = load_sms()
    train_rows, val_rows, test_rows = balanced_split(rows, cfg.seed)
    backbone = load_model(cfg.init_from, device="cpu").train()
    tokenizer = backbone.tokenizer
    max_len = min(cfg.max_tokens, backbone.config.context_length)
    data = {name: encode_classification(part, tokenizer, max_len)
            for name, part in (("train", train_rows), ("val", val_rows), ("test", test_rows))}
    torch.manual_seed(cfg.seed)
    model = GPTClassifier(backbone, len(classes))
    trainable = set_trainable(model, backbone, cfg.trainable, cfg.lora_rank, cfg.lora_alpha)
    model.to(device).train()
    optimizer = _optimizer(model, cfg, device)
    train_ids, train_labels, _ = data["train"]
    per_epoch = math.ceil(len(train_ids) / cfg.batch_size)
    cfg.steps = cfg.epochs * per_epoch
    info = {"classes": classes, "split": {k: len(v[0]) for k, v in data.items()},
            "truncated": {k: v[2] for k, v in data.items()}, "trainable_parameters": trainable,
            "total_parameters": sum(p.numel() for p in model.parameters()), "steps": cfg.steps}
    files.set_status("running", step=0, device=str(device), **info)
    best_acc = -1.0

    def batch_loss(batch):
        x, lengths = pad_batch([train_ids[j] for j in batch], tokenizer.eot_id)
        y = torch.tensor([train_labels[j] for j in batch], device=device)
        with autocast_for(device):
            logits = model(x.to(device), lengths).float()
        return nn.functional.cross_entropy(logits, y), {
            "train_batch_accuracy": lambda: float((logits.argmax(-1) == y).float().mean())}

    def evaluate(step):
        nonlocal best_acc
        val_loss, val_acc, _ = evaluate_classifier(model, *data["val"][:2], cfg.batch_size, device, tokenizer.eot_id)
        _, train_acc, _ = evaluate_classifier(model, train_ids[:300], train_labels[:300], cfg.batch_size, device,
                                              tokenizer.eot_id)
        if val_acc > best_acc:
            best_acc = val_acc
            card = _card(cfg, "spam classification", step, started, device, **info, val_loss=val_loss,
                         val_accuracy=val_acc)
            files.save_folder(files.BEST, lambda f: _save_classifier(model, backbone, f, classes, card))
        return {"val_loss": val_loss, "val_accuracy": val_acc, "train_accuracy": train_acc}

    started = time.time()
    status = _run_epochs(cfg, files, model, optimizer, len(train_ids), batch_loss, evaluate, info, device,
                         should_stop, on_record)
    if status is not None:
        return status
    best, _ = load_classifier(files.folder(files.BEST))
    best.to(device)
    test_ids, test_labels, _ = data["test"]
    test_loss, test_acc, predictions = evaluate_classifier(best, test_ids, test_labels, cfg.batch_size, device,
                                                           tokenizer.eot_id)
    confusion = [[sum(1 for p, t in zip(predictions, test_labels) if t == a and p == b) for b in range(len(classes))]
                 for a in range(len(classes))]
    wrong = [{"text": r.text, "label": classes[r.label], "predicted": classes[p]}
             for r, p in zip(test_rows, predictions) if p != r.label]
    results = {**info, "test_accuracy": test_acc, "test_loss": test_loss, "best_val_accuracy": best_acc,
               "confusion": confusion, "misclassified": wrong[:50], "wall_time_s": time.time() - started,
               "device": str(device)}
    files.write_results(results)
    return {"state": "finished", "step": cfg.steps, "steps": cfg.steps, "test_accuracy": test_acc}


def _save_classifier(model, backbone, folder: Path, classes, card: dict) -> None:
    save_checkpoint(_plain(backbone, card["trainable"]), folder, card)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()},
              str(folder / "head.safetensors"))
    (folder / "labels.json").write_text(json.dumps(classes))


def _plain(model: GPT, trainable: str) -> GPT:
    """The model as a plain GPT: LoRA adapters merged into a copy (training goes on with the adapters)."""
    return merge_lora(copy.deepcopy(model)) if trainable == "lora" else model


def _card(cfg, task: str, step: int, started: float, device, **info) -> dict:
    """The model card of best/: the step it was saved at and the time so far, and the command that reproduces the
    run (steps are left out: they follow from epochs and batch size)."""
    return {"name": Path(cfg.out_dir).name, "task": task, "init_from": cfg.init_from, "trainable": cfg.trainable,
            "command": command_line("core.finetune", replace(cfg, steps=0)), "step": step,
            "wall_time_s": round(time.time() - started, 1), "device": str(device), **info}


# --- instructions ------------------------------------------------------------------------------------------------
def respond(model: GPT, instruction: str, input_text: str = "", max_new_tokens: int = 60) -> str:
    """The model's response to an instruction wrapped in the template (greedy, stops at end-of-text)."""
    tok = model.tokenizer
    prompt = tok.encode(format_prompt(instruction, input_text))
    context = model.config.context_length
    prompt = prompt[-max(context // 2, context - max_new_tokens - 1):]  # generation slides on past the context
    out = generate(model, prompt, max_new_tokens, temperature=0, stop_ids={tok.eot_id})
    text = tok.decode([t for t in out[len(prompt):] if t != tok.eot_id])
    return text.split("### ")[0].strip()


def fuzzy_score(a: str, b: str) -> float:
    """Similarity of two texts from 0 to 1 (difflib's ratio on lower-cased words)."""
    return difflib.SequenceMatcher(None, a.lower().split(), b.lower().split()).ratio()


@torch.no_grad()
def instruction_val_loss(model, examples, batch_size, device, pad_id) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(examples), batch_size):
        x, y = collate_instructions(examples[i:i + batch_size], pad_id)
        with autocast_for(device):
            logits = model(x.to(device)).float()
        total += nn.functional.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), ignore_index=IGNORE,
                                             reduction="sum").item()
        count += int((y != IGNORE).sum())
    model.train()
    return total / max(1, count)


def _instruct(cfg, files: RunFolder, device, should_stop, on_record) -> dict:
    records = (read_instructions(check_data_file(cfg.data).read_bytes(), Path(cfg.data).name) if cfg.data
               else load_instructions())
    train_recs, val_recs, test_recs = split_instructions(records, cfg.seed)
    model = load_model(cfg.init_from, device="cpu")
    tok = model.tokenizer
    max_len = min(cfg.max_tokens, model.config.context_length - 1)
    encoded = {name: [instruction_example(tok, r, max_len) for r in part]
               for name, part in (("train", train_recs), ("val", val_recs))}
    truncated = {name: sum(e[2] for e in ex) for name, ex in encoded.items()}
    train_ex = [(i, t) for i, t, _ in encoded["train"]]
    val_ex = [(i, t) for i, t, _ in encoded["val"]]
    model.to(device).eval()
    held_out = test_recs[:5]
    before = [respond(model, r["instruction"], r["input"]) for r in held_out]
    torch.manual_seed(cfg.seed)
    trainable = set_trainable(model, model, cfg.trainable, cfg.lora_rank, cfg.lora_alpha)
    model.to(device).train()
    optimizer = _optimizer(model, cfg, device)
    cfg.steps = cfg.epochs * math.ceil(len(train_ex) / cfg.batch_size)
    info = {"split": {"train": len(train_recs), "val": len(val_recs), "test": len(test_recs)},
            "truncated": truncated, "trainable_parameters": trainable,
            "total_parameters": sum(p.numel() for p in model.parameters()), "steps": cfg.steps}
    files.set_status("running", step=0, device=str(device), **info)
    best = float("inf")

    def batch_loss(batch):
        x, y = collate_instructions([train_ex[j] for j in batch], tok.eot_id)
        with autocast_for(device):
            logits = model(x.to(device)).float()
        return nn.functional.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), ignore_index=IGNORE), {}

    def evaluate(step):
        nonlocal best
        val_loss = instruction_val_loss(model, val_ex, cfg.batch_size, device, tok.eot_id)
        if val_loss < best:
            best = val_loss
            card = _card(cfg, "instruction following", step, started, device, **info, val_loss=val_loss)
            files.save_folder(files.BEST, lambda f: save_checkpoint(_plain(model, cfg.trainable), f, card))
        return {"val_loss": val_loss}

    started = time.time()
    status = _run_epochs(cfg, files, model, optimizer, len(train_ex), batch_loss, evaluate, info, device,
                         should_stop, on_record)
    if status is not None:
        return status
    tuned = load_model(files.folder(files.BEST), device=device)
    after = [respond(tuned, r["instruction"], r["input"]) for r in held_out]
    scores = [fuzzy_score(a, r["output"]) for a, r in zip(after, held_out)]
    results = {**info, "best_val_loss": best, "examples": [
        {"instruction": r["instruction"], "input": r["input"], "expected": r["output"], "before": b, "after": a,
         "fuzzy": s, "exact": a.strip() == r["output"].strip()} for r, b, a, s in zip(held_out, before, after, scores)],
        "mean_fuzzy": sum(scores) / len(scores), "wall_time_s": time.time() - started, "device": str(device)}
    files.write_results(results)
    return {"state": "finished", "step": cfg.steps, "steps": cfg.steps, "val_loss": best}


def finetune(cfg: FinetuneConfig, on_record=None, should_stop=None) -> dict:
    """Run to the end; return the final status (also written to status.json)."""
    cfg.validate()
    files = RunFolder(cfg.out_dir)
    status = {"state": "failed", "reason": message("did not start")}
    try:
        files.write_config(asdict(cfg))
        files.start_metrics()
        device = pick_device(cfg.device)
        task = _classify if cfg.task == "classify" else _instruct
        status = task(cfg, files, device, should_stop, on_record)
    except PlaygroundError as e:
        status = {"state": "failed", "reason": e.message}
    except torch.OutOfMemoryError:
        status = {"state": "failed", "reason": message("Out of GPU memory: make the batch size or max tokens smaller.")}
    except Exception as e:  # recorded with its real reason; the traceback goes to the run's log
        traceback.print_exc()
        status = {"state": "failed", "reason": unexpected(e)}
    finally:
        files.finish(status)
    return status


def main(argv=None) -> int:
    parser = build_parser(FinetuneConfig, "python -m core.finetune", "Finetune a GPT: spam classification or "
                                                                     "instruction following.")
    cfg = FinetuneConfig(**vars(parser.parse_args(argv)))
    try:
        cfg.validate()
    except PlaygroundError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    status = finetune(cfg, on_record=lambda r: print(json.dumps(r), flush=True),
                      should_stop=RunFolder(cfg.out_dir, write=False).cancel_requested)
    print(f"{status['state']}: {status.get('reason', '')}", file=sys.stderr if status["state"] != "finished" else sys.stdout)
    return 0 if status["state"] == "finished" else 1

