"""Server time of the Experiments page for both bundled models (the GPT and the Llama that German sessions open with)
and 16-token prompts: each experiment in core (wall and CPU time), the same with its figures as the page draws them,
and a whole page rerun with a new prompt in AppTest (nothing cached). Also what batching the edits and unembedding
only the last position save.

    python -m bench.bench_experiments [--threads N]

CPU time is the figure to read on a shared machine: wall time grows with whatever else runs there, and with
several torch threads CPU time also counts threads that spin while they wait for a core (use --threads 1).
"""

import time

import torch

import core
from bench.common import machine, table, timeit
from core.analysis.interventions import Replace, ablate_heads, direct_logit_attribution, patch_heads, patch_residual
from core.model.checkpoints import DEFAULT_MODELS
from core.training.data import corpus_file
from playground import experiment_figures, keys

TOKENS = 16
# model -> (clean, corrupted, target, distractor, places): the same indirect-object task in words its tokenizer
# keeps whole (bpe-2000 splits " Mary" and " store"), so that every prompt is TOKENS long; each place after the
# first makes a new prompt of that length, so nothing is cached.
PROMPTS = {
    DEFAULT_MODELS["en"]: ("When Mary and John went to the store at noon, John gave a drink to",
                           "When Mary and John went to the store at noon, Mary gave a drink to", " Mary", " John",
                           ["store", "park", "market", "church", "river", "tower", "garden"]),
    DEFAULT_MODELS["de"]: ("When Romeo and Juliet came to the house, Romeo gave a ring to",
                           "When Romeo and Juliet came to the house, Juliet gave a ring to", " Juliet", " Romeo",
                           ["house", "field", "court", "sea", "city", "grave", "fair"]),
}


