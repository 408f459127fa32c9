"""Anatomy: parameter counts per stage against the formula, the logit lens, LayerNorm statistics; the pages."""


from tests.support.app import assert_clean, open_page


def test_anatomy_page_every_stage():
    at = open_page("anatomy")
    assert_clean(at)
    values = {m.label: m.value for m in at.metric}
    assert values["Parameters (sum of the boxes)"] == values["Parameters (counted in the model)"]
    for key in ("tokens", "ln1", "ln_f", "mlp", "add2", "logits"):
        at.selectbox(key="anatomy.stage").set_value(key).run()
        assert_clean(at)


def test_tour_walks_every_step_and_jumps():
    at = open_page("tour")
    for step in range(1, 8):
        assert_clean(at)
        assert at.subheader[0].value.startswith(f"Step {step} of 7")
        if step < 7:
            at.button(key="tour.next").click().run()
    at.selectbox(key="tour.jump").set_value("Attention").run()
    assert at.subheader[0].value == "Step 3 of 7: Attention"
    at.button(key="tour.back").click().run()
    assert at.subheader[0].value == "Step 2 of 7: Embedding"
