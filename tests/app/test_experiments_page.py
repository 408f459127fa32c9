"""The Experiments page: its numbers are core's (ablation, patching, attribution on the bundled model), bad input is
one sentence, links reopen the view (the chosen example; the long reference text only when changed), presenter mode
enlarges the maps, and the German page leaves no English."""

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from core.analysis.interventions import ablate_heads, direct_logit_attribution, patch_residual
from playground.examples import EXPERIMENT_EXAMPLES
from tests.support.app import APP, assert_clean, english_left, open_page

IOI = EXPERIMENT_EXAMPLES["ioi"]
GLUE = {"the", "and", "has", "with", "from", "of", "is", "are", "this", "that", "your", "you", "to", "for", "by"}


def english_glue(texts) -> set[str]:
    """English function words left in sentences (quoted tokens in backticks are the text itself)."""
    return {w for text in texts for w in re.findall(r"(?<![\w'])[a-z]+(?![\w'])", re.sub(r"`[^`]*`", " ", text))} & GLUE


def charts(at) -> dict[str, dict]:
    return {chart.proto.id: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def heatmap_values(at, title_part: str):
    for spec in charts(at).values():
        if title_part in spec["layout"]["title"]["text"]:
            return spec["data"][0]["z"]
    raise AssertionError(f"no figure titled with {title_part!r}")


def z_list(z) -> list[list[float]]:
    """A heatmap's z as plotly writes it: a nested list, or numpy's typed array ({"dtype", "bdata", "shape"})."""
    if isinstance(z, dict):
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(
            [int(n) for n in str(z["shape"]).split(",")]).tolist()
    return z


def test_ablation_shows_cores_numbers_and_mean_ablation_runs(bundled):
    at = open_page("experiments")
    assert_clean(at)
    ids = bundled.tokenizer.encode(IOI["clean"])
    expected = ablate_heads(bundled, ids, bundled.tokenizer.encode(IOI["target"])[0]).change
    shown = z_list(heatmap_values(at, "Change of log p"))
    assert len(shown) == bundled.config.n_layer and len(shown[0]) == bundled.config.n_head
    assert max(abs(a - b) for row_a, row_b in zip(shown, expected.tolist()) for a, b in zip(row_a, row_b)) <= 1e-5
    assert any("Knocking out layer" in m.value for m in at.markdown)
    assert any("rank" in c.value for c in at.caption)
    at.radio(key="experiments.ablation").set_value("mean").run()
    assert_clean(at)
    assert at.text_area(key="experiments.reference").value
    assert "mean over a reference text" in json.dumps(list(charts(at).values()))


def test_patching_shows_the_logit_differences_and_both_maps(bundled):
    at = open_page("experiments")
    at.radio(key="experiments.kind").set_value("patching").run()
    assert_clean(at)
    tok = bundled.tokenizer
    result = patch_residual(bundled, tok.encode(IOI["clean"]), tok.encode(IOI["corrupted"]),
                            tok.encode(IOI["target"])[0], tok.encode(IOI["distractor"])[0])
    metrics = [m.value for m in at.metric]
    assert metrics == [f"{result.clean:+.3f}", f"{result.corrupted:+.3f}"]
    if result.clean <= result.corrupted:  # the bundled model may not solve the task: the page says so
        assert any("does not prefer" in w.value for w in at.warning)
    shown = z_list(heatmap_values(at, "Residual stream put back"))
    assert max(abs(a - b) for ra, rb in zip(shown, result.restored.tolist()) for a, b in zip(ra, rb)) <= 1e-5
    heatmap_values(at, "One head's output put back")
    assert any("restores the most" in m.value for m in at.markdown)


def test_attribution_adds_up_on_the_page(bundled):
    at = open_page("experiments")
    at.radio(key="experiments.kind").set_value("attribution").run()
    assert_clean(at)
    tok = bundled.tokenizer
    expected = direct_logit_attribution(bundled, tok.encode(IOI["clean"]), tok.encode(IOI["target"])[0])
    (check,) = [s.value for s in at.success if "add up" in s.value]
    assert f"{expected.logit:.4f}" in check
    assert float(re.search(r"difference ([0-9.e+-]+)\)", check).group(1)) <= 1e-4
    at.radio(key="experiments.reads").set_value("difference").run()
    assert_clean(at)
    assert any("−" in spec["layout"]["title"]["text"] for spec in charts(at).values())


def test_bad_input_is_one_sentence():
    at = open_page("experiments")
    at.text_input(key="experiments.target").set_value(" Mercutio").run()
    assert_clean(at)
    assert any("is 3 tokens" in e.value for e in at.error)
    at.text_input(key="experiments.target").set_value(" Mary").run()
    at.radio(key="experiments.kind").set_value("patching").run()
    at.text_input(key="experiments.corrupted").set_value("When Mary went to the store").run()
    assert_clean(at)
    assert any("same number of tokens" in e.value for e in at.error)
    at.text_input(key="experiments.clean").set_value("").run()
    assert_clean(at)
    assert any("empty" in e.value for e in at.error)


def test_examples_fill_the_prompts():
    at = open_page("experiments")
    at.selectbox(key="experiments.example").set_value("copy").run()
    assert_clean(at)
    assert at.text_input(key="experiments.clean").value == EXPERIMENT_EXAMPLES["copy"]["clean"]
    assert at.text_input(key="experiments.target").value == EXPERIMENT_EXAMPLES["copy"]["target"]


def test_link_reopens_the_view_and_refuses_bad_values():
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in {"kind": "attribution", "clean": "Good morrow, my lord. Good morrow, my", "target": " lord",
                       "distractor": " lady", "reads": "difference"}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("../pages/experiments.py").run()
    assert_clean(at)
    assert at.radio(key="experiments.kind").value == "attribution"
    assert at.radio(key="experiments.reads").value == "difference"
    assert at.text_input(key="experiments.target").value == " lord"
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["kind"] = "surgery"
    at.run()
    at.switch_page("../pages/experiments.py").run()
    assert_clean(at)
    assert at.radio(key="experiments.kind").value == "ablation"
    assert any("kind" in w.value for w in at.warning)


def test_a_link_shows_the_chosen_example_and_carries_the_reference_only_when_changed():
    at = open_page("experiments")
    at.selectbox(key="experiments.example").set_value("copy").run()
    at.radio(key="experiments.ablation").set_value("mean").run()
    link = dict(at.query_params)
    assert link["example"] == "copy" and "reference" not in link
    again = open_page("experiments", **link)
    assert_clean(again)
    assert again.selectbox(key="experiments.example").value == "copy"
    assert again.text_input(key="experiments.clean").value == EXPERIMENT_EXAMPLES["copy"]["clean"]
    assert again.text_area(key="experiments.reference").value == at.text_area(key="experiments.reference").value
    at.text_area(key="experiments.reference").set_value("To be, or not to be").run()
    assert dict(at.query_params)["reference"] == "To be, or not to be"


def test_presenter_mode_enlarges_the_maps():
    normal = charts(open_page("experiments"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["presenter"] = "1"
    at.run()
    at.switch_page("../pages/experiments.py").run()
    assert_clean(at)
    big = charts(at)
    (plain,), (large,) = normal.values(), big.values()
    assert large["layout"]["font"]["size"] > plain["layout"]["font"]["size"]
    assert large["layout"]["height"] > plain["layout"]["height"]


@pytest.mark.parametrize("kind", ["ablation", "patching", "attribution"])
def test_every_experiment_reads_german(kind):
    # Opened from a German link: AppTest formats options outside the script run, where t() reads English.
    at = open_page("experiments", lang="de", kind=kind, ablation="mean")
    assert_clean(at)
    assert at.title[0].value == "Experimente" and at.radio(key="experiments.kind").value == kind
    left = set()
    for spec in charts(at).values():
        left |= english_left(spec)
    assert not left, left
    texts = [str(e.value) for kind_ in ("markdown", "caption", "info", "warning", "success", "metric")
             for e in at.get(kind_)]
    assert not english_glue(texts), english_glue(texts)
