"""Server time of the Experiments page for the bundled model and 16-token prompts: each experiment in core (wall and
CPU time), the same with its figures as the page draws them, and a whole page rerun with a new prompt in AppTest
(nothing cached). Also what batching the edits and unembedding only the last position save.

    python -m bench.bench_experiments [--threads N]

CPU time is the figure to read on a shared machine: wall time grows with whatever else runs there, and with
several torch threads CPU time also counts threads that spin while they wait for a core (use --threads 1).
"""

import time

import torch

import core
from bench.common import machine, table, timeit
from core.analysis.interventions import Replace, ablate_heads, direct_logit_attribution, patch_heads, patch_residual
from playground import experiment_figures

CLEAN = "When Mary and John went to the store at noon, John gave a drink to"
CORRUPTED = "When Mary and John went to the store at noon, Mary gave a drink to"
PLACES = ["store", "park", "market", "church", "river", "tower", "garden"]  # new prompts, same length: nothing cached


def cpu_time(fn, repeat: int = 5) -> float:
    """Median CPU seconds of this process for fn(): what the server spends, whatever else shares the machine."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    model = core.load_model(core.DEFAULT_MODEL, device="cpu")
    tok = model.tokenizer
    clean, corrupted = tok.encode(CLEAN), tok.encode(CORRUPTED)
    assert len(clean) == len(corrupted) == 16
    mary, john = tok.encode(" Mary")[0], tok.encode(" John")[0]
    reference = tok.encode(open("core/assets/corpora/tinyshakespeare.txt").read()[:1200])[:256]
    c = model.config
    layers, heads = [str(i) for i in range(c.n_layer)], [str(i) for i in range(c.n_head)]

    def ablation(kind="zero"):
        r = ablate_heads(model, clean, mary, kind, reference)
        experiment_figures.signed_map(r.change.tolist(), heads, layers, "t", "head", "layer", "Δ log p",
                                      [["p"] * c.n_head] * c.n_layer)

    def patching():
        resid = patch_residual(model, clean, corrupted, mary, john)
        head_map = patch_heads(model, clean, corrupted, mary, john)
        labels = [f"{i}: {p}" for i, p in enumerate(tok.pieces(corrupted))]
        experiment_figures.signed_map(resid.restored.tolist(), labels, layers, "t", "position", "layer", "restored",
                                      value_format=".1%", cell_format=".0%", limit=1)
        experiment_figures.signed_map(head_map.restored.tolist(), heads, layers, "t", "head", "layer", "restored")

    def attribution():
        r = direct_logit_attribution(model, clean, mary)
        experiment_figures.signed_map(r.heads.tolist(), heads, layers, "t", "head", "layer", "share")
        experiment_figures.part_bars([f"MLP {i}" for i in range(c.n_layer)] + list(r.other),
                                     r.mlps.tolist() + list(r.other.values()), "t", "part", "share")

    rows = []
    for name, copies, core_fn, page_fn in [
        ("knock out heads (zeros)", c.n_layer * c.n_head, lambda: ablate_heads(model, clean, mary), ablation),
        ("knock out heads (mean over 256 tokens)", c.n_layer * c.n_head,
         lambda: ablate_heads(model, clean, mary, "mean", reference), lambda: ablation("mean")),
        ("patch residual + each head", c.n_layer * (16 + c.n_head),
         lambda: (patch_residual(model, clean, corrupted, mary, john), patch_heads(model, clean, corrupted, mary, john)),
         patching),
        ("direct logit attribution", 1, lambda: direct_logit_attribution(model, clean, mary), attribution),
    ]:
        rows.append([name, copies, f"{timeit(core_fn, repeat=5) * 1e3:.0f}", f"{cpu_time(core_fn) * 1e3:.0f}",
                     f"{cpu_time(page_fn) * 1e3:.0f}"])
    table("Experiments, bundled model (6 layers × 4 heads), 16-token prompts",
          ["experiment", "edited copies", "core wall ms", "core CPU ms", "core + figures CPU ms"], rows)

    # Why batched: the 24 zero-ablations one forward pass each, against one batch of 24 copies.
    zero = torch.zeros(c.d_head)
    edits = [Replace("z", layer, (head,), zero) for layer in range(c.n_layer) for head in range(c.n_head)]

    def one_by_one():
        for e in edits:
            def knock_out(z, e=e):
                z[:, e.where[0]] = 0
                return z
            model.run_with_hooks([clean], [(e.name, e.layer, knock_out)], positions=-1)
    batched = cpu_time(lambda: ablate_heads(model, clean, mary))
    single = cpu_time(one_by_one)
    full = cpu_time(lambda: model.run_with_hooks([clean] * len(edits)))
    last = cpu_time(lambda: model.run_with_hooks([clean] * len(edits), positions=-1))
    table("What batching and the last position save (CPU ms)", ["variant", "ms", "ratio"],
          [["24 ablations as one batch", f"{batched * 1e3:.0f}", "1.0"],
           ["24 ablations one forward pass each", f"{single * 1e3:.0f}", f"{single / batched:.1f}"],
           ["24 copies, logits of every position", f"{full * 1e3:.0f}", f"{full / last:.1f}"],
           ["24 copies, logits of the last position", f"{last * 1e3:.0f}", "1.0"]])

    page_rows = []
    try:
        from tests.support.app import open_page
    except ImportError:  # AppTest needs the repository's tests package (run from the repository root)
        open_page = None
    if open_page is not None:
        for kind in ("ablation", "patching", "attribution"):
            at = open_page("experiments", kind=kind)
            walls, cpus = [], []
            for place in PLACES[1:]:
                at.text_input(key="experiments.clean").set_value(CLEAN.replace("store", place))
                if kind == "patching":
                    at.text_input(key="experiments.corrupted").set_value(CORRUPTED.replace("store", place))
                start, cpu = time.perf_counter(), time.process_time()
                at.run()
                walls.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
                assert not at.exception, [e.value for e in at.exception]
            page_rows.append([kind, f"{sorted(walls)[len(walls) // 2] * 1e3:.0f}",
                              f"{sorted(cpus)[len(cpus) // 2] * 1e3:.0f}", "< 1000"])
        table("Whole page rerun with a new 16-token prompt (AppTest: app, sidebar, page; nothing cached)",
              ["experiment", "wall ms", "CPU ms", "target"], page_rows)


if __name__ == "__main__":
    import argparse
    import os
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    torch.set_num_threads(parser.parse_args().threads)
    print(f"# Experiments benchmark on {machine()}, load average {os.getloadavg()[0]:.1f}")
    main()
