""""Show the code": every page's program (from the page's "Show the code" expander, made by playground.snippets)
runs on its own in a fresh namespace with the bundled model and gives exactly the numbers the page shows or computes
for the same settings, to the last digit.

The texts carry quotes, a backslash and a newline, so a program whose values were pasted in without repr() fails.
The reference is what the page shows where the numbers are on it (the token ids, the generated text), elsewhere the
page's own cached calls (playground.activations, playground.sampling_controls) for the page's settings.
"""

import base64
import contextlib
import io
import json

import numpy as np
import pytest
import torch

from core.analysis.anatomy import layernorm_stats, logit_lens
from core.analysis.vectors import analogy, nearest, single_token
from core.inference.classroom import classroom_filter
from core.inference.generate import prepare_prompt, stream_text
from core.inference.sampling import (
    SamplingSettings,
    distribution_from_stages,
    entropy_bits,
    next_token_distribution,
    parse_logits,
    pipeline_stages,
    softmax,
)
from core.model.checkpoints import DEFAULT_MODEL
from playground import activations, figures, loaders, snippets
from playground.sampling_controls import next_logits
from tests.support.app import assert_clean, open_page

TRICKY = 'ROMEO: "Soft!" what\'s C:\\light\nthrough yonder window'


def program(at, result: str, label: str = "Show the code") -> str:
    """The code in the page's "Show the code" expander whose program defines `result`; exactly one."""
    found = [c.value for e in at.expander if e.label == label for c in e.code if f"\n{result} = " in c.value]
    assert len(found) == 1, found
    return found[0]


def run(code: str, result: str):
    """Executes a program as a reader would (a fresh namespace, its prints swallowed); returns its result."""
    namespace = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(code, "<snippet>", "exec"), namespace)
    assert out.getvalue()  # it prints what it computed
    return namespace[result]


def model():
    return loaders.get_model(DEFAULT_MODEL)


def cached_run(text: str):
    """The ids and cache the analysis pages use for this text."""
    ids = activations.text_to_model_input(model(), text)
    return ids, activations.run_cached(DEFAULT_MODEL, tuple(ids))


def test_settings_code_names_only_what_differs():
    s = SamplingSettings(temperature=0.7, top_k=12, logit_bias={262: -2.5})
    assert snippets.settings_code(s) == "SamplingSettings(temperature=0.7, top_k=12, logit_bias={262: -2.5})"
    assert eval(snippets.settings_code(s), {"SamplingSettings": SamplingSettings}) == s
    assert snippets.settings_code(SamplingSettings()) == "SamplingSettings()"
    assert "classroom=classroom_filter(tok)" in snippets.settings_code(
        SamplingSettings(classroom=classroom_filter(model().tokenizer)))


def test_tokens_program_gives_the_ids_the_page_shows():
    at = open_page("tokens")
    at.text_area(key="tokens.text").set_value(TRICKY + " <|endoftext|>").run()
    at.radio(key="tokens.encoding").set_value("cl100k_base").run()
    at.toggle(key="tokens.special").set_value(True).run()
    assert_clean(at)
    shown = json.loads(next(c.value for c in at.code if c.language == "json"))
    ids = run(program(at, "ids"), "ids")
    assert ids == shown and 100257 in ids  # the special token, as the page encodes it with the toggle on


