"""German and English: the same keys in both, every key used in the code exists, and the switch works."""

import re
from pathlib import Path

from playground.i18n import strings
from tests.test_app import assert_clean, open_page

ROOT = Path(__file__).resolve().parent.parent


def test_both_languages_have_the_same_keys():
    assert set(strings("en")) == set(strings("de"))
    assert all(strings("de")[k].strip() for k in strings("de"))


def test_every_key_used_in_the_code_exists():
    used = set()
    for path in list((ROOT / "pages").glob("*.py")) + list((ROOT / "playground").glob("*.py")):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[A-Za-z_]+)["']""", path.read_text()))
    assert used and not used - set(strings("en")), sorted(used - set(strings("en")))


def test_placeholders_match():
    for key, text in strings("en").items():
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", strings("de")[key])), key


def test_switch_to_german():
    at = open_page("home")
    at.radio(key="app.lang").set_value("de").run()
    assert_clean(at)
    assert at.title[0].value == "LLM-Spielplatz"
    at.switch_page("../pages/tour.py").run()
    assert_clean(at)
    assert at.subheader[0].value.startswith("Schritt 1 von 7")


def test_figures_follow_the_language():
    at = open_page("home")
    at.radio(key="app.lang").set_value("de").run()
    at.switch_page("../pages/sampling.py").run()
    assert_clean(at)
    specs = " ".join(chart.proto.spec for chart in at.get("plotly_chart"))
    assert "Die Temperatur formt dieselben Logits um" in specs and "Wahrscheinlichkeit" in specs
