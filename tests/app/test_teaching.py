"""What the pages teach is right: each number against core or a hand computation, each sentence against the
numbers it describes, and German pages in German number format."""

import json
import re

import pytest
import torch

import core
from core.analysis.attention import head_scores
from core.analysis.vectors import analogy
from core.model.checkpoints import DEFAULT_MODEL
from playground import examples
from tests.support.app import assert_clean, open_page


@pytest.fixture(scope="module")
def model():
    return core.load_model(core.DEFAULT_MODEL, device="cpu")


def chart(at, key: str) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id).proto.spec)


def specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_anatomy_boxes_count_one_block_with_the_total_beside():
    at = open_page("anatomy")
    assert_clean(at)
    notes = [a["text"] for s in specs(at) for a in s["layout"].get("annotations", [])]
    # the bundled model by hand: LayerNorm 2·128, attention 128·384+384+128·128+128, MLP 128·512+512+512·128+128
    for per_block in (256, 66_048, 131_712):
        # on one line, or on two when it does not fit its box
        assert any(n.replace("<br>", " · ").endswith(f"· {per_block:,} per block · {6 * per_block:,} in all")
                   for n in notes), per_block
    assert "× 6<br>blocks" in notes


def test_logit_lens_counts_blocks_from_zero_everywhere(model):
    at = open_page("anatomy")
    lens = next(s for s in specs(at) if s["data"][0].get("texttemplate") == "%{text}")
    assert lens["data"][0]["y"] == list(range(model.config.n_layer))
    assert lens["layout"]["yaxis"]["title"]["text"] == "after block"
    assert "after block %{y}" in lens["data"][0]["hovertemplate"]
    line = next(s for s in specs(at) if s["layout"]["xaxis"]["title"]["text"] == "after block"
                and s["data"][0]["type"] == "scatter")
    assert line["data"][0]["x"] == list(range(model.config.n_layer))
    explained = " ".join(i.value for i in at.info)
    assert "after block 0, 1" in explained and f"after block {model.config.n_layer - 1}" in explained
    assert "block 1, 2" not in explained


def test_tour_temperature_uses_the_whole_distribution(model):
    at = open_page("tour")
    at.selectbox(key="tour.jump").set_value("Softmax").run()
    softmax_bars = specs(at)[0]["data"][0]["y"]
    at.selectbox(key="tour.jump").set_value("Temperature").run()
    assert_clean(at)
    text = at.text_input(key="tour.text").value
    with torch.no_grad():
        logits = model(torch.tensor([model.tokenizer.encode(text)]))[0, -1].double()
    top = torch.argsort(logits, descending=True)[:5]
    bars = {trace["name"]: trace for trace in specs(at)[0]["data"]}
    for temperature in (0.5, 1.0, 2.0):  # softmax over all 50,257 logits, then the five most likely shown
        expected = torch.softmax(logits / temperature, -1)[top]
        assert bars[f"T = {temperature:g}"]["y"] == pytest.approx(expected.tolist(), abs=1e-5)
    assert bars["T = 1"]["y"] == pytest.approx(softmax_bars[:5], abs=1e-5)  # the step before shows the same
    for label, i in zip(bars["T = 1"]["x"], top.tolist()):  # the logits the text promises, on the axis
        assert label.endswith(f"({float(logits[i]):.2f})")


def test_what_heads_do_says_which_heads_pass_the_threshold(model):
    at = open_page("attention", view="kinds")
    assert_clean(at)
    ids = model.tokenizer.encode(at.text_area(key="attention.text").value)
    _, cache = model.run_with_cache([ids])
    scores = head_scores(model, cache)
    captions = [c.value for c in at.caption if "0.4" in c.value]
    assert len(captions) == len(scores)
    in_columns = list(scores.items())[0::2] + list(scores.items())[1::2]  # the page shows them in two columns
    for caption, (name, values) in zip(captions, in_columns):
        strong = [(lay, h) for lay in range(values.shape[0]) for h in range(values.shape[1]) if values[lay, h] >= 0.4]
        if strong:
            assert caption.startswith("Heads with a score of at least 0.4")
            assert caption.count("Layer ") == len(strong), name
        else:
            assert caption.startswith("No head of this model reaches 0.4"), name
            assert f"{float(values.max()):.2f}" in caption
    kinds = [s for s in specs(at) if s["data"][0].get("colorscale") and s["layout"]["xaxis"]["title"]["text"] == "head"]
    assert kinds and all((s["data"][0]["zmin"], s["data"][0]["zmax"]) == (0, 1) for s in kinds)


def test_analogies_claim_the_relation_only_when_the_answer_comes_first(model):
    at = open_page("embeddings", view="neighbours")
    wte = model.transformer.wte.weight.detach()
    for preset, (a, b, c, expected) in {"king": (" king", " man", " woman", " queen"),
                                        "father": (" father", " man", " woman", " mother"),
                                        "paris": (" Paris", " France", " Italy", " Rome")}.items():
        at.selectbox(key="embeddings.analogy_preset").set_value(preset).run()
        assert_clean(at)
        assert (at.text_input(key="embeddings.a").value, at.text_input(key="embeddings.c").value) == (a, c)
        results = analogy(wte, model.tokenizer, a, b, c)
        learnt = any("has learnt the relation" in s.value for s in at.success)
        assert learnt == (results[0].text == expected), preset
        if expected in [r.text for r in results[1:]]:
            assert any("not first" in i.value for i in at.info)
    at.selectbox(key="embeddings.analogy_preset").set_value("koenig").run()
    assert_clean(at)
    assert not at.error and not at.success
    assert any("' K' + 'ön' + 'ig'" in i.value and "cannot be computed" in i.value for i in at.info)


