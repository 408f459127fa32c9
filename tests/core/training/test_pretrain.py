"""The training loop: a tiny run end to end, its files, the schedule, faults, resume, the CLI."""

import json
import math

import pytest
import torch

from core import PlaygroundError, load_model
from core.training.common import lr_at
from core.training.options import build_parser, to_argv
from core.training.pretrain import TrainConfig, train
from core.training.runfolder import RunFolder
from tests.support.jobs import read_metrics


def tiny(tmp_path, **overrides):
    base = dict(out_dir=str(tmp_path / "run"), corpus="the-verdict", n_layer=1, n_head=2, n_embd=16,
                context_length=16, batch_size=4, steps=12, warmup_steps=2, eval_interval=6, eval_batches=2,
                log_interval=1, sample_tokens=5, device="cpu", dropout=0.0)
    return TrainConfig(**{**base, **overrides})


def test_tiny_run_end_to_end(tmp_path):
    cfg = tiny(tmp_path)
    status = train(cfg)
    assert status["state"] == "finished"
    run = tmp_path / "run"
    steps = read_metrics(run, "train")
    assert [r["step"] for r in steps] == list(range(1, 13))
    evals = read_metrics(run, "eval")
    assert [r["step"] for r in evals] == [6, 12] and all(isinstance(r["sample"], str) for r in evals)
    assert steps[-1]["train_loss"] < steps[0]["train_loss"]  # it learns
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    model = load_model(run / "checkpoint", device="cpu")
    assert model.config.n_embd == 16
    card = json.loads((run / "best" / "card.json").read_text())
    assert card["command"].startswith("python -m core.train ") and "--corpus the-verdict" in card["command"]


def test_learning_rate_schedule():
    cfg = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_steps=10, steps=110)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx(1e-4 + 0.5 * (1 + math.cos(math.pi * 50 / 99)) * 9e-4)
    assert lr_at(109, cfg) == 1e-4  # the last step (steps - 1) reaches min_lr exactly


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    cfg = tiny(tmp_path, steps=20)
    real = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        loss = real(*args, **kwargs)
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] > 8:
                return loss * float("nan")
        return loss
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    status = train(cfg)
    assert status["state"] == "failed" and "nan" in str(status["reason"]).lower()
    assert "checkpoint of step 6" in str(status["reason"])
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 6
    assert json.loads((tmp_path / "run" / "status.json").read_text())["state"] == "failed"
    assert len(read_metrics(tmp_path / "run")) >= 8  # the metrics are still there