def test_sampling_program_gives_the_pages_distribution():
    at = open_page("sampling")
    at.text_area(key="sampling.prompt").set_value(TRICKY).run()
    at.select_slider(key="sampling.temperature").set_value(0.7).run()
    at.number_input(key="sampling.top_k").set_value(12).run()
    at.select_slider(key="sampling.repetition").set_value(1.3).run()
    at.text_area(key="sampling.bias").set_value('" love": 2.5').run()
    assert_clean(at)
    tok = model().tokenizer
    settings = SamplingSettings(temperature=0.7, top_k=12, top_p=0.9, repetition_penalty=1.3,
                                logit_bias={tok.encode(" love")[0]: 2.5}, classroom=classroom_filter(tok))
    ids, _ = prepare_prompt(tok, TRICKY, model().config.context_length)
    logits = torch.from_numpy(next_logits(DEFAULT_MODEL, tuple(ids)))  # the page's call
    final = distribution_from_stages(pipeline_stages(logits, settings, ids), settings)
    expected = [(tok.token_text(i), float(final[i])) for i in torch.argsort(final, descending=True)[:15].tolist()
                if final[i] > 0]
    top = run(program(at, "top"), "top")
    assert top == expected and 1 < len(top) <= 12
    table = run(program(at, "table"), "table")  # the lecture's small vector above
    assert table == [softmax(parse_logits("3.23, -7.1, 5.57, 0.39, 2.4"), T).tolist() for T in [0.01, 0.5, 1, 2, 5]]
    assert [f"{p:.3g}" for p in table[2]] == ["0.0842", "2.75e-06", "0.874", "0.00492", "0.0367"]  # the page's row


def test_attention_program_gives_the_pages_pattern():
    at = open_page("attention", lang="de", session_model=DEFAULT_MODEL)  # the label in German
    at.text_area(key="attention.text").set_value(TRICKY).run()
    layer, head = model().config.n_layer - 1, 1
    at.selectbox(key="attention.layer").set_value(layer).run()
    at.selectbox(key="attention.head").set_value(head).run()
    assert_clean(at)
    ids, (_, cache) = cached_run(TRICKY)
    pattern = run(program(at, "pattern", "Code anzeigen"), "pattern")
    assert torch.equal(pattern, cache["pattern", layer][0, head]) and pattern.shape == (len(ids), len(ids))


def attention_view(view: str):
    at = open_page("attention")
    at.segmented_control(key="attention.view").set_value(view).run()
    at.text_area(key="attention.text").set_value(TRICKY).run()
    at.selectbox(key="attention.layer").set_value(1).run()
    at.selectbox(key="attention.head").set_value(2).run()
    assert_clean(at)
    return at


def test_attention_grid_program_gives_every_heads_pattern():
    at = attention_view("all")
    _, (_, cache) = cached_run(TRICKY)
    assert torch.equal(run(program(at, "patterns"), "patterns"), cache.stack("pattern")[:, 0])


def test_attention_lines_program_gives_the_lines_drawn():
    at = attention_view("lines")
    at.radio(key="attention.lines_which").set_value("all").run()
    at.select_slider(key="attention.lines_threshold").set_value(0.2).run()
    assert_clean(at)
    lines = run(program(at, "lines"), "lines")
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    # each drawn line's hover values (query token, key token, weight), twice per line, then a gap
    drawn = [c[2] for trace in fig["data"] if trace.get("mode") == "lines" for c in trace["customdata"][0::3]]
    assert lines and sorted(w for *_, w in lines) == pytest.approx(sorted(drawn), abs=1e-6)
    assert len({h for h, *_ in lines}) > 1  # all heads, as chosen


def test_attention_steps_program_computes_the_pages_matrices():
    at = attention_view("steps")
    ids, _ = cached_run(TRICKY)
    namespace = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(program(at, "A"), "<snippet>", "exec"), namespace)
    assert torch.is_grad_enabled()  # the program leaves the reader's session as it found it
    _, small = activations.run_cached(DEFAULT_MODEL, tuple(ids[:8]))
    assert torch.allclose(namespace["A"], small["pattern", 1][0, 2], atol=1e-6)
    assert torch.allclose(namespace["Z"], small["z", 1][0, 2], atol=1e-6)
    assert namespace["ids"] == ids[:8]


