"""Our Llama against transformers' LlamaForCausalLM on the same random SmolLM2-135M-shaped model, on the CPU:
forward latency, generation tokens/s (greedy, both must produce the same ids), and our KV cache's speed-up.

    python -m bench.bench_llama [--threads N] [--new-tokens 64]

Both models hold the same fp32 weights (ours are copied from theirs); transformers runs its default
attention (sdpa). Ratios above 1.0 mean ours is faster. The runs compared take turns (timeit_together), so a
shared machine's changing load does not favour one. Not part of the test suite: timings are never asserted.
"""

from __future__ import annotations

import argparse

import torch

import core
from bench.common import machine, table, timeit_together
from core.model.hf_llama import config_from_hf

SMOLLM2_135M = dict(model_type="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                    num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                    rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)


def models():
    """(ours, theirs) with the same random weights."""
    import transformers

    torch.manual_seed(0)
    theirs = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        **{k: v for k, v in SMOLLM2_135M.items() if k != "model_type"})).eval()
    ours = core.Llama(config_from_hf(SMOLLM2_135M, "SmolLM2-135M shape")).eval()
    missing, unexpected = ours.load_state_dict(theirs.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)  # tied: lm_head is embed
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters()) == 134_515_008
    return ours, theirs


def forward_latency(ours, theirs) -> None:
    rows = []
    for T in (16, 128, 512):
        ids = torch.randint(0, 49152, (1, T), generator=torch.Generator().manual_seed(T))
        with torch.no_grad():
            assert (ours(ids) - theirs(ids).logits).abs().max().item() < 1e-3
            a, b = timeit_together([lambda ids=ids: ours(ids), lambda ids=ids: theirs(ids, use_cache=False)], repeat=5)
        rows.append([T, f"{a * 1e3:.1f}", f"{b * 1e3:.1f}", f"{b / a:.2f}×"])
    table("Forward latency, SmolLM2-135M shape, batch 1 (logits for every position)",
          ["tokens", "ours ms", "transformers ms", "ratio (theirs / ours)"], rows)


def generation(ours, theirs, new_tokens: int) -> None:
    prompt = torch.randint(1, 49152, (1, 16), generator=torch.Generator().manual_seed(1))

    def mine(cache=True):
        return core.generate(ours, prompt, new_tokens, temperature=0, use_kv_cache=cache)

    def reference():
        with torch.no_grad():
            return theirs.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                   pad_token_id=0, eos_token_id=None)
    same = mine().tolist() == reference().tolist()
    a, b, c = timeit_together([mine, reference, lambda: mine(cache=False)])
    table(f"Generation, SmolLM2-135M shape, 16-token prompt + {new_tokens} new tokens (greedy; same ids: {same})",
          ["run", "tokens/s", "seconds", "ratio"],
          [["ours, KV cache", f"{new_tokens / a:.1f}", f"{a:.2f}", f"{b / a:.2f}× transformers"],
           ["transformers (its cache)", f"{new_tokens / b:.1f}", f"{b:.2f}", ""],
           ["ours, no KV cache", f"{new_tokens / c:.1f}", f"{c:.2f}", f"KV cache speed-up {c / a:.2f}×"]])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# Llama vs transformers on {machine()}")
    ours, theirs = models()
    forward_latency(ours, theirs)
    generation(ours, theirs, args.new_tokens)


if __name__ == "__main__":
    main()
