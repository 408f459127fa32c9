"""Copy link reproduces the view: on every page each control is in the link, and a fresh session opened from
the link shows the same values and the same numbers as the session that made it."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.support.app import assert_clean, open_page

KINDS = ("slider", "select_slider", "selectbox", "radio", "number_input", "text_input", "text_area", "toggle",
         "checkbox", "segmented_control")

# page[/view] -> widget key -> a value other than the default, set one after the other. Pages that show one view
# at a time (navigation.VIEWS) render only that view's controls, so each view is its own case: the page's own
# controls (its first view's), then the view, then the view's controls.
CHANGES = {
    "tokens": {"tokens.example": "shakespeare", "tokens.encoding": "cl100k_base", "tokens.special": True},
    "tokens/chat": {"tokens.view": "chat", "tokens.chat_system": "Be brief.", "tokens.chat_user": "Hi there",
                    "tokens.chat_reply": False},
    "tokens/decode": {"tokens.view": "decode", "tokens.decode_ids": "15496, 995"},
    "tokens/bpe": {"tokens.view": "bpe", "tokens.bpe_source": "the-verdict", "tokens.bpe_merges": 80,
                   "tokens.bpe_step": 20, "tokens.bpe_word": " verdict"},
    "tokens/windows": {"tokens.view": "windows", "tokens.window_context": 6, "tokens.window_stride": 3},
    "embeddings": {"embeddings.text": "The queen spoke.", "embeddings.dims": 16},
    "embeddings/projection": {"embeddings.view": "projection", "embeddings.pca_dims": "3D",
                              "embeddings.pca_corpus": "the-verdict", "embeddings.pca_n": 50},
    "embeddings/neighbours": {"embeddings.view": "neighbours", "embeddings.word": " queen",
                              "embeddings.analogy_preset": "paris", "embeddings.c": " Spain"},
    "embeddings/similarity": {"embeddings.view": "similarity", "embeddings.sim_layer": 2},
    "embeddings/positions": {"embeddings.view": "positions", "embeddings.n_pos": 32},
    "attention": {"attention.text": "ROMEO:\nO, she doth teach", "attention.layer": 4, "attention.head": 3},
    "attention/lines": {"attention.view": "lines", "attention.lines_which": "all", "attention.lines_threshold": 0.2,
                        "attention.lines_focus": "q3"},
    "attention/kinds": {"attention.view": "kinds", "attention.induction_text": "one two three one two three"},
    "sampling": {"sampling.lecture_logits": "1, 2, 3", "sampling.prompt": "JULIET:\nO", "sampling.top_n": 20,
                 "sampling.ask": " Romeo", "sampling.temperature": 1.3, "sampling.top_k": 25, "sampling.top_p": 0.8,
                 "sampling.min_p": 0.05, "sampling.repetition": 1.2, "sampling.frequency": 0.3,
                 "sampling.presence": 0.4, "sampling.bias": '" the": -3', "sampling.draws": 100, "sampling.seed": 9},
    "generation": {"generation.prompt": "ROMEO:\nWhat", "generation.temperature": 1.1, "generation.top_k": 30,
                   "generation.top_p": 0.95, "generation.min_p": 0.02, "generation.repetition": 1.1,
                   "generation.frequency": 0.2, "generation.presence": 0.1, "generation.bias": '" the": 2',
                   "generation.seed": 5},
    "generation/run": {"generation.view": "run", "generation.max_new": 40, "generation.stops": "END"},
    "generation/compare": {"generation.view": "compare", "generation.compare_n": 20},
    "anatomy": {"anatomy.text": "To be or not", "anatomy.stage": "mlp", "anatomy.layer": 3},
    "tour": {"tour.text": "O Romeo, Romeo"},
    "experiments": {"experiments.example": "copy", "experiments.clean": "Good morrow, my lady. Good morrow, my",
                    "experiments.target": " lady", "experiments.distractor": " lord", "experiments.ablation": "mean",
                    "experiments.reference": "To be, or not to be, that is the question:"},
    "experiments/patching": {"experiments.kind": "patching",
                             "experiments.corrupted": "Good morrow, my lord. Good morrow, my"},
    "experiments/attribution": {"experiments.kind": "attribution", "experiments.reads": "difference"},
}


LINK_NAMES = {"tour.jump": "step"}  # the tour's step chooser is the link's step


# Tabs that keep their state (st.tabs with a key): not widgets to AppTest, so read and set through the session.
TABS = ("embeddings.pca_dims",)


def page_widgets(at, page: str) -> dict:
    """Every control of the page (its key has the page's prefix) and its value."""
    found = {key: at.session_state[key] for key in TABS if key.startswith(f"{page}.") and key in at.session_state}
    for kind in KINDS:
        for widget in getattr(at, kind):
            if widget.key and widget.key.startswith(f"{page}."):
                found[widget.key] = widget.value
    return found


def set_widget(at, key: str, value) -> None:
    if key in TABS:
        at.session_state[key] = value
        at.run()
        assert_clean(at)
        return
    for kind in KINDS:
        for widget in getattr(at, kind):
            if widget.key == key:
                widget.set_value(value)
                at.run()
                assert_clean(at)
                return
    raise AssertionError(f"no control {key}")


def the_link(at) -> dict:
    link = next(c.value for c in at.code if "?" in c.value and "\n" not in c.value)  # one line: not a program
    return dict(parse_qsl(urlsplit(link).query))


def shown_numbers(at) -> list:
    return [m.value for m in at.metric] + [c.value for c in at.caption] + [s.value for s in at.success]


@pytest.mark.parametrize("case", CHANGES)
def test_a_link_reopens_every_control(case):
    page = case.split("/")[0]
    at = open_page(page)
    assert_clean(at)
    changes = CHANGES[case] if case == page else {**CHANGES[page], **CHANGES[case]}
    for key, value in changes.items():
        set_widget(at, key, value)
    if page == "tour":
        at.button(key="tour.next").click().run()
        at.button(key="tour.next").click().run()
    before = page_widgets(at, page)
    link = the_link(at)
    assert "me" not in link
    missing = [k for k in before if LINK_NAMES.get(k, k.split(".", 1)[1]) not in link]
    assert not missing, f"controls of {page} not in its link: {missing}"
    again = open_page(page, **link)
    assert_clean(again)
    assert page_widgets(again, page) == before
    assert [w.value for w in again.warning] == [w.value for w in at.warning]
    assert shown_numbers(again) == shown_numbers(at)
    if page == "tour":
        assert again.subheader[0].value == at.subheader[0].value == "Step 3 of 7: Attention"


def test_a_link_retakes_the_tokens_stepped_on_the_generation_page():
    at = open_page("generation")
    at.button(key="generation.take_greedy").click().run()
    at.button(key="generation.force.2").click().run()
    at.button(key="generation.force.0").click().run()
    path = at.session_state["generation.tree"].path
    link = the_link(at)
    assert link["path"] == ",".join(map(str, path))
    again = open_page("generation", **link)
    assert_clean(again)
    assert again.session_state["generation.tree"].path == path
    assert again.session_state["generation.tree"].probs == pytest.approx(at.session_state["generation.tree"].probs)
    assert [b.label for b in again.button if b.key == "generation.take_greedy"] == \
        [b.label for b in at.button if b.key == "generation.take_greedy"]


def test_a_broken_path_in_a_link_is_refused_with_a_sentence():
    at = open_page("generation", path="1,2,99999999")
    assert_clean(at)
    assert at.session_state["generation.tree"].path == []
    assert any("could not be used" in w.value for w in at.warning)
