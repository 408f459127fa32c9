"""Training speed. CPU: our GPT against transformers' GPT2LMHeadModel, same config, data, optimizer and loop; and
the same blocks with a 2k (bpe-2000) against GPT-2's 50k vocabulary. GPU (`--gpu`): the real training loop
(core.train) on the GPT-2 124M shape, context 1024, bf16: tokens/s and MFU."""

import argparse
import tempfile
import time

import torch

from bench.common import table
from core.model.gpt import GPT, GPTConfig, count_parameters
from core.training.pretrain import TrainConfig, train
from core.training.runfolder import RunFolder

H100_BF16_FLOPS = 989e12


def loop_tokens_per_second(model, batches, steps: int) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    model.train()
    for i in range(steps + 2):
        if i == 2:
            start = time.perf_counter()  # two warm-up steps
        x, y = batches[i % len(batches)]
        out = model(x)
        logits = out.logits if hasattr(out, "logits") else out
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return steps * batches[0][0].numel() / (time.perf_counter() - start)


def cpu_comparison(steps: int = 10) -> None:
    import transformers

    config = GPTConfig(context_length=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0)
    hf_config = transformers.GPT2Config(n_positions=128, n_embd=128, n_layer=4, n_head=4, resid_pdrop=0.0,
                                        embd_pdrop=0.0, attn_pdrop=0.0)
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(4):
        ids = torch.randint(0, 50257, (8, 129), generator=g)
        batches.append((ids[:, :-1], ids[:, 1:]))
    torch.manual_seed(0)
    ours_model, theirs_model = GPT(config), transformers.GPT2LMHeadModel(hf_config)
    ours_runs, theirs_runs = [], []
    for _ in range(3):  # alternate, so drifting machine load hits both alike; report the medians
        ours_runs.append(loop_tokens_per_second(ours_model, batches, steps))
        theirs_runs.append(loop_tokens_per_second(theirs_model, batches, steps))
    ours, theirs = sorted(ours_runs)[1], sorted(theirs_runs)[1]
    table(f"Training on the CPU ({torch.get_num_threads()} threads): 4 layers, width 128, context 128, batch 8, "
          "AdamW", ["model", "tokens/s"],
          [["ours", f"{ours:,.0f}"], ["transformers GPT2LMHeadModel", f"{theirs:,.0f}"],
           ["ratio ours / transformers", f"{ours / theirs:.2f} (target ≥ 1.0)"]])


def vocabulary_comparison(steps: int = 6) -> None:
    """The bundled model's blocks (6 layers, width 192, context 256, batch 8) with two vocabularies: the
    unembedding and its softmax over 50,257 tokens dominate a small model's step."""
    rows = []
    for name, vocab in (("bpe-2000", 2257), ("gpt2", 50257)):
        config = GPTConfig(vocab_size=vocab, context_length=256, n_layer=6, n_head=6, n_embd=192, dropout=0.1)
        g = torch.Generator().manual_seed(0)
        batches = [(ids[:, :-1], ids[:, 1:]) for ids in (torch.randint(0, vocab, (8, 257), generator=g)
                                                          for _ in range(2))]
        torch.manual_seed(0)
        rows.append([name, f"{vocab:,}", f"{count_parameters(config):,}",
                     loop_tokens_per_second(GPT(config), batches, steps)])
    ratio = rows[0][3] / rows[1][3]
    table(f"Training on the CPU ({torch.get_num_threads()} threads): 6 layers, width 192, context 256, batch 8",
          ["tokenizer", "vocabulary", "parameters", "tokens/s"],
          [[*r[:3], f"{r[3]:,.0f}"] for r in rows] + [["ratio 2k / 50k", "", "", f"{ratio:.1f}×"]])


def gpu_mfu(steps: int = 60, batch_size: int = 16, compile_model: bool = True) -> None:
    with tempfile.TemporaryDirectory() as folder:
        cfg = TrainConfig(out_dir=folder, corpus="tinyshakespeare", n_layer=12, n_head=12, n_embd=768,
                          context_length=1024, dropout=0.0, batch_size=batch_size, steps=steps, warmup_steps=5,
                          eval_interval=10**6, eval_batches=1, log_interval=10, sample_tokens=1, device="cuda",
                          precision="bf16", compile=compile_model, stride=1)
        status = train(cfg)
        records = RunFolder(folder, write=False).read_metrics("train")
    steady = [r["tokens_per_s"] for r in records if r["step"] > 20]  # after compiling and warm-up
    tps = sum(steady) / len(steady)
    c = cfg.model_config()
    flops_per_token = 6 * count_parameters(c) + 12 * c.n_layer * c.n_head * c.d_head * c.context_length
    mfu = tps * flops_per_token / H100_BF16_FLOPS
    table(f"GPU training, GPT-2 124M shape, context 1024, batch {batch_size}, bf16, compile={compile_model} "
          f"({torch.cuda.get_device_name()})", ["figure", "value"],
          [["status", status["state"]], ["tokens/s", f"{tps:,.0f}"],
           ["FLOPs per token (6N + 12·L·H·Q·T)", f"{flops_per_token / 1e6:,.0f} M"],
           ["MFU against 989 TFLOP/s", f"{mfu:.1%} (target ≥ 40%)"]])


def main() -> None:
    cpu_comparison()
    vocabulary_comparison()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    if args.gpu:
        gpu_mfu(steps=args.steps, batch_size=args.batch_size, compile_model=not args.no_compile)
    else:
        main()
