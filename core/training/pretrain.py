"""Pretraining, UI-agnostic: a function `train(cfg)`, a CLI (`python -m core.train --help`), torchrun-ready.

Either family: `--arch gpt2` (learned positions, LayerNorm, GELU; core.model.gpt) or `--arch llama` (rotary
positions, RMSNorm, SwiGLU, grouped-query attention with --n-kv-head; core.model.llama).

A run lives in one folder (core.training.runfolder owns its files; the job queue and the app read it while
it grows). Sliding-window batches over one corpus or several joined with + (the last val_fraction of each
one's characters held out), optionally with repeated passages mixed in (`--repeats`) and short windows
first (`--short-context`), AdamW with weight decay on matrices only, linear warmup then cosine decay,
gradient clipping, bf16 autocast on CUDA and fp32 on CPU.
The tokenizer is a shipped encoding, one trained on the training part of the corpus (`--tokenizer bpe-2000`,
saved beside the run and in every checkpoint) or a trained one from a folder. When the run ends, the best
checkpoint's card gets its bits per character on each held-out part and its head scores.
A non-finite loss stops the run with that reason and leaves the last whole checkpoint; CUDA out-of-memory
says what to shrink. Under `torchrun --nproc_per_node=N` it trains with DDP (NCCL on GPUs, gloo on CPU);
rank 0 writes the files.

Left out: gradient accumulation, mixed precision on CPU, multi-node.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from core.analysis.attention import head_scores, strongest_heads
from core.analysis.compression import bits_per_character
from core.errors import PlaygroundError, message, unexpected
from core.inference.generate import generate
from core.model.base import LanguageModel
from core.model.checkpoints import load_checkpoint, load_model, read_card, save_checkpoint
from core.model.families import ARCHS, build
from core.model.gpt import GPTConfig
from core.model.llama import LlamaConfig
from core.tokens import bpe
from core.tokens.encodings import Tokenizer, load_tokenizer
from core.training.common import autocast_for, check_device_name, configure_optimizer, lr_at, pick_device
from core.training.data import TokenWindows, load_corpora, split_text
from core.training.estimates import check_memory
from core.training.options import build_parser, command_line
from core.training.options import option as _f
from core.training.runfolder import RunFolder


@dataclass
class TrainConfig:
    out_dir: str = _f("runs/manual", "folder of the run (metrics, status, checkpoints)")
    corpus: str = _f("tinyshakespeare", "shipped corpus name or path of a UTF-8 .txt file; several joined with +")
    tokenizer: str = _f("gpt2", "gpt2, cl100k_base, o200k_base, bpe-<N> (N merges learned from the training part "
                                "of the corpus) or a folder with a trained tokenizer (bpe.json)")
    init_from: str = _f("", "start from this model (name or folder) instead of random weights")
    arch: str = _f("gpt2", "model family: gpt2 (learned positions, LayerNorm, GELU) or llama (rotary positions, "
                           "RMSNorm, SwiGLU, grouped-query attention)")
    n_layer: int = _f(4, "transformer blocks")
    n_head: int = _f(4, "attention heads per block (must divide n_embd)")
    n_embd: int = _f(128, "width of the residual stream")
    n_kv_head: int = _f(0, "llama: key/value heads shared by the query heads (must divide n_head; 0 = n_head)")
    d_mlp: int = _f(0, "llama: SwiGLU hidden width (0 = 8/3 of n_embd rounded up to a multiple of 32, about the "
                       "parameters of GPT-2's 4 x n_embd MLP)")
    rope_theta: float = _f(10000.0, "llama: base of the rotary frequencies")
    context_length: int = _f(128, "tokens per training window (model's maximum input)")
    dropout: float = _f(0.1, "dropout probability while training")
    bias: bool = _f(True, "gpt2: biases in LayerNorms and Linears (the llama family has none)")
    tied_embeddings: bool = _f(True, "share the token embedding with the output layer")
    batch_size: int = _f(16, "windows per step (per process under torchrun)")
    stride: int = _f(1, "tokens between the starts of neighbouring windows")
    repeats: float = _f(0.0, "fraction of training windows that are a passage followed by the same passage again")
    short_context: int = _f(0, "tokens per training window during the first short_steps steps (0 = the full "
                               "context throughout): on short windows a copied passage is close and attention spreads "
                               "over few tokens, so a small model grows an induction head far sooner")
    short_steps: int = _f(0, "steps trained on short_context windows before the full context")
    val_fraction: float = _f(0.1, "last part of the corpus held out for validation")
    steps: int = _f(500, "optimizer steps in total")
    lr: float = _f(1e-3, "peak learning rate")
    min_lr: float = _f(1e-4, "learning rate at the end of the cosine decay")
    warmup_steps: int = _f(50, "steps of linear warmup from 0 to lr")
    weight_decay: float = _f(0.1, "AdamW weight decay (matrices only)")
    beta1: float = _f(0.9, "AdamW beta1")
    beta2: float = _f(0.95, "AdamW beta2")
    grad_clip: float = _f(1.0, "clip the gradient norm to this (0 = off)")
    eval_interval: int = _f(100, "evaluate, sample and checkpoint every this many steps")
    eval_batches: int = _f(20, "batches per loss estimate")
    log_interval: int = _f(10, "write a metrics line every this many steps")
    sample_prompt: str = _f("\n", "prompt of the text sample at each evaluation")
    sample_tokens: int = _f(60, "tokens in each sample")
    device: str = _f("auto", "auto (cuda, then mps, then cpu), cuda, mps or cpu")
    precision: str = _f("auto", "auto (bf16 on CUDA, else fp32), bf16 or fp32")
    compile: bool = _f(False, "torch.compile the model (faster on GPUs after a warm-up)")
    seed: int = _f(1337, "random seed for weights and batches")
    resume: bool = _f(False, "continue from out_dir/checkpoint")
    save_dtype: str = _f("fp32", "dtype of saved weights: fp32, fp16 or bf16")
    max_seconds: float = _f(0.0, "stop (with a checkpoint, resumable) after this many seconds of training; 0 = no limit")
    measure: bool = _f(True, "at the end, write the best checkpoint's bits per character on each held-out part and "
                             "its head scores into its card (one pass over the held-out text)")

    def validate(self) -> None:
        if self.batch_size < 1:
            raise PlaygroundError(
                "Impossible training setting: batch size must be at least 1, not {value}.",
                value=self.batch_size)
        if self.steps < 1:
            raise PlaygroundError(
                "Impossible training setting: steps must be at least 1, not {value}.",
                value=self.steps)
        if not (0 < self.lr < math.inf and 0 <= self.min_lr < math.inf):
            raise PlaygroundError("Impossible training setting: learning rates must be positive.")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and 0 <= self.weight_decay < math.inf
                and 0 <= self.grad_clip < math.inf and 0 <= self.dropout < 1):
            raise PlaygroundError("Impossible training setting: betas and dropout must be in [0, 1), weight decay and "
                                  "gradient clipping 0 or more.")
        if not 0 < self.val_fraction < 1:
            raise PlaygroundError(
                "The validation fraction must be between 0 and 1, not {val_fraction}.", val_fraction=self.val_fraction)
        if self.stride < 1 or self.sample_tokens < 0 or self.seed < 0:
            raise PlaygroundError("Impossible training setting: the stride must be at least 1, sample tokens and the "
                                  "seed 0 or more.")
        if self.warmup_steps < 0:
            raise PlaygroundError("Impossible training setting: warmup steps cannot be negative.")
        if self.eval_interval < 1 or self.log_interval < 1:
            raise PlaygroundError("Impossible training setting: intervals must be at least 1.")
        if self.eval_batches < 1:
            raise PlaygroundError("Impossible training setting: eval batches must be at least 1, not {value}.",
                                  value=self.eval_batches)
        if self.precision not in ("auto", "bf16", "fp32"):
            raise PlaygroundError("Impossible training setting: unknown precision {value}.", value=self.precision)
        if not self.max_seconds >= 0:
            raise PlaygroundError("Impossible training setting: the time limit cannot be negative.")
        if self.save_dtype not in SAVE_DTYPES:
            raise PlaygroundError("Impossible training setting: unknown save dtype {value}.", value=self.save_dtype)
        if not 0.0 <= self.repeats <= 1.0:
            raise PlaygroundError("Impossible training setting: repeats must be between 0 and 1, not {value}.",
                                  value=self.repeats)
        if self.short_steps < 0 or self.short_context < 0 or (self.short_steps and not (
                4 <= self.short_context < self.context_length)):
            raise PlaygroundError("Impossible training setting: short windows need at least 4 tokens and fewer than "
                                  "the context length ({context}), and short steps cannot be negative.",
                                  context=self.context_length)
        if self.arch not in ARCHS:
            raise PlaygroundError("Unknown model architecture '{arch}'; choose one of {options}.", arch=self.arch,
                                  options=", ".join(ARCHS))
        if self.n_kv_head < 0 or self.d_mlp < 0:
            raise PlaygroundError("Impossible training setting: key/value heads and the MLP width cannot be negative.")
        check_device_name(self.device)
        if not self.init_from:  # raises on heads that do not divide the width, a model or batch beyond the memory
            check_memory(self.model_config(), self.batch_size, pick_device(self.device))

    def model_config(self, tokenizer: Tokenizer | None = None) -> GPTConfig | LlamaConfig:
        if tokenizer is None:
            merges = bpe.merges_in_spec(self.tokenizer)
            name, vocab_size = ((self.tokenizer, bpe.vocab_size(merges)) if merges is not None else
                                (lambda tok: (tok.name, tok.n_vocab))(load_tokenizer(self.tokenizer)))
        else:
            name, vocab_size = tokenizer.name, tokenizer.n_vocab
        shared = dict(vocab_size=vocab_size, context_length=self.context_length, n_layer=self.n_layer,
                      n_head=self.n_head, n_embd=self.n_embd, dropout=self.dropout,
                      tied_embeddings=self.tied_embeddings, tokenizer=name)
        if self.arch == "llama":
            return LlamaConfig(**shared, n_kv_head=self.n_kv_head or self.n_head,
                               d_mlp=self.d_mlp or swiglu_width(self.n_embd), rope_theta=self.rope_theta)
        return GPTConfig(**shared, bias=self.bias, qkv_bias=self.bias)


def swiglu_width(n_embd: int) -> int:
    """Llama's MLP width for a residual width: 2/3 of GPT-2's 4 x n_embd (three matrices instead of two, so about
    the same parameters), rounded up to a multiple of 32.

    >>> swiglu_width(128), swiglu_width(768)
    (352, 2048)
    """
    return math.ceil(8 * n_embd / 3 / 32) * 32


SAVE_DTYPES = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


@torch.no_grad()
def estimate_loss(model, windows: TokenWindows, cfg: TrainConfig, device, autocast) -> float:
    """Mean loss over the same eval_batches batches every time (fixed seed), in eval mode."""
    model.eval()
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(cfg.eval_batches):
        x, y = windows.random_batch(cfg.batch_size, generator)
        with autocast:
            logits = model(x.to(device))
        losses.append(torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), y.to(device).flatten()).item())
    model.train()
    return sum(losses) / len(losses)


class RunData:
    """A run's tokenizer and token ids: each corpus split by characters, its training parts joined (with
    <|endoftext|> between corpora), its held-out parts kept as text too, for bits per character."""

    def __init__(self, cfg: TrainConfig, files: RunFolder | None, tokenizer: Tokenizer | None = None):
        parts = load_corpora(cfg.corpus)
        self.splits = [(name, *split_text(text, cfg.val_fraction)) for name, text in parts]
        self.tokenizer = tokenizer or run_tokenizer(cfg, files, self.splits)
        self.train_ids = self._join([self.tokenizer.encode(train) for _, train, _ in self.splits])
        self.val_ids = self._join([self.tokenizer.encode(val) for _, _, val in self.splits])

    def _join(self, parts: list[list[int]]) -> torch.Tensor:
        ids = []
        for i, part in enumerate(parts):
            ids += ([self.tokenizer.eot_id] if i else []) + part
        return torch.tensor(ids, dtype=torch.long)

    @property
    def held_out(self) -> list[tuple[str, str]]:
        return [(name, val) for name, _, val in self.splits]

    def describe(self, cfg: TrainConfig) -> str:
        return (f"first {1 - cfg.val_fraction:.0%} of the characters of {' and '.join(n for n, _, _ in self.splits)} "
                f"for training ({len(self.train_ids):,} tokens), last {cfg.val_fraction:.0%} held out for validation "
                f"({len(self.val_ids):,} tokens)")


def run_tokenizer(cfg: TrainConfig, files: RunFolder | None, splits) -> Tokenizer:
    """The run's tokenizer: bpe-<N> is learned from the training parts (or, on resume, read back from the run
    folder) and saved there; anything else is loaded by name or from its folder."""
    merges = bpe.merges_in_spec(cfg.tokenizer)
    if merges is None:
        return load_tokenizer(cfg.tokenizer)
    if cfg.resume and files is not None and files.has_tokenizer():
        return load_tokenizer(files.dir)
    text = "\n".join(train for _, train, _ in splits)
    learned = bpe.train_bpe(text, merges)
    names = " and ".join(name for name, _, _ in splits)
    tokenizer = bpe.build_tokenizer(learned, cfg.tokenizer, trained_on=(
        f"first {1 - cfg.val_fraction:.0%} of the characters of {names} ({len(text):,} characters)"))
    if files is not None:
        files.save_tokenizer(tokenizer)
    return tokenizer


def _model_for_run(cfg: TrainConfig, tokenizer: Tokenizer, start: LanguageModel | None) -> LanguageModel:
    if start is not None:
        start.config.dropout = cfg.dropout
        for module in start.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = cfg.dropout
        return start
    torch.manual_seed(cfg.seed)
    model = build(cfg.model_config(tokenizer))
    model.tokenizer = tokenizer  # so every checkpoint carries a trained tokenizer's files
    return model


def _check_same_tokenizer(cfg: TrainConfig, model: LanguageModel) -> None:
    """A starting model brings its tokenizer; --tokenizer may only name the same one."""
    asked = cfg.tokenizer
    same = asked == model.config.tokenizer
    if not same and bpe.merges_in_spec(asked) is None:
        try:
            other = load_tokenizer(asked)
            same = other.name == model.tokenizer.name and other.merges == model.tokenizer.merges
        except PlaygroundError:
            same = False
    if not same:
        raise PlaygroundError(
            "The starting model uses the {model_tokenizer} tokenizer, not {tokenizer}.",
            model_tokenizer=model.config.tokenizer, tokenizer=asked)


def train(cfg: TrainConfig, on_record=None, should_stop=None) -> dict:
    """Run training to the end (or a fault); return the final status. on_record(record) sees every metrics line;
    should_stop() returning True cancels after the current step. Impossible settings raise PlaygroundError
    before anything is written."""
    cfg.validate()
    ddp = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank, world = (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])) if ddp else (0, 1)
    files = RunFolder(cfg.out_dir, write=rank == 0)
    status = {"state": "failed", "reason": message("did not start")}
    joined = False
    try:
        files.create()
        device = pick_device(cfg.device)
        if ddp:
            local_rank = int(os.environ.get("LOCAL_RANK", 0))
            if device.type == "cuda":
                device = torch.device("cuda", local_rank)
                torch.cuda.set_device(device)
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
            joined = True
        status = _train(cfg, files, device, rank, world, ddp, on_record, should_stop)
    except PlaygroundError as e:
        status = {"state": "failed", "reason": e.message}
    except torch.OutOfMemoryError:
        status = {"state": "failed", "reason": message(
            "Out of GPU memory: make the batch size or the context length smaller (or the model narrower); the last "
            "checkpoint is kept.")}
    except KeyboardInterrupt:
        status = {"state": "cancelled", "reason": message("interrupted")}
    except Exception as e:  # recorded with its real reason; the traceback goes to the run's log
        traceback.print_exc()
        status = {"state": "failed", "reason": unexpected(e)}
    finally:
        files.finish(status)
        if joined:
            dist.barrier()
            dist.destroy_process_group()
    return status


def _train(cfg, files: RunFolder, device, rank, world, ddp, on_record, should_stop) -> dict:
    start = load_model(cfg.init_from, device="cpu") if cfg.init_from else None
    if start is not None:
        _check_same_tokenizer(cfg, start)
    data = RunData(cfg, files if rank == 0 else None, start.tokenizer if start is not None else None)
    tokenizer, train_ids, val_ids = data.tokenizer, data.train_ids, data.val_ids
    model = _model_for_run(cfg, tokenizer, start)
    context = min(cfg.context_length, model.config.context_length)
    train_windows = TokenWindows(train_ids, context, cfg.stride, label="training part of the corpus")
    short_windows = (TokenWindows(train_ids, min(cfg.short_context, context), cfg.stride,
                                  label="training part of the corpus") if cfg.short_steps else None)
    val_windows = TokenWindows(val_ids, context, context, label="validation part of the corpus")
    model.to(device).train()
    optimizer = configure_optimizer(model, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2), device)

    start_step, best_val = 0, float("inf")
    if cfg.resume:
        start_step, best_val = _restore(files, model, optimizer, device)
        files.truncate_metrics_after(start_step)
    elif rank == 0:
        files.write_config(asdict(cfg))
        files.start_metrics()

    autocast = autocast_for(device, cfg.precision)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    runner = model
    if ddp:
        runner = torch.nn.parallel.DistributedDataParallel(runner, device_ids=[device.index] if device.type == "cuda" else None)

    def forward_loss(x, y):
        with autocast:
            logits = runner(x)
        return torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), y.flatten())
    if cfg.compile:  # compiling the loss with the model lets the compiler fuse the fp32 upcast into cross-entropy
        forward_loss = torch.compile(forward_loss)

    n_params = model.num_parameters()
    files.set_status("running", step=start_step, steps=cfg.steps, device=str(device), params=n_params, world=world)
    started = time.time()
    window_start, window_tokens = time.time(), 0
    last_good = start_step
    last_val = None
    for step in range(start_step, cfg.steps):
        if _agree_to_stop(should_stop, ddp, device):
            return {"state": "cancelled", "reason": message("cancelled by the user"), "step": step, "steps": cfg.steps}
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step * 101 + rank)
        windows = short_windows if step < cfg.short_steps else train_windows
        x, y = windows.random_batch(cfg.batch_size, generator, cfg.repeats)
        if device.type == "cuda":
            x, y = x.pin_memory(), y.pin_memory()  # so the copy below really overlaps with the GPU's work
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = forward_loss(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
        optimizer.step()
        window_tokens += x.numel() * world
        done = step + 1
        out_of_time = _agree_out_of_time(cfg.max_seconds, started, ddp, device)
        last = done == cfg.steps or out_of_time
        # Reading the loss waits for the GPU, so it happens only at logging steps; a non-finite loss is caught
        # there (and at every evaluation), before any checkpoint is written.
        if done % cfg.log_interval == 0 or last or done == start_step + 1:
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                files.log("diverged", step=done, train_loss=str(loss_value), lr=lr)
                return _diverged(loss_value, done, last_good, cfg)
            elapsed = max(time.time() - window_start, 1e-9)
            record = files.log("train", step=done, train_loss=loss_value, lr=lr, grad_norm=float(grad_norm),
                               tokens_per_s=window_tokens / elapsed, time=time.time() - started)
            if on_record:
                on_record(record)
            window_start, window_tokens = time.time(), 0
        if done % cfg.eval_interval == 0 or last:
            val_loss = estimate_loss(model, val_windows, cfg, device, autocast)
            train_loss = estimate_loss(model, train_windows, cfg, device, autocast)
            if not (math.isfinite(val_loss) and math.isfinite(train_loss)):
                return _diverged(val_loss, done, last_good, cfg)
            sample = sample_text(model, tokenizer, cfg)
            record = files.log("eval", step=done, val_loss=val_loss, train_loss_eval=train_loss,
                               perplexity=math.exp(min(val_loss, 50)), sample=sample, time=time.time() - started)
            if on_record:
                on_record(record)
            if rank == 0:
                card = make_card(cfg, model, done, train_loss, val_loss, sample, time.time() - started, device, data)
                save_training_state(files, model, optimizer, card, done, min(best_val, val_loss), cfg)
                if val_loss < best_val:
                    files.save_folder(files.BEST, lambda f, c=card: save_checkpoint(model, f, c, SAVE_DTYPES[cfg.save_dtype]))
            best_val = min(best_val, val_loss)
            last_good, last_val = done, val_loss
            window_start = time.time()  # evaluation time is not training time: keep it out of tokens/s
            files.set_status("running", step=done, steps=cfg.steps, device=str(device), params=n_params, world=world,
                             val_loss=val_loss)
        if out_of_time and done < cfg.steps:
            return {"state": "cancelled", "step": done, "steps": cfg.steps, "reason": message(
                "Stopped at step {step} at the time limit of {minutes:.0f} minutes; the checkpoint of that step is "
                "kept: resume to continue.", step=done, minutes=cfg.max_seconds / 60)}
    if rank == 0 and cfg.measure:
        files.set_status("running", step=cfg.steps, steps=cfg.steps, device=str(device), params=n_params,
                         world=world, val_loss=last_val, phase="measuring the best checkpoint")
        measure_best(files, data, cfg)
    return {"state": "finished", "step": cfg.steps, "steps": cfg.steps, "world": world, "val_loss": last_val,
            "best_val_loss": best_val, "wall_time_s": time.time() - started}


def card_figures(model: LanguageModel, held_out: list[tuple[str, str]]) -> dict:
    """What a card says a model can do: bits per character on each held-out text, and its head scores
    (previous token etc. on the first context-length tokens of the first held-out text, induction on a
    random token sequence repeated twice), as the Attention page measures them."""
    bits = {name: bits_per_character(model, text) for name, text in held_out}
    ids = model.tokenizer.encode(held_out[0][1])[:model.config.context_length]
    _, cache = model.run_with_cache([ids], names={"pattern"})
    scores = head_scores(model, cache)
    return {
        "bits_per_character": {name: round(b["bits_per_character"], 4) for name, b in bits.items()},
        "bits_per_character_method": (
            f"core.analysis.compression.bits_per_character on the held-out part of each corpus: every token "
            f"after the first scored once, sliding windows of {model.config.context_length} tokens, stride "
            f"{model.config.context_length // 2}"),
        "head_scores": {name: {"layer": layer, "head": head, "score": round(score, 4),
                               "all": [[round(v, 4) for v in row] for row in scores[name].tolist()]}
                        for name, (layer, head, score) in strongest_heads(scores).items()},
        "head_scores_measured_on": (
            f"previous, first and same token: the first {len(ids)} tokens of the held-out part of "
            f"{held_out[0][0]}; induction: core.analysis.attention.induction_scores"),
    }


def measure_best(files: RunFolder, data: RunData, cfg: TrainConfig) -> None:
    """Put card_figures of the best checkpoint (the weights as saved) into its card."""
    folder = files.folder(files.BEST)
    if folder is None:
        return
    model = load_checkpoint(folder)
    model.tokenizer = data.tokenizer
    model.eval()
    card = {**read_card(folder), **card_figures(model, data.held_out)}
    files.save_folder(files.BEST, lambda f: save_checkpoint(model, f, card, SAVE_DTYPES[cfg.save_dtype]))


def _diverged(value: float, step: int, last_good: int, cfg: TrainConfig) -> dict:
    reason = message("The loss became {value} at step {step}: training diverged (try a smaller learning rate); "
                     "the checkpoint of step {last_good} is kept.", value=value, step=step, last_good=last_good)
    return {"state": "failed", "reason": reason, "step": step, "steps": cfg.steps}


def _agree_out_of_time(max_seconds: float, started: float, ddp: bool, device) -> bool:
    """Past the run's time limit; under DDP rank 0's clock decides for all, so they stop at the same step."""
    late = bool(max_seconds) and time.time() - started >= max_seconds
    if ddp and max_seconds:
        flag = torch.tensor([1.0 if late else 0.0], device=device)
        dist.broadcast(flag, src=0)
        late = bool(flag.item())
    return late


def _agree_to_stop(should_stop, ddp: bool, device) -> bool:
    """Under DDP every process must stop at the same step, or the others wait for it forever."""
    stop = bool(should_stop is not None and should_stop())
    if ddp:
        flag = torch.tensor([1.0 if stop else 0.0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        stop = bool(flag.item())
    return stop


@torch.no_grad()
def sample_text(model: LanguageModel, tokenizer, cfg: TrainConfig) -> str:
    prompt = tokenizer.encode(cfg.sample_prompt) or [tokenizer.eot_id]
    ids = generate(model, prompt, cfg.sample_tokens, temperature=0.8, top_k=200, seed=cfg.seed)
    model.train()
    return tokenizer.decode(ids)


def make_card(cfg, model, step, train_loss, val_loss, sample, wall, device, data: RunData) -> dict:
    tokenizer = data.tokenizer
    return {
        "name": Path(cfg.out_dir).name,
        "command": command_line("core.train", cfg),
        "corpus": cfg.corpus, "tokenizer": tokenizer.name, "init_from": cfg.init_from or None,
        **({"tokenizer_trained_on": tokenizer.meta.get("trained_on", "")} if tokenizer.trained else {}),
        "data_split": data.describe(cfg),
        "split": {"train_tokens": len(data.train_ids), "val_tokens": len(data.val_ids), "val_fraction": cfg.val_fraction},
        "step": step, "steps": cfg.steps, "wall_time_s": round(wall, 1), "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "parameters": model.num_parameters(), "train_loss": round(train_loss, 4), "val_loss": round(val_loss, 4),
        "sample": sample, "torch": torch.__version__,
    }


def save_training_state(files: RunFolder, model, optimizer, card, step, best_val, cfg) -> None:
    """Weights, optimizer state and step as one whole folder (swapped in atomically)."""
    def write(folder):
        save_checkpoint(model, folder, card)
        torch.save(optimizer.state_dict(), folder / "optimizer.pt")
        (folder / "state.json").write_text(json.dumps({"step": step, "best_val": best_val}))
    files.save_folder(files.CHECKPOINT, write)


def _restore(files: RunFolder, model, optimizer, device) -> tuple[int, float]:
    folder = files.folder(files.CHECKPOINT)
    if folder is None or not (folder / "state.json").exists():
        raise PlaygroundError("{folder} has no checkpoint to resume from yet.", folder=files.dir)
    saved = load_checkpoint(folder)
    model.load_state_dict(saved.state_dict())
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=device, weights_only=True))
    state = json.loads((folder / "state.json").read_text())
    return int(state["step"]), float(state.get("best_val", float("inf")))


def main(argv=None) -> int:
    """The command line; returns the exit status (0 finished, 1 stopped early, 2 refused)."""
    cfg = TrainConfig(**vars(build_parser(TrainConfig, "python -m core.train",
                                          "Pretrain a small GPT or Llama on a text corpus.").parse_args(argv)))
    try:
        cfg.validate()
    except PlaygroundError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2

    def show(record):
        if record["kind"] == "eval":
            print(f"step {record['step']}: val loss {record['val_loss']:.4f}, train {record['train_loss_eval']:.4f}")
        else:
            print(f"step {record['step']}: loss {record['train_loss']:.4f}, lr {record['lr']:.2e}, "
                  f"{record['tokens_per_s']:,.0f} tok/s", flush=True)

    run = RunFolder(cfg.out_dir, write=False)
    status = train(cfg, on_record=show if int(os.environ.get("RANK", 0)) == 0 else None,
                   should_stop=run.cancel_requested)
    if status["state"] != "finished":
        print(f"{status['state']}: {status.get('reason', '')}", file=sys.stderr)
        return 1
    return 0