def test_what_heads_do_programs_give_the_pages_scores():
    at = attention_view("kinds")
    ids, _ = cached_run(TRICKY)
    scores = run(program(at, "scores"), "scores")
    assert {name: values.tolist() for name, values in scores.items()} == activations.head_scores_cached(
        DEFAULT_MODEL, tuple(ids))
    buttons = {b.key: b.label for b in at.button}
    for name, (layer, head, score) in run(program(at, "best"), "best").items():  # the buttons that open them
        assert f"layer {layer}, head {head} ({score:.2f})" in buttons[f"attention.open.{name}"]
    layer, head, score = run(program(at, "induction"), "induction")
    assert buttons["attention.open.text"].endswith(f"{layer}, head {head}")
    assert any(f"{score:.2f}" in m.value for m in at.markdown)


def test_embeddings_program_gives_the_pages_neighbours():
    at = open_page("embeddings")
    at.session_state["embeddings.view"] = "neighbours"
    at.run()
    at.text_input(key="embeddings.word").set_value(" love").run()
    assert_clean(at)
    tok = model().tokenizer
    wte = model().transformer.wte.weight.detach().cpu()
    token_id = single_token(tok, " love")
    found = nearest(wte, wte[token_id], tok, 11, exclude=(token_id,))[:10]
    neighbours = run(program(at, "neighbours"), "neighbours")
    assert neighbours == [(n.text, n.token_id, round(n.score, 4)) for n in found]
    assert [str(n[1]) for n in neighbours] == [str(i) for i in at.dataframe[0].value.iloc[:, 2]]  # the page's ids
    results = run(program(at, "results"), "results")  # the analogy below: king − man + woman
    wanted = analogy(wte, tok, *(at.session_state[f"embeddings.{box}"] for box in "abc"))
    assert results == [(n.text, round(n.score, 4)) for n in wanted] and len(results) == 10


def test_generation_program_gives_the_pages_text():
    at = open_page("generation")
    at.session_state["generation.view"] = "run"
    at.text_area(key="generation.prompt").set_value(TRICKY).run()
    at.select_slider(key="generation.temperature").set_value(0.9).run()
    at.number_input(key="generation.top_k").set_value(20).run()
    at.number_input(key="generation.seed").set_value(3).run()
    at.slider(key="generation.max_new").set_value(30).run()
    at.button(key="generation.run").click().run()
    assert_clean(at)
    shown = at.session_state["generation.run_result"][0]
    assert run(program(at, "text"), "text") == shown
    assert any(shown in c.value for c in at.code)


def test_step_program_gives_the_pages_candidates_and_draw():
    at = open_page("generation")
    at.text_area(key="generation.prompt").set_value(TRICKY).run()
    at.number_input(key="generation.seed").set_value(5).run()
    at.button(key="generation.take_greedy").click().run()
    assert_clean(at)
    tok = model().tokenizer
    ids = at.session_state["generation.tree"].ids
    settings = SamplingSettings(temperature=0.8, top_k=40, classroom=classroom_filter(tok))  # the page's defaults
    probs = next_token_distribution(torch.from_numpy(next_logits(DEFAULT_MODEL, tuple(ids))), settings, ids)
    candidates = run(program(at, "candidates"), "candidates")
    assert candidates == [(tok.token_text(i), float(probs[i])) for i in torch.argsort(probs, descending=True)[:8].tolist()
                          if probs[i] > 0]
    sampled = run(program(at, "sampled"), "sampled")
    assert repr(tok.token_text(sampled)) in at.button(key="generation.take_sample").label  # the page's draw


def test_generation_program_ends_at_a_stop_sequence():
    settings = SamplingSettings(temperature=0.0)
    full = run(snippets.generation(DEFAULT_MODEL, "ROMEO:", settings, 0, 40, []), "text")
    stop = full[len("ROMEO:") + 3:][:2]  # two characters the greedy text is known to contain
    cut = run(snippets.generation(DEFAULT_MODEL, "ROMEO:", settings, 0, 40, ["zzz", stop]), "text")
    ids = model().tokenizer.encode("ROMEO:")
    chunks = list(stream_text(model(), ids, 40, settings, 0, ["zzz", stop]))  # the page's call
    assert cut == "ROMEO:" + chunks[-1].text == full[:full.index(stop, len("ROMEO:"))] and chunks[-1].stopped == stop


