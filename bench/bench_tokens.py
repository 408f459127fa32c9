"""Tokenizing 100,000 characters in every encoding; 200 BPE merges on 100 KB."""

import time

from bench.common import table, timeit
from core.tokens.bpe import train_bpe
from core.tokens.encodings import TOKENIZER_NAMES, load_tokenizer
from core.training.data import load_corpus


def main() -> None:
    text = load_corpus("tinyshakespeare")[:100_000]
    rows = []
    total = 0.0
    for name in TOKENIZER_NAMES:
        start = time.perf_counter()
        tok = load_tokenizer(name)
        load = time.perf_counter() - start
        seconds = timeit(lambda tok=tok: tok.encode(text), repeat=5)
        total += seconds
        rows.append([name, f"{load * 1e3:.0f}", f"{seconds * 1e3:.1f}", f"{len(tok.encode(text)):,}"])
    rows.append(["all three", "", f"{total * 1e3:.1f}", "target < 1000 ms"])
    table("Tokenize 100,000 characters", ["encoding", "first load ms", "encode ms", "tokens"], rows)
    seconds = timeit(lambda: train_bpe(text, 200), repeat=3, warmup=1)
    table("BPE by doing: 200 merges on 100 KB (incremental pair counts)", ["seconds", "target"],
          [[f"{seconds:.2f}", "< 3 s"]])


if __name__ == "__main__":
    main()
