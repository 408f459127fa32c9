"""Command lines: impossible or hostile flags of `python -m core.train` and `python -m core.finetune` end with a clear
message (refused: exit 2, or the run's reason: exit 1, or argparse's usage error), never a traceback, and never start
a long run. `--device cuda` without CUDA and `--eval-batches 0` are refused before anything starts."""

import pytest
import torch

from core.training import finetune, pretrain

SMALL = ["--corpus", "the-verdict", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--context-length", "16",
         "--batch-size", "2", "--steps", "3", "--eval-interval", "3", "--eval-batches", "1", "--sample-tokens", "2",
         "--device", "cpu"]
REFUSED = [  # (flags, words of the sentence)
    (["--device", "cuda"], "no usable GPU" if not torch.cuda.is_available() else None),
    (["--device", "cuda:7"], "GPU"), (["--device", "tpu"], "unknown device"), (["--device", ""], "unknown device"),
    (["--eval-batches", "0"], "eval batches"), (["--eval-batches", "-3"], "eval batches"),
    (["--steps", "0"], "steps"), (["--steps", "-1"], "steps"), (["--batch-size", "0"], "batch size"),
    (["--batch-size", "1000000000"], "memory"), (["--n-head", "3"], "divisible"), (["--n-layer", "0"], "at least 1"),
    (["--n-layer", "100000", "--n-embd", "768", "--n-head", "12"], "parameters"), (["--n-embd", "-8"], "at least 1"),
    (["--context-length", "0"], "at least 1"), (["--context-length", "1000000000"], "parameters"),
    (["--lr", "nan"], "learning rates"), (["--lr", "inf"], "learning rates"), (["--lr", "-1"], "learning rates"),
    (["--lr", "0"], "learning rates"), (["--min-lr", "nan"], "learning rates"), (["--dropout", "1.5"], "dropout"),
    (["--dropout", "nan"], "dropout"), (["--beta1", "2"], "betas"), (["--beta2", "-0.1"], "betas"),
    (["--weight-decay", "-1"], "weight decay"), (["--grad-clip", "nan"], "clipping"),
    (["--warmup-steps", "-5"], "warmup"), (["--eval-interval", "0"], "intervals"), (["--log-interval", "0"], "intervals"),
    (["--precision", "fp8"], "precision"), (["--save-dtype", "int8"], "save dtype"), (["--tokenizer", "nope"], "nope"),
    (["--val-fraction", "0"], "validation fraction"), (["--val-fraction", "1.5"], "validation fraction"),
    (["--stride", "0"], "stride"), (["--sample-tokens", "-1"], "sample tokens"), (["--seed", "-1"], "seed"),
    (["--max-seconds", "-1"], "time limit"),
]
FAILED = [  # start, then stop at once with their reason (exit 1)
    (["--corpus", "/nonexistent.txt"], "no text file"), (["--corpus", "/dev/zero"], "no text file"),
    (["--corpus", "/etc"], "no text file"), (["--init-from", "/nonexistent"], "Unknown model"),
    (["--init-from", "/dev/zero"], "is a file"), (["--init-from", "/etc"], "no config.json"), (["--resume"], "checkpoint"),
    (["--out-dir", "/proc/no-such-place/run"], "cannot be made"), (["--context-length", "5000"], "too short"),
]
USAGE = [["--steps", "abc"], ["--steps", "1e3"], ["--warp-drive"], ["--lr"], ["--compile", "yes"], ["--n-layer", ""]]


def run_cli(main, argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's usage error: a sentence and exit 2
        code = e.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out, out.err[-2000:]
    return code, out.err + out.out


@pytest.mark.parametrize("flags,words", REFUSED, ids=[" ".join(f) for f, _ in REFUSED])
def test_refused_before_anything_starts(tmp_path, capsys, flags, words):
    if words is None:
        pytest.skip("this machine has CUDA")
    code, text = run_cli(pretrain.main, SMALL + ["--out-dir", str(tmp_path / "run"), *flags], capsys)
    assert code == 2 and "refused:" in text and words in text, text
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags,words", FAILED, ids=[" ".join(f) for f, _ in FAILED])
def test_runs_that_cannot_go_on_stop_with_their_reason(tmp_path, capsys, flags, words):
    argv = SMALL + ["--out-dir", str(tmp_path / "run")] + flags
    code, text = run_cli(pretrain.main, argv, capsys)
    assert code in (1, 2) and words in text, text


@pytest.mark.parametrize("flags", USAGE, ids=[" ".join(f) for f in USAGE])
def test_usage_errors(tmp_path, capsys, flags):
    code, text = run_cli(pretrain.main, SMALL + ["--out-dir", str(tmp_path / "run"), *flags], capsys)
    assert code == 2 and "usage:" in text


FINETUNE = [
    (["--task", "distill"], "classify or instruct"), (["--trainable", "everything"], "must be one of"),
    (["--epochs", "0"], "positive"), (["--batch-size", "0"], "positive"), (["--lr", "0"], "positive"),
    (["--lr", "inf"], "positive"), (["--max-tokens", "2"], "positive"), (["--trainable", "lora", "--lora-rank", "0"], "rank"),
    (["--lora-alpha", "0"], "alpha"), (["--weight-decay", "-1"], "weight decay"), (["--seed", "-1"], "seed"),
    (["--data", "/nonexistent.tsv"], "no data file"), (["--data", "/dev/zero"], "no data file"),
    (["--data", "/etc"], "no data file"), (["--device", "cuda"], "no usable GPU" if not torch.cuda.is_available() else None),
    (["--max-steps", "-1"], "limits"), (["--max-seconds", "-1"], "limits"),
]


@pytest.mark.parametrize("flags,words", FINETUNE, ids=[" ".join(f) for f, _ in FINETUNE])
def test_finetune_flags_refused(tmp_path, capsys, flags, words):
    if words is None:
        pytest.skip("this machine has CUDA")
    code, text = run_cli(finetune.main, ["--out-dir", str(tmp_path / "run"), "--device", "cpu", *flags], capsys)
    assert code == 2 and words in text, text


def test_finetune_beyond_the_step_limit_says_so(tmp_path, capsys):
    code, text = run_cli(finetune.main, ["--out-dir", str(tmp_path / "run"), "--device", "cpu", "--max-steps", "3"],
                         capsys)
    assert code == 1 and "at most 3 per run" in text
