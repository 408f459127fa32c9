"""Forward latency with and without capture; generation tokens/s with and without the KV cache."""

import torch

import core
from bench.common import table, timeit


def forward_latency(model) -> None:
    rows = []
    for T in (16, 64, 256):
        ids = torch.randint(0, model.config.vocab_size, (1, T), device=model.device)
        with torch.no_grad():
            plain = timeit(lambda ids=ids: model(ids))
        capture = timeit(lambda ids=ids: model.run_with_cache(ids))
        rows.append([T, f"{plain * 1e3:.1f}", f"{capture * 1e3:.1f}", f"{capture / plain:.2f}×"])
    table("Forward latency, bundled model (batch 1)", ["tokens", "plain ms", "with capture ms", "capture / plain"], rows)


def generation_speed(model, new_tokens: int, label: str) -> tuple[float, float]:
    prompt = [model.tokenizer.eot_id] if model.tokenizer else [0]
    cached = timeit(lambda: core.generate(model, prompt, new_tokens, temperature=0, use_kv_cache=True), repeat=3, warmup=1)
    plain = timeit(lambda: core.generate(model, prompt, new_tokens, temperature=0, use_kv_cache=False), repeat=3, warmup=1)
    table(f"Generation, {label}, {new_tokens} new tokens (greedy)", ["KV cache", "tokens/s", "seconds"],
          [["on", f"{new_tokens / cached:.0f}", f"{cached:.2f}"], ["off", f"{new_tokens / plain:.0f}", f"{plain:.2f}"],
           ["ratio on/off", f"{plain / cached:.2f}×", ""]])
    return cached, plain


def main() -> None:
    model = core.load_model(core.DEFAULT_MODEL)
    forward_latency(model)
    generation_speed(model, model.config.context_length - 1, "bundled model")


if __name__ == "__main__":
    main()
