"""Generation with a GPT-2 124M-shaped model (random weights, same layout as the real one):
KV cache against none, and ours against transformers' generate on the same weights."""

import tempfile

import torch

import core
from bench.common import table, timeit


def main(new_tokens: int = 200) -> None:
    try:
        import transformers
    except ImportError:
        print("\n(transformers is not installed: skipping the 124M generation benchmark)")
        return
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
    with tempfile.TemporaryDirectory() as folder:
        hf.save_pretrained(folder)
        ours = core.load_model(folder, device="cpu")
    prompt = ours.tokenizer.encode("The meaning of life is")
    ids = torch.tensor([prompt])

    def run_ours(cache=True):
        return core.generate(ours, prompt, new_tokens, temperature=0, use_kv_cache=cache)

    def run_hf():
        with torch.no_grad():
            return hf.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                               pad_token_id=50256)

    assert run_ours() == run_hf()[0].tolist(), "ours and transformers must produce the same greedy tokens"
    with_cache = timeit(run_ours, repeat=3, warmup=1)
    theirs = timeit(run_hf, repeat=3, warmup=1)
    without = timeit(lambda: run_ours(cache=False), repeat=1, warmup=0)
    table(f"GPT-2 124M shape, {new_tokens} new tokens, greedy, CPU", ["generator", "seconds", "tokens/s"],
          [["ours, KV cache", f"{with_cache:.2f}", f"{new_tokens / with_cache:.1f}"],
           ["ours, no KV cache", f"{without:.2f}", f"{new_tokens / without:.1f}"],
           ["transformers generate", f"{theirs:.2f}", f"{new_tokens / theirs:.1f}"]])
    table("Ratios", ["ratio", "value", "target"],
          [["KV cache speed-up (no cache / cache)", f"{without / with_cache:.2f}×", "≥ 5×"],
           ["time ours / transformers", f"{with_cache / theirs:.2f}", "≤ 1.0"]])


if __name__ == "__main__":
    main()