def test_anatomy_program_gives_the_pages_logit_lens():
    at = open_page("anatomy")
    at.text_input(key="anatomy.text").set_value(TRICKY).run()
    assert_clean(at)
    _, (_, cache) = cached_run(TRICKY)
    top_ids, top_probs, _ = logit_lens(model(), cache)
    lens = run(program(at, "lens"), "lens")
    assert [[token for token, _ in row] for row in lens] == [
        [model().tokenizer.token_text(int(i)) for i in row[:, 0]] for row in top_ids]
    assert [[p for _, p in row] for row in lens] == [[round(float(p), 4) for p in row[:, 0]] for row in top_probs]


def test_tour_program_gives_the_pages_logits_and_probabilities():
    at = open_page("tour", step="4")  # Logits
    at.text_input(key="tour.text").set_value(TRICKY).run()
    assert_clean(at)
    _, (logits, _) = cached_run(TRICKY)
    last = logits[0, -1].float()
    probs = softmax(last).float()  # the tour's own call
    expected = [(model().tokenizer.token_text(i), float(last[i]), float(probs[i]))
                for i in torch.argsort(probs, descending=True)[:10].tolist()]
    assert run(program(at, "top"), "top") == expected


def test_experiment_programs_give_the_pages_results():
    at = open_page("experiments")
    clean, corrupted = "When Mary and John went out, John gave it to", "When Mary and John went out, Mary gave it to"
    at.text_input(key="experiments.clean").set_value(clean).run()  # the target and distractor: ' Mary', ' John'
    tok = model().tokenizer
    ids = activations.text_to_model_input(model(), clean, 32)
    target, distractor = single_token(tok, " Mary"), single_token(tok, " John")

    at.radio(key="experiments.ablation").set_value("mean").run()
    at.text_area(key="experiments.reference").set_value(TRICKY).run()
    assert_clean(at)
    reference = activations.text_to_model_input(model(), TRICKY)
    ablation = activations.ablation_cached(DEFAULT_MODEL, tuple(ids), target, "mean", tuple(reference))
    result = run(program(at, "result"), "result")
    assert (result.base, result.change.tolist()) == (ablation["base"], ablation["change"])

    at.radio(key="experiments.kind").set_value("patching").run()
    at.text_input(key="experiments.corrupted").set_value(corrupted).run()
    assert_clean(at)
    bad = activations.text_to_model_input(model(), corrupted, 32)
    patching = activations.patching_cached(DEFAULT_MODEL, tuple(ids), tuple(bad), target, distractor)
    result = run(program(at, "result"), "result")
    assert result["resid"].restored.tolist() == patching["resid"]
    assert result["heads"].restored.tolist() == patching["heads"]

    at.radio(key="experiments.kind").set_value("attribution").run()
    at.radio(key="experiments.reads").set_value("difference").run()
    assert_clean(at)
    attribution = activations.attribution_cached(DEFAULT_MODEL, tuple(ids), target, distractor)
    result = run(program(at, "result"), "result")
    assert result.logit == attribution["logit"] and result.heads.tolist() == attribution["heads"]



def drawn(at, key: str) -> list[dict]:
    """The figures the page drew under chart keys starting with `key` (plotly's JSON), in the page's order."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart") if f"-{key}" in chart.proto.id]


def numbers(values) -> list:
    """A figure's numbers as (nested) lists: plotly sends arrays as base64 ("bdata") with their dtype and shape."""
    if isinstance(values, dict):
        array = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        return array.reshape([int(n) for n in str(values.get("shape", "-1")).split(",")]).tolist()
    return values


