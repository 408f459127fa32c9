"""Every stage of the sampling pipeline against hand-computed values, the lecture's table, and the two pages."""


import torch

from tests.support.app import assert_clean, open_page

INF = float("-inf")
LECTURE = torch.tensor([3.23, -7.1, 5.57, 0.39, 2.4])


def test_sampling_page_controls_and_bad_input():
    at = open_page("sampling")
    assert_clean(at)
    table = at.dataframe[0].value
    assert table.loc["T = 1"].tolist() == ["0.0842", "2.75e-06", "0.874", "0.00492", "0.0367"]
    at.select_slider(key="sampling.temperature").set_value(0.0).run()
    at.text_area(key="sampling.bias").set_value('" the": -100\n" love": 4').run()
    assert_clean(at)
    assert any("262" in c.value for c in at.caption)
    at.text_area(key="sampling.bias").set_value('" wherefore": 3').run()
    assert any("not one" in e.value for e in at.error)
    at.text_input(key="sampling.lecture_logits").set_value("1, two").run()
    assert_clean(at)
    assert any("numbers separated by commas" in e.value for e in at.error)
    at.text_area(key="sampling.prompt").set_value("").run()
    assert_clean(at)
    assert any("<|endoftext|>" in i.value for i in at.info)


def test_generation_page_step_force_undo_compare():
    at = open_page("generation")
    assert_clean(at)
    at.button(key="generation.take_greedy").click().run()
    tree = at.session_state["generation.tree"]
    assert len(tree.path) == 1
    likeliest = tree.alternatives()[0]  # what the hover of the chosen token shows: the step's likeliest tokens
    assert len(likeliest) == 5 and likeliest[0][0] == tree.path[0] and likeliest[0][1] == tree.probs[0]
    assert any("likeliest tokens" in h.proto.body for h in at.get("html"))
    at.button(key="generation.force.3").click().run()
    assert len(at.session_state["generation.tree"].path) == 2
    at.button(key="generation.undo").click().run()
    at.button(key="generation.force.1").click().run()
    assert len(at.session_state["generation.tree"].branches()) == 2
    at.button(key="generation.branch.0").click().run()
    assert_clean(at)
    at.segmented_control(key="generation.view").set_value("compare").run()
    at.button(key="generation.compare").click().run()
    assert_clean(at)
    assert len(at.session_state["generation.compare_result"]) == 4
    at.segmented_control(key="generation.view").set_value("run").run()
    at.button(key="generation.run").click().run()
    assert_clean(at)
    assert any("tokens/s" in c.value for c in at.caption)
    *_, (pieces, probs, others) = at.session_state["generation.run_result"]
    assert len(pieces) == len(probs) == len(others) and all(len(o) == 5 for o in others)
    at.run()  # the streamed tokens stay, each with its alternatives on hover
    assert any(h.proto.body.count("likeliest tokens") == len(pieces) for h in at.get("html"))


def test_generation_page_long_prompt_keeps_the_end():
    at = open_page("generation")
    at.text_area(key="generation.prompt").set_value("word " * 600).run()
    assert_clean(at)
    assert any("keeps the last 255" in i.value for i in at.info)
