"""AppTest: every page runs without an exception, and its main numbers come from core."""

import pytest

from playground.navigation import PAGE_NAMES
from tests.support.app import assert_clean, open_page


@pytest.mark.parametrize("url", PAGE_NAMES)
def test_every_page_runs(url):
    assert_clean(open_page(url))


def test_home_shows_the_bundled_model(bundled):
    at = open_page("home")
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == f"{bundled.num_parameters():,}"
    assert metrics["Layers × heads"] == f"{bundled.config.n_layer} × {bundled.config.n_head}"
    assert metrics["Validation loss"].startswith("4.")
    # It was trained when core.train split the token sequence (its card says so), the Llama by characters.
    facts = dict(at.dataframe[1].value.to_numpy().tolist())
    assert facts["data split"].startswith("first 90% of the corpus's tokens for training (304,222 tokens)")
    assert facts["bits per character, held-out Tiny Shakespeare (40,000 lines of the plays)"] == "2.229"
    llama = open_page("home", session_model="shakespeare-faust-llama")
    facts = dict(llama.dataframe[1].value.to_numpy().tolist())
    assert facts["data split"].startswith("first 90% of each corpus's characters for training")


def test_home_with_a_folder_outside_the_allowed_places_says_so():
    at = open_page("home")
    at.text_input(key="app.folder").set_value("/no/such/folder")
    at.button(key="app.folder_load").click()
    at.run()
    assert_clean(at)
    assert any("This box opens only your own runs" in e.value for e in at.error)