def test_embedding_programs_give_the_pages_vectors_projection_similarity_and_positions():
    at = open_page("embeddings")
    at.text_area(key="embeddings.text").set_value(TRICKY).run()
    at.slider(key="embeddings.dims").set_value(72).run()  # the vectors view, the first 72 dimensions
    assert_clean(at)
    values = run(program(at, "values"), "values")
    assert list(values) == ["embed", "pos_embed", ("resid_pre", 0)]
    assert [v.tolist() for v in values.values()] == [numbers(f["data"][0]["z"]) for f in drawn(at, "embeddings.heat.")]
    norms = run(program(at, "norms"), "norms")  # token, position, sum
    assert [v.tolist() for v in norms.values()] == [numbers(bar["y"]) for bar in drawn(at, "embeddings.norms")[0]["data"]]

    at.session_state["embeddings.view"] = "projection"
    at.run()
    at.slider(key="embeddings.pca_n").set_value(40).run()
    at.session_state["embeddings.pca_dims"] = "3D"  # the 3D tab opened: both tabs' charts are in the page now
    at.run()
    assert_clean(at)
    programs = [c.value for e in at.expander if e.label == "Show the code" for c in e.code if "\npoints = " in c.value]
    charts = drawn(at, "embeddings.pca_chart")
    assert len(programs) == len(charts) == 2
    for code, chart, axes in zip(programs, charts, ("xy", "xyz")):  # the 2D tab, then the 3D tab
        points = run(code, "points")
        shown = [(name, list(xyz)) for group in chart["data"]  # your text, then frequent
                 for name, *xyz in zip(group["customdata"], *(numbers(group[a]) for a in axes))]
        assert [(figures.visible_plain(token), xyz) for token, xyz in points] == shown and len(points) > 40

    at.session_state["embeddings.view"] = "similarity"
    at.run()
    at.slider(key="embeddings.sim_layer").set_value(2).run()
    assert_clean(at)
    similarity = run(program(at, "similarity"), "similarity")
    assert list(similarity) == ["embed", ("resid_post", 2)]
    assert [m.tolist() for m in similarity.values()] == [numbers(drawn(at, key)[0]["data"][0]["z"])
                                                         for key in ("embeddings.sim_embed", "embeddings.sim_resid")]

    at.session_state["embeddings.view"] = "positions"
    at.run()
    at.slider(key="embeddings.n_pos").set_value(24).run()
    assert_clean(at)
    positions = run(program(at, "positions"), "positions")  # learned, sinusoidal
    assert [m.tolist() for m in positions.values()] == [numbers(f["data"][0]["z"]) for f in drawn(at, "embeddings.pos.")]
    similarity = run(program(at, "similarity"), "similarity")
    assert [m.tolist() for m in similarity.values()] == [numbers(f["data"][0]["z"]) for f in drawn(at, "embeddings.pos_sim.")]
    assert positions["learned"].shape == (24, model().config.n_embd)


def test_anatomy_programs_give_each_stages_numbers():
    at = open_page("anatomy")
    at.text_input(key="anatomy.text").set_value(TRICKY).run()
    at.slider(key="anatomy.layer").set_value(3).run()
    _, (_, cache) = cached_run(TRICKY)

    def stage(key: str):
        at.selectbox(key="anatomy.stage").set_value(key).run()
        assert_clean(at)
        return run(program(at, "values"), "values")

    def heatmaps(*keys):
        return [numbers(drawn(at, key)[0]["data"][0]["z"]) for key in keys]

    assert [v.tolist() for v in stage("wpe").values()] == heatmaps("anatomy.embed")
    assert list(stage("attn")) == [("attn_out", 3)] and [v.tolist() for v in stage("attn").values()] == heatmaps("anatomy.attn")
    assert [v.tolist() for v in stage("mlp").values()] == heatmaps("anatomy.mlp")
    assert stage("mlp")[("mlp_post", 3)].shape[-1] == 128  # the units drawn
    for key, before in (("ln2", ("resid_mid", 3)), ("ln_f", ("resid_post", model().config.n_layer - 1))):
        assert [v.tolist() for v in stage(key).values()] == heatmaps("anatomy.ln")
        assert run(program(at, "stats"), "stats") == layernorm_stats(cache[before][0])  # the page's table
    assert list(stage("add2")) == [("resid_pre", 3), ("resid_post", 3)]
    assert [v.tolist() for v in stage("add2").values()] == heatmaps("anatomy.before", "anatomy.after")
    block_norms = run(program(at, "block_norms"), "block_norms")  # before, attention adds, MLP adds
    assert list(block_norms.values()) == [numbers(bar["y"]) for bar in drawn(at, "anatomy.contrib")[0]["data"]]

    at.selectbox(key="anatomy.stage").set_value("logits").run()
    assert_clean(at)
    bars = drawn(at, "anatomy.logits")[0]["data"][0]
    top = run(program(at, "top"), "top")
    assert [(logit, p) for _, logit, p in top] == list(zip(numbers(bars["customdata"]), numbers(bars["y"])))


