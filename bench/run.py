"""Run every benchmark and print figures and ratios (never asserted in tests). `make bench`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (  # noqa: E402
    bench_bpe,
    bench_experiments,
    bench_generation,
    bench_llama,
    bench_model,
    bench_pages,
    bench_tokens,
    bench_train,
)
from bench.common import machine  # noqa: E402

if __name__ == "__main__":
    print(f"# Benchmarks on {machine()}")
    for module in (bench_model, bench_tokens, bench_bpe, bench_pages, bench_experiments, bench_generation, bench_llama,
                   bench_train):
        module.main()
