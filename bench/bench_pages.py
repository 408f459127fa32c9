"""Server-side time of what the pages do: a new 64-token text on the attention page (one captured run plus the
figures), and a change of layer/head (figures only, the run is cached)."""

import torch

import core
from bench.common import table, timeit
from core.analysis.attention import head_steps
from core.inference.sampling import STAGES, SamplingSettings, distribution_from_stages, pipeline_stages
from core.training.data import corpus_file
from playground import figures


def main() -> None:
    model = core.load_model(core.DEFAULT_MODEL, device="cpu")
    text = corpus_file("tinyshakespeare").read_text(encoding="utf-8")[2000:2400]
    ids = model.tokenizer.encode(text)[:64]
    pieces = model.tokenizer.pieces(ids)
    c = model.config

    def new_text():
        _, cache = model.run_with_cache([ids])
        draw(cache, 0, 0)

    def draw(cache, layer, head):
        pattern = cache["pattern", layer][0]
        figures.attention_heatmap(pattern[head].numpy(), pieces, "one head")
        figures.attention_grid([[cache["pattern", lay][0, h].numpy() for h in range(c.n_head)]
                                for lay in range(c.n_layer)], c.n_layer, c.n_head, (layer, head))
        head_steps(model, cache, layer, head)

    _, cache = model.run_with_cache([ids])
    t_new = timeit(new_text, repeat=5)
    t_switch = timeit(lambda: draw(cache, 3, 2), repeat=5)
    table("Attention page, server time (bundled model, CPU)", ["action", "ms", "target"],
          [["new 64-token text: run with capture + figures", f"{t_new * 1e3:.0f}", "< 300"],
           ["other layer/head: figures from the cached run", f"{t_switch * 1e3:.0f}", "no model run"]])

    logits = model(torch.tensor([ids]))[0, -1].detach()
    settings = SamplingSettings(temperature=0.8, top_k=40, top_p=0.9, repetition_penalty=1.2,
                                logit_bias={262: -100.0})

    def control_change():  # what the sampling page does when a slider moves: no model run
        stages = pipeline_stages(logits, settings, ids)
        final = distribution_from_stages(stages, settings)
        shown = torch.argsort(final, descending=True)[:15].tolist()
        stage_probs = {n: torch.softmax(stages[n], -1) for n in STAGES}  # as the page: one softmax per stage
        rows = [[float(stage_probs[n][i]) for n in STAGES] for i in shown]
        figures.pipeline_figure(list(STAGES), model.tokenizer.pieces(shown), rows)
    t_control = timeit(control_change, repeat=7)
    table("Sampling page, server time for a control change", ["action", "ms", "target"],
          [["pipeline on cached logits + pipeline figure", f"{t_control * 1e3:.1f}", "< 50"]])


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    main()