def test_sampling_programs_give_the_pages_distribution_and_dice():
    at = open_page("sampling")
    at.text_area(key="sampling.prompt").set_value(TRICKY).run()
    at.slider(key="sampling.top_n").set_value(9).run()
    at.text_input(key="sampling.ask").set_value(" the").run()
    at.select_slider(key="sampling.temperature").set_value(1.2).run()
    at.select_slider(key="sampling.draws").set_value(100).run()
    at.number_input(key="sampling.seed").set_value(7).run()
    assert_clean(at)
    tok = model().tokenizer
    bars = drawn(at, "sampling.dist")[0]["data"][0]
    likeliest = run(program(at, "likeliest"), "likeliest")
    assert [(logit, p) for _, logit, p in likeliest] == list(zip(numbers(bars["customdata"]), numbers(bars["y"])))
    assert len(likeliest) == 9
    rank = run(program(at, "rank"), "rank")
    assert f"rank **{rank}**" in next(m.value for m in at.markdown if "(id " in m.value)  # the page's rank line
    ids, _ = prepare_prompt(tok, TRICKY, model().config.context_length)
    probs = torch.softmax(torch.from_numpy(next_logits(DEFAULT_MODEL, tuple(ids))), -1)  # the page's call
    assert run(program(at, "entropy"), "entropy") == entropy_bits(probs)

    dice = run(program(at, "dice"), "dice")
    expected, share = (numbers(bar["y"]) for bar in drawn(at, "sampling.dice")[0]["data"])
    assert [(p, s) for _, p, s in dice] == list(zip(expected, share)) and sum(share) <= 1
    drawn_id = run(program(at, "drawn"), "drawn")
    assert f"**{tok.token_text(drawn_id)!r}**" in next(m.value for m in at.markdown if "seed 7" in m.value)


def test_compare_program_gives_the_pages_texts():
    at = open_page("generation")
    at.session_state["generation.view"] = "compare"
    at.text_area(key="generation.prompt").set_value(TRICKY).run()
    at.number_input(key="generation.seed").set_value(11).run()
    at.slider(key="generation.compare_n").set_value(20).run()
    at.button(key="generation.compare").click().run()
    assert_clean(at)
    code = program(at, "texts")
    assert "classroom=classroom_filter(tok)" in code  # the filter, on by default, as the page applies it
    texts = run(code, "texts")
    shown = at.session_state["generation.compare_result"]
    assert list(texts) == list(shown) == ["greedy", "temp_top_k", "top_p", "hot"]
    assert [texts[name] for name in texts] == [TRICKY + shown[name] for name in shown]
    assert all(any(text.strip() == c.value.strip() for c in at.code) for text in texts.values())  # as the page shows them