def test_resume_continues_the_same_curve(tmp_path):
    full = tiny(tmp_path / "a", steps=12)
    train(full)
    first_half = tiny(tmp_path / "b", steps=12)
    first_half.steps = 12
    calls = {"n": 0}

    def stop_after_six():
        calls["n"] += 1
        return calls["n"] > 7  # checked before each step: stops before step 8, checkpoint at 6
    assert train(first_half, should_stop=stop_after_six)["state"] == "cancelled"
    resumed = tiny(tmp_path / "b", steps=12, resume=True)
    assert train(resumed)["state"] == "finished"
    a = [r["train_loss"] for r in read_metrics(tmp_path / "a" / "run", "train")]
    b = [r["train_loss"] for r in read_metrics(tmp_path / "b" / "run", "train")]
    assert len(a) == len(b) == 12
    assert a == pytest.approx(b, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("overrides,message", [
    (dict(n_head=3), "divisible"),
    (dict(batch_size=0), "batch size"),
    (dict(lr=-1.0), "learning rates"),
])
def test_impossible_settings_refused_before_starting(tmp_path, overrides, message):
    with pytest.raises(PlaygroundError, match=message):
        train(tiny(tmp_path, **overrides))
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_corpus_too_short_for_the_context(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("To be, or not to be, that is the question. " * 20)  # 880 characters
    status = train(tiny(tmp_path, corpus=str(short), context_length=1000))
    assert status["state"] == "failed" and "too short" in str(status["reason"])


def test_cli_has_help_for_every_flag_and_round_trips():
    parser = build_parser(TrainConfig, "python -m core.train", "")
    assert all(action.help for action in parser._actions)
    cfg = TrainConfig(n_layer=3, compile=True, corpus="goethe-faust-1")
    assert TrainConfig(**vars(parser.parse_args(to_argv(cfg)))) == cfg


def test_resume_without_checkpoint_is_clear(tmp_path):
    status = train(tiny(tmp_path, resume=True))
    assert status["state"] == "failed" and "no checkpoint" in str(status["reason"])


# --- a tokenizer learned from the corpus, several corpora, repeated passages ----------------------------------
def test_run_with_a_learned_tokenizer(tmp_path):
    """bpe-<N>: learned from the training part, saved beside the run and in every checkpoint; the model loads
    with it, the card has bits per character and head scores, and a resumed run keeps the same tokenizer."""
    from core.tokens import bpe
    from core.training.data import load_corpus, split_text
    cfg = tiny(tmp_path, tokenizer="bpe-200", corpus="the-verdict+goethe-faust-1", repeats=0.5, steps=6,
               eval_interval=3)
    assert train(cfg)["state"] == "finished"
    run = RunFolder(tmp_path / "run", write=False)
    assert run.has_tokenizer() and all((run.dir / "best" / name).exists() for name in RunFolder.TOKENIZER)
    model = load_model(run.dir / "best", device="cpu")
    assert model.tokenizer.trained and model.config.tokenizer == "bpe-200" and model.config.vocab_size == 457
    train_text = "\n".join(split_text(load_corpus(name))[0] for name in ("the-verdict", "goethe-faust-1"))
    merges = bpe.train_bpe(train_text, 200)  # learned from the training parts only
    assert model.tokenizer.merges == [m.pair for m in merges]
    card = json.loads((run.dir / "best" / "card.json").read_text())
    assert set(card["bits_per_character"]) == {"the-verdict", "goethe-faust-1"}
    assert all(0 < b < 9 for b in card["bits_per_character"].values())
    assert set(card["head_scores"]) == {"previous_token", "first_token", "same_token", "induction"}
    assert "--tokenizer bpe-200" in card["command"] and "--repeats 0.5" in card["command"]
    before = (run.dir / "bpe.tiktoken").read_bytes()
    resumed = tiny(tmp_path, tokenizer="bpe-200", corpus="the-verdict+goethe-faust-1", repeats=0.5, steps=9,
                   eval_interval=3, resume=True)
    assert train(resumed)["state"] == "finished"
    assert (run.dir / "bpe.tiktoken").read_bytes() == before
    finetuned = tiny(tmp_path, out_dir=str(tmp_path / "more"), init_from=str(run.dir / "best"), tokenizer="bpe-200",
                     corpus="the-verdict", steps=3, eval_interval=3)
    assert train(finetuned)["state"] == "finished"  # a starting model brings its tokenizer
    assert load_model(tmp_path / "more" / "best", device="cpu").tokenizer.merges == model.tokenizer.merges
    other = tiny(tmp_path, out_dir=str(tmp_path / "other"), init_from=str(run.dir / "best"), tokenizer="gpt2",
                 steps=3)
    status = train(other)
    assert status["state"] == "failed" and "bpe-200" in str(status["reason"])


def repeated_passage(row: list[int]) -> tuple[int, int, int] | None:
    """(length, first start, second start) of the longest stretch of 4 or more tokens that occurs twice."""
    for length in range(len(row) // 2, 3, -1):
        seen = {}
        for start in range(len(row) - length + 1):
            piece = tuple(row[start:start + length])
            if piece in seen and seen[piece] + length <= start:
                return length, seen[piece], start
            seen.setdefault(piece, start)
    return None


def test_repeated_passages_in_batches():
    """Every window with a repeat holds a passage of random corpus tokens twice, of varying length and distance:
    not a stretch of the corpus (ids of arange would be consecutive), so no model predicts it from memory; without
    repeats no stretch occurs twice."""
    from core.training.data import TokenWindows
    windows = TokenWindows(torch.arange(1000), context=32)
    x, y = windows.random_batch(64, torch.Generator().manual_seed(0), repeats=1.0)
    assert torch.equal(y[:, :-1], x[:, 1:])
    shapes = set()
    for row in torch.cat([x, y[:, -1:]], dim=1).tolist():
        length, first, second = repeated_passage(row)
        passage = row[first:first + length]
        assert 4 <= length <= 16 and second >= first + length  # once, and later again
        assert any(b != a + 1 for a, b in zip(passage, passage[1:]))  # random tokens, not the corpus's own text
        shapes.add((length, second - first))
    assert len(shapes) > 20  # not one fixed distance a head could learn from the positions alone
    x, _ = windows.random_batch(64, torch.Generator().manual_seed(0), repeats=0.0)
    assert all(repeated_passage(row) is None for row in x.tolist())


def test_short_windows_first(tmp_path, monkeypatch):
    """--short-context N --short-steps S: the first S steps train on N-token windows, the rest on the full context;
    the card's command says so, and impossible short windows are refused with one sentence."""
    from core.training.data import TokenWindows
    widths = []
    real = TokenWindows.random_batch

    def recorded(self, batch_size, generator, repeats=0.0):
        x, y = real(self, batch_size, generator, repeats)
        widths.append(x.shape[1])
        return x, y
    monkeypatch.setattr(TokenWindows, "random_batch", recorded)
    cfg = tiny(tmp_path, arch="llama", short_context=8, short_steps=3, steps=6, eval_interval=6, repeats=1.0)
    assert train(cfg)["state"] == "finished"
    assert widths[:6] == [8, 8, 8, 16, 16, 16] and set(widths[6:]) == {16}  # then the loss estimates
    card = json.loads((tmp_path / "run" / "best" / "card.json").read_text())
    assert "--short-context 8 --short-steps 3" in card["command"]
    for bad in (dict(short_context=16, short_steps=3), dict(short_context=2, short_steps=3), dict(short_steps=-1)):
        with pytest.raises(PlaygroundError, match="short windows need at least 4 tokens"):
            tiny(tmp_path, **bad).validate()


# --- the Llama family --------------------------------------------------------------------------------------
def test_a_llama_trains_exports_and_opens_in_transformers(tmp_path):
    """--arch llama: RoPE, RMSNorm, SwiGLU, grouped-query attention, trained by the same loop with a learned
    tokenizer; the checkpoint loads as a Llama, export_hf writes a folder transformers opens as LlamaForCausalLM
    with the same logits, and that folder loads back here with its tokenizer."""
    transformers = pytest.importorskip("transformers")
    from core import export_hf
    cfg = tiny(tmp_path, arch="llama", n_head=4, n_kv_head=2, n_embd=32, tokenizer="bpe-100", steps=8,
               eval_interval=4)
    assert train(cfg)["state"] == "finished"
    records = read_metrics(tmp_path / "run", "train")
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    model = load_model(tmp_path / "run" / "best", device="cpu")
    assert model.arch == "llama" and (model.config.n_head, model.config.n_kv_head, model.config.d_mlp) == (4, 2, 96)
    assert model.tokenizer.trained and model.config.tokenizer == "bpe-100"
    card = json.loads((tmp_path / "run" / "best" / "card.json").read_text())
    assert "--arch llama" in card["command"] and "--n-kv-head 2" in card["command"]
    folder = export_hf(model, tmp_path / "hf")
    theirs = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    assert type(theirs).__name__ == "LlamaForCausalLM"
    ids = torch.tensor([model.tokenizer.encode("Ich sage dir, the mind")])
    with torch.no_grad():
        assert torch.allclose(theirs(ids).logits, model(ids), atol=1e-4)
    again = load_model(folder, device="cpu")
    assert again.tokenizer.encode("Faust und Gretchen") == model.tokenizer.encode("Faust und Gretchen")
    with torch.no_grad():
        assert torch.allclose(again(ids), model(ids), atol=1e-5)


def test_llama_settings_are_checked(tmp_path):
    with pytest.raises(PlaygroundError, match="evenly"):
        train(tiny(tmp_path, arch="llama", n_head=4, n_kv_head=3))
    with pytest.raises(PlaygroundError, match="architecture"):
        train(tiny(tmp_path, arch="mamba"))
    from core.training.estimates import memory_estimate_bytes
    gpt, llama = (tiny(tmp_path, n_embd=32, arch=arch).model_config() for arch in ("gpt2", "llama"))
    assert (gpt.d_mlp, llama.d_mlp) == (128, 96)  # three matrices of 96 ≈ two of 128: about the same parameters
    assert 0.5 < memory_estimate_bytes(llama, 4) / memory_estimate_bytes(gpt, 4) < 1.5
