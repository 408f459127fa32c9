"""Attention and embeddings: the step-by-step head equals the cache; scores; the two pages."""

import json

from tests.support.app import APP, assert_clean, open_page


def test_attention_page_layers_heads_and_steps():
    at = open_page("attention")
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 1  # one view at a time: only the chosen one is built and sent
    at.segmented_control(key="attention.view").set_value("steps").run()
    assert any("largest difference" in s.value for s in at.success)
    at.selectbox(key="attention.layer").set_value(3).run()
    at.selectbox(key="attention.head").set_value(2).run()
    assert_clean(at)
    at.segmented_control(key="attention.view").set_value("lines").run()
    at.radio(key="attention.lines_which").set_value("all").run()
    assert_clean(at)
    at.selectbox(key="attention.lines_focus").set_value("q3").run()
    assert_clean(at)
    for view in ("all", "kinds"):
        at.segmented_control(key="attention.view").set_value(view).run()
        assert_clean(at)


def test_attention_page_bad_input():
    at = open_page("attention")
    at.text_area(key="attention.text").set_value("").run()
    assert_clean(at)
    assert any("empty" in e.value for e in at.error)
    at.text_area(key="attention.text").set_value("Hi").run()
    assert_clean(at)
    at.text_area(key="attention.text").set_value("word " * 400).run()
    assert_clean(at)
    assert any("first 256" in w.value for w in at.warning)


def test_attention_page_clamps_url_indices():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["layer"] = "99"
    at.query_params["head"] = "x"
    at.run()
    at.switch_page("../pages/attention.py").run()
    assert_clean(at)
    assert at.selectbox(key="attention.layer").value == 5
    assert any("layers 0 to 5" in w.value for w in at.warning)


def test_embeddings_page():
    at = open_page("embeddings")
    assert_clean(at)
    at.segmented_control(key="embeddings.view").set_value("projection").run()
    at.session_state["embeddings.pca_dims"] = "3D"
    at.run()
    assert_clean(at)
    assert [json.loads(c.proto.spec)["data"][0]["type"] for c in at.get("plotly_chart")] == ["scatter", "scatter3d"]
    assert any("first 3D view" in c.value for c in at.caption)  # said before the slow part, in the browser
    at.segmented_control(key="embeddings.view").set_value("neighbours").run()
    at.text_input(key="embeddings.word").set_value(" Königin").run()
    assert_clean(at)
    assert any("one token" in e.value for e in at.error)
    at.selectbox(key="embeddings.analogy_preset").set_value("koenig").run()
    assert_clean(at)
    at.segmented_control(key="embeddings.view").set_value("similarity").run()
    at.slider(key="embeddings.sim_layer").set_value(0).run()
    assert_clean(at)
    at.segmented_control(key="embeddings.view").set_value("positions").run()
    assert_clean(at)


def test_one_click_opens_the_head_the_scores_pick(bundled):
    from core.analysis.attention import head_scores, strongest_heads
    at = open_page("attention")
    ids = bundled.tokenizer.encode(at.text_area(key="attention.text").value)
    _, cache = bundled.run_with_cache([ids], names={"pattern"})
    best = strongest_heads(head_scores(bundled, cache))
    for name in ("induction", "previous_token"):
        at.segmented_control(key="attention.view").set_value("kinds").run()
        at.button(key=f"attention.open.{name}").click().run()
        assert_clean(at)
        layer, head, _ = best[name]
        assert (at.selectbox(key="attention.layer").value, at.selectbox(key="attention.head").value) == (layer, head)
        assert at.segmented_control(key="attention.view").value == "one"  # the head alone, large


def test_a_model_without_the_behaviour_offers_the_bundled_model_that_has_it():
    """The default English model has no induction head; "What heads do" says so and, one click, opens the bundled
    Llama at the induction head its card names, measured there by the same scores."""
    import core
    from core.analysis.attention import induction_scores
    from core.model.checkpoints import MODELS_DIR
    from playground import keys
    at = open_page("attention")
    at.segmented_control(key="attention.view").set_value("kinds").run()
    assert any("so none shows this behaviour clearly" in c.value for c in at.caption)
    card = json.loads((MODELS_DIR / "shakespeare-faust-llama" / "card.json").read_text())["head_scores"]["induction"]
    assert any(f"shakespeare-faust-llama has one: layer {card['layer']}, head {card['head']}" in c.value
               for c in at.caption)
    at.button(key="attention.other.induction.shakespeare-faust-llama").click().run()
    assert_clean(at)
    assert at.session_state[keys.MODEL] == "shakespeare-faust-llama"
    assert (at.selectbox(key="attention.layer").value, at.selectbox(key="attention.head").value) == (
        card["layer"], card["head"])
    assert at.segmented_control(key="attention.view").value == "one"
    scores = induction_scores(core.load_model("shakespeare-faust-llama", device="cpu"))
    assert scores[card["layer"], card["head"]] >= 0.4  # what the button promised holds on the weights
    at.segmented_control(key="attention.view").set_value("kinds").run()
    assert not [b for b in at.button if b.key and b.key.startswith("attention.other.induction")]  # it has one


def test_induction_demo_on_a_passage_the_user_edits(bundled):
    from core.analysis.attention import strongest_heads, text_induction_scores
    at = open_page("attention")
    at.segmented_control(key="attention.view").set_value("kinds").run()
    passage = "Seven paper bridges hum at noon. Seven paper bridges hum at noon."
    at.text_area(key="attention.induction_text").set_value(passage).run()
    assert_clean(at)
    ids = bundled.tokenizer.encode(passage)
    _, cache = bundled.run_with_cache([ids], names={"pattern"})
    layer, head, score = strongest_heads({"induction": text_induction_scores(cache.stack("pattern")[:, 0], ids)})[
        "induction"]
    assert any(f"layer {layer}, head {head}: on average {score:.2f}" in m.value for m in at.markdown)
    at.button(key="attention.open.text").click().run()
    assert at.selectbox(key="attention.layer").value == layer and at.selectbox(key="attention.head").value == head
    at.segmented_control(key="attention.view").set_value("kinds").run()
    at.text_area(key="attention.induction_text").set_value("no word here repeats").run()
    assert_clean(at)
    assert any("occurs twice" in i.value for i in at.info)