def test_tour_programs_give_each_steps_numbers():
    at = open_page("tour", step="1")  # Token
    at.text_input(key="tour.text").set_value(TRICKY).run()
    assert_clean(at)
    assert run(program(at, "ids"), "ids") == json.loads(next(c.value for c in at.code if c.language == "json"))

    def step(name: str) -> dict:
        at.selectbox(key="tour.jump").set_value(name).run()
        assert_clean(at)
        return drawn(at, "tour.")[0]

    shown = step("Embedding")
    assert [v.tolist() for v in run(program(at, "values"), "values").values()] == [numbers(shown["data"][0]["z"])]
    shown = step("Attention")
    pattern = run(program(at, "pattern"), "pattern")  # layer 0, the head the tour picks
    np.testing.assert_array_equal(figures.masked_future(pattern.numpy()), numbers(shown["data"][0]["z"]))
    shown = step("Temperature")
    by_temperature = run(program(at, "by_temperature"), "by_temperature")
    assert list(by_temperature) == [0.5, 1.0, 2.0]
    assert [[p for _, _, p in row] for row in by_temperature.values()] == [numbers(bars["y"]) for bars in shown["data"]]
    shown = step("Sampling")
    dice = run(program(at, "dice"), "dice")
    assert [(p, s) for _, p, s in dice] == list(zip(*(numbers(bars["y"]) for bars in shown["data"])))
    drawn_id = run(program(at, "drawn"), "drawn")
    assert repr(model().tokenizer.token_text(drawn_id)) in at.success[0].value


def test_llama_anatomy_programs_give_each_stages_numbers(llama_folder, monkeypatch):
    """The Llama family's own stages (RMSNorm, rotary, grouped-query attention, SwiGLU): each program, run with the
    folder's model, gives the numbers the stage's heatmaps draw and the RMS table."""
    from core.analysis.anatomy import rmsnorm_stats
    at = open_page("anatomy", session_model=llama_folder)
    at.text_input(key="anatomy.text").set_value(TRICKY).run()
    at.slider(key="anatomy.layer").set_value(1).run()
    llama = loaders.get_model(str(llama_folder))
    ids = activations.text_to_model_input(llama, TRICKY)
    _, cache = activations.run_cached(str(llama_folder), tuple(ids))

    def stage(key: str, result: str = "values"):
        at.selectbox(key="anatomy.stage").set_value(key).run()
        assert_clean(at)
        return run(program(at, result), result)

    def heatmap(key: str, index: int = 0):  # index: the charts whose keys start the same (gqa_groups, gqa)
        return numbers(drawn(at, key)[index]["data"][0]["z"])

    assert stage("wte")[("resid_pre", 0)].tolist() == heatmap("anatomy.embed")
    assert stage("rms2")[("ln2", 1)].tolist() == heatmap("anatomy.rms")
    assert run(program(at, "stats"), "stats") == rmsnorm_stats(cache["resid_mid", 1][0], llama.config.norm_eps)
    rope = stage("rope")
    head = at.selectbox(key="anatomy.rope_head").value
    assert rope[("q", 1)][head].tolist() == heatmap("anatomy.q") and rope[("q_rot", 1)][head].tolist() == heatmap(
        "anatomy.q_rot")
    assert stage("gqa")[("attn_out", 1)].tolist() == heatmap("anatomy.gqa", -1)
    swiglu = stage("swiglu")
    assert [swiglu[(name, 1)].tolist() for name in ("mlp_pre", "mlp_up", "mlp_post")] == [
        heatmap(f"anatomy.{name}") for name in ("mlp_pre", "mlp_up", "mlp_post")]


def test_rotary_program_gives_the_embeddings_pages_rope_figures(llama_folder):
    at = open_page("embeddings", session_model=llama_folder)
    at.text_area(key="embeddings.text").set_value(TRICKY).run()
    at.segmented_control(key="embeddings.view").set_value("positions").run()
    at.selectbox(key="embeddings.rope_layer").set_value(1).run()
    at.slider(key="embeddings.rope_pair").set_value(2).run()
    assert_clean(at)
    rope = run(program(at, "rope"), "rope")
    wavelength = drawn(at, "embeddings.rope_wavelength")[0]["data"][0]
    assert numbers(wavelength["y"]) == pytest.approx(rope["wavelength"], rel=1e-12)
    path = drawn(at, "embeddings.rope_path")[0]["data"][1]  # after the guide circle
    assert [numbers(path["x"]), numbers(path["y"])] == rope["path"].T.tolist()
    distance = drawn(at, "embeddings.rope_distance")[0]["data"][0]
    assert numbers(distance["y"]) == rope["by_distance"].tolist()