def test_take_the_sample_rolls_anew_unless_a_seed_is_set():
    at = open_page("generation")
    at.select_slider(key="generation.temperature").set_value(1.5).run()
    at.number_input(key="generation.top_k").set_value(0).run()
    assert at.number_input(key="generation.seed").value is None  # empty by default: random
    drawn = set()
    for _ in range(8):
        at.button(key="generation.take_sample").click().run()
        drawn.add(at.session_state["generation.tree"].path[-1])
        at.button(key="generation.undo").click().run()
    assert len(drawn) > 1  # eight identical draws at T = 1.5 over the whole vocabulary: practically impossible
    at.number_input(key="generation.seed").set_value(7).run()
    seeded = set()
    for _ in range(4):
        at.button(key="generation.take_sample").click().run()
        seeded.add(at.session_state["generation.tree"].path[-1])
        at.button(key="generation.undo").click().run()
    assert len(seeded) == 1  # with a seed: repeatable


def test_sampling_figures_show_only_possible_tokens():
    at = open_page("sampling")
    at.number_input(key="sampling.top_k").set_value(3).run()
    at.select_slider(key="sampling.top_p").set_value(1.0).run()
    assert_clean(at)
    dice = next(s for s in specs(at) if s["layout"]["title"]["text"].startswith("The weighted dice"))
    assert len(dice["data"][0]["x"]) == 3 and min(dice["data"][0]["y"]) > 0
    at = open_page("generation")
    at.number_input(key="generation.top_k").set_value(2).run()
    assert_clean(at)
    step = specs(at)[0]
    assert len(step["data"][0]["x"]) == 2 and min(step["data"][0]["y"]) > 0


@pytest.mark.parametrize("raw", ["1, nan", "inf, 2", "1e308, 1", "3, -2000"])
def test_the_small_logit_vector_refuses_what_is_not_a_logit(raw):
    at = open_page("sampling")
    at.text_input(key="sampling.lecture_logits").set_value(raw).run()
    assert_clean(at)
    assert any("Each logit must be a number between -1000 and 1000" in e.value for e in at.error)


def test_german_sessions_get_examples_the_model_can_read():
    at = open_page("sampling", lang="de")  # German sessions start with the bilingual model: German examples
    assert_clean(at)
    assert at.text_area(key="sampling.prompt").value.startswith("MEPHISTOPHELES:")
    assert not any("gelernt (" in c.value for c in at.caption)
    at = open_page("sampling", lang="de", session_model=DEFAULT_MODEL)  # the English model, chosen in German
    assert at.text_area(key="sampling.prompt").value.startswith("ROMEO:")  # it learnt English
    assert any("auf Englisch gelernt" in c.value for c in at.caption)
    at = open_page("sampling")
    assert not any("learnt from" in c.value for c in at.caption)  # English session, English model: nothing to say


NUMBER = re.compile(r"\d[\d.,]*\d|\d")


@pytest.mark.parametrize("url", ["home", "tokens", "anatomy", "sampling"])
def test_german_pages_write_numbers_the_german_way(url):
    """Every number of the page's metrics, German against English: the same digits with the marks swapped
    (7,655,552 -> 7.655.552, 2.80 -> 2,80); and the figures format theirs the same way."""
    english, german = open_page(url), open_page(url, lang="de", session_model=DEFAULT_MODEL)  # the same model
    assert_clean(german)
    if url == "tokens":  # German sessions open with German prose: compare the same text
        english.text_area(key="tokens.text").set_value(german.text_area(key="tokens.text").value).run()
    swap = str.maketrans(",.", ".,")
    en = [NUMBER.findall(m.value) for m in english.metric]
    de = [NUMBER.findall(m.value) for m in german.metric]
    assert any(en) and de == [[n.translate(swap) for n in numbers] for numbers in en], (en, de)
    assert all(s["layout"]["separators"] == ",." for s in specs(german))
    if url == "home":
        assert german.metric[0].value == "7.655.552"
        facts = german.dataframe[1].value
        shown = dict(zip(facts.iloc[:, 0], facts.iloc[:, 1]))
        assert shown["trainiert auf"] == "Tiny Shakespeare (40.000 Zeilen aus den Stücken)"
        assert "304.222 Tokens" in shown["Datenaufteilung"] and shown["Schritte"] == "1.300 von 3.000"


def test_examples_follow_the_languages_a_model_reads():
    """A bilingual model ("en+de" on its card, or corpora joined with +) gets each session's own language; a
    one-language model its own language."""
    assert examples.text_language({"corpus": "tinyshakespeare+goethe-faust-1"}) == "en+de"
    assert examples.text_language({"corpus": "goethe-faust-1"}) == "de"
    assert examples.text_language({}) == "en"
    assert examples.prompt("tour", "de", "en+de") == examples.PROMPTS["tour"]["de"]
    assert examples.prompt("tour", "en", "en+de") == examples.PROMPTS["tour"]["en"]
    assert examples.prompt("tour", "de", "en") == examples.PROMPTS["tour"]["en"]
