"""Every model the app can make or load works on every page: one layer and one head, a context of 8 tokens, weights
that are all NaN. Loaded through the sidebar's folder box from a folder the operator offers; each page either shows
every one of its views or says in one sentence what it cannot do, never a traceback."""

import pytest
import torch

from core.analysis.anatomy import stages
from core.model.checkpoints import load_model, save_checkpoint
from core.model.gpt import GPT, GPTConfig
from playground.navigation import PAGE_NAMES, VIEWS
from tests.support.app import assert_clean, open_page

SHAPES = {
    "one-layer": dict(vocab_size=50257, context_length=64, n_layer=1, n_head=1, n_embd=8),
    "context-8": dict(vocab_size=50257, context_length=8, n_layer=2, n_head=2, n_embd=16),
    "nan-weights": dict(vocab_size=50257, context_length=64, n_layer=2, n_head=2, n_embd=16),
}


@pytest.fixture(scope="module")
def offered(tmp_path_factory):
    root = tmp_path_factory.mktemp("offered")
    for name, shape in SHAPES.items():
        torch.manual_seed(0)
        model = GPT(GPTConfig(**shape, tokenizer="gpt2"))
        if name == "nan-weights":
            with torch.no_grad():
                for p in model.parameters():
                    p.fill_(float("nan"))
        save_checkpoint(model, root / name, card={"name": name})
    return root


def other_views(page: str, config) -> list[tuple[str, str]]:
    """What opens the page's other views: its view switcher, the experiment chosen, each anatomy stage."""
    views = [(f"{page}.view", view) for view in VIEWS.get(page, [])[1:]]
    if page == "experiments":
        views += [("experiments.kind", "patching"), ("experiments.kind", "attribution")]
    if page == "anatomy":
        views += [("anatomy.stage", stage.key) for stage in stages(config, 4)]
    return views


@pytest.mark.parametrize("page", PAGE_NAMES)
@pytest.mark.parametrize("name", list(SHAPES))
def test_every_page_with_an_odd_model(offered, monkeypatch, name, page):
    monkeypatch.setenv("LLM_PLAYGROUND_MODEL_DIRS", str(offered))
    at = open_page("home")
    at.text_input(key="app.folder").set_value(str(offered / name))
    at.button(key="app.folder_load").click()
    at.run()
    assert_clean(at)
    assert at.session_state["app.model"] == str((offered / name).resolve()), [e.value for e in at.error]
    if page != "home":
        at.switch_page(f"../pages/{page}.py")
        at.run()
    assert_clean(at)
    assert at.session_state["app.model"] == str((offered / name).resolve())  # not silently replaced
    for key, value in other_views(page, load_model(offered / name).config):
        at.session_state[key] = value
        at.run()
        assert_clean(at)
        if name == "nan-weights" and page == "experiments":  # no maps of NaN: one sentence says why
            assert any("not numbers (NaN)" in e.value for e in at.error) and not at.get("plotly_chart")