def cpu_time(fn, repeat: int = 5) -> float:
    """Median CPU seconds of this process for fn(): what the server spends, whatever else shares the machine."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return sorted(times)[len(times) // 2]


def measure(name: str) -> None:
    model = core.load_model(name, device="cpu")
    tok = model.tokenizer
    clean_text, corrupted_text, target_text, distractor_text, places = PROMPTS[name]
    swapped = [text.replace(places[0], place) for place in places for text in (clean_text, corrupted_text)]
    lengths = sorted({len(tok.encode(text)) for text in swapped})
    assert lengths == [TOKENS], f"{name}: prompts of {lengths} tokens, not {TOKENS}"
    clean, corrupted = tok.encode(clean_text), tok.encode(corrupted_text)
    (target,), (distractor,) = tok.encode(target_text), tok.encode(distractor_text)
    c = model.config
    reference = tok.encode(corpus_file("tinyshakespeare").read_text(encoding="utf-8")[:1200])[:min(256, c.context_length)]
    layers, heads = [str(i) for i in range(c.n_layer)], [str(i) for i in range(c.n_head)]

    def ablation(kind="zero"):
        r = ablate_heads(model, clean, target, kind, reference)
        experiment_figures.signed_map(r.change.tolist(), heads, layers, "t", "head", "layer", "Δ log p",
                                      [["p"] * c.n_head] * c.n_layer)

    def patching():
        resid = patch_residual(model, clean, corrupted, target, distractor)
        head_map = patch_heads(model, clean, corrupted, target, distractor)
        labels = [f"{i}: {p}" for i, p in enumerate(tok.pieces(corrupted))]
        experiment_figures.signed_map(resid.restored.tolist(), labels, layers, "t", "position", "layer", "restored",
                                      value_format=".1%", cell_format=".0%", limit=1)
        experiment_figures.signed_map(head_map.restored.tolist(), heads, layers, "t", "head", "layer", "restored")

    def attribution():
        r = direct_logit_attribution(model, clean, target)
        experiment_figures.signed_map(r.heads.tolist(), heads, layers, "t", "head", "layer", "share")
        experiment_figures.part_bars([f"MLP {i}" for i in range(c.n_layer)] + list(r.other),
                                     r.mlps.tolist() + list(r.other.values()), "t", "part", "share")

    rows = []
    for experiment, copies, core_fn, page_fn in [
        ("knock out heads (zeros)", c.n_layer * c.n_head, lambda: ablate_heads(model, clean, target), ablation),
        (f"knock out heads (mean over {len(reference)} tokens)", c.n_layer * c.n_head,
         lambda: ablate_heads(model, clean, target, "mean", reference), lambda: ablation("mean")),
        ("patch residual + each head", c.n_layer * (TOKENS + c.n_head),
         lambda: (patch_residual(model, clean, corrupted, target, distractor),
                  patch_heads(model, clean, corrupted, target, distractor)),
         patching),
        ("direct logit attribution", 1, lambda: direct_logit_attribution(model, clean, target), attribution),
    ]:
        rows.append([experiment, copies, f"{timeit(core_fn, repeat=5) * 1e3:.0f}", f"{cpu_time(core_fn) * 1e3:.0f}",
                     f"{cpu_time(page_fn) * 1e3:.0f}"])
    table(f"Experiments, {name} ({c.n_layer} layers × {c.n_head} heads), {len(places)} prompts × 2 of "
          f"{TOKENS} tokens each",
          ["experiment", "edited copies", "core wall ms", "core CPU ms", "core + figures CPU ms"], rows)

    # Why batched: the zero-ablations one forward pass each, against one batch of all the copies.
    zero = torch.zeros(c.d_head)
    edits = [Replace("z", layer, (head,), zero) for layer in range(c.n_layer) for head in range(c.n_head)]

    def one_by_one():
        for e in edits:
            def knock_out(z, e=e):
                z[:, e.where[0]] = 0
                return z
            model.run_with_hooks([clean], [(e.name, e.layer, knock_out)], positions=-1)
    batched = cpu_time(lambda: ablate_heads(model, clean, target))
    single = cpu_time(one_by_one)
    full = cpu_time(lambda: model.run_with_hooks([clean] * len(edits)))
    last = cpu_time(lambda: model.run_with_hooks([clean] * len(edits), positions=-1))
    n = len(edits)
    table(f"{name}: what batching and the last position save (CPU ms)", ["variant", "ms", "ratio"],
          [[f"{n} ablations as one batch", f"{batched * 1e3:.0f}", "1.0"],
           [f"{n} ablations one forward pass each", f"{single * 1e3:.0f}", f"{single / batched:.1f}"],
           [f"{n} copies, logits of every position", f"{full * 1e3:.0f}", f"{full / last:.1f}"],
           [f"{n} copies, logits of the last position", f"{last * 1e3:.0f}", "1.0"]])

    page_rows = []
    try:
        from tests.support.app import open_page
    except ImportError:  # AppTest needs the repository's tests package (run from the repository root)
        open_page = None
    if open_page is not None:
        for kind in ("ablation", "patching", "attribution"):
            # An English session even for the model German sessions open with: AppTest formats a rerun's options
            # outside the script run, in English, and then finds no German option to match.
            at = open_page("experiments", kind=kind, model=name, target=target_text, distractor=distractor_text)
            assert at.session_state[keys.MODEL_SELECT] == name, at.session_state[keys.MODEL_SELECT]
            walls, cpus = [], []
            for place in places[1:]:
                at.text_input(key="experiments.clean").set_value(clean_text.replace(places[0], place))
                if kind == "patching":
                    at.text_input(key="experiments.corrupted").set_value(corrupted_text.replace(places[0], place))
                start, cpu = time.perf_counter(), time.process_time()
                at.run()
                walls.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
                # a page stopped at a message would look fast
                assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
            page_rows.append([kind, f"{sorted(walls)[len(walls) // 2] * 1e3:.0f}",
                              f"{sorted(cpus)[len(cpus) // 2] * 1e3:.0f}", "< 1000"])
        table(f"{name}: whole page rerun with a new {TOKENS}-token prompt (AppTest: app, sidebar, page; nothing "
              "cached)", ["experiment", "wall ms", "CPU ms", "target"], page_rows)


def main() -> None:
    for name in PROMPTS:
        measure(name)


if __name__ == "__main__":
    import argparse
    import os
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    torch.set_num_threads(parser.parse_args().threads)
    print(f"# Experiments benchmark on {machine()}, load average {os.getloadavg()[0]:.1f}")
    main()
