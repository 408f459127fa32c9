"""Attention and embeddings: the step-by-step head equals the cache; scores; the two pages."""



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
    at.radio(key="attention.lines_which").set_value("all heads of the layer").run()
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
    at.radio(key="embeddings.pca_dims").set_value(3).run()
    at.segmented_control(key="embeddings.view").set_value("neighbours").run()
    at.text_input(key="embeddings.word").set_value(" Königin").run()
    assert_clean(at)
    assert any("one token" in e.value for e in at.error)
    at.selectbox(key="embeddings.analogy_preset").set_value("König − Mann + Frau (the lecture's)").run()
    assert_clean(at)
    at.segmented_control(key="embeddings.view").set_value("similarity").run()
    at.slider(key="embeddings.sim_layer").set_value(0).run()
    assert_clean(at)
    at.segmented_control(key="embeddings.view").set_value("positions").run()
    assert_clean(at)
