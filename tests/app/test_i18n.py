"""German and English: the same keys in both, every key used in the code exists, and the switch works."""

import ast
import json
import re

from core.errors import PlaygroundError
from playground import keys
from playground.i18n import error_templates, error_text, strings
from tests.support.app import assert_clean, english_left, english_words, open_page
from tests.support.server import ROOT


def test_both_languages_have_the_same_keys():
    assert set(strings("en")) == set(strings("de"))
    assert all(strings("de")[k].strip() for k in strings("de"))


def test_every_key_used_in_the_code_exists():
    used = set()
    for path in list((ROOT / "pages").glob("*.py")) + list((ROOT / "playground").glob("*.py")):
        used |= set(re.findall(r"""\b(?:t|lazy|template)\(\s*["']([a-z_]+\.[A-Za-z_]+)["']""", path.read_text()))
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


def raised_templates() -> set[str]:
    """Every message template the code can show: the first argument of each PlaygroundError(...) and
    core.errors.message(...) call."""
    found = set()
    for folder in ("core", "playground", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("PlaygroundError", "message") \
                        and node.args:
                    first = node.args[0]
                    if isinstance(first, ast.Call) and getattr(first.func, "id", None) == "t":
                        continue  # already a translated string of the app
                    assert isinstance(first, ast.Constant), f"{path.name}:{node.lineno}: use a template with named values"
                    found.add(first.value)
    return found


def test_every_error_message_has_a_german_translation():
    templates, german = raised_templates(), error_templates("de")
    assert len(templates) > 60
    assert not templates - set(german), sorted(templates - set(german))
    assert not set(german) - templates, f"translations of messages no longer raised: {sorted(set(german) - templates)}"
    for english, translated in german.items():
        assert set(re.findall(r"{(\w+)", english)) == set(re.findall(r"{(\w+)", translated)), english


def test_run_reasons_written_as_text_are_translated():
    import streamlit as st

    from core.errors import message
    from playground.i18n import message_text
    diverged = message("The loss became {value} at step {step}: training diverged (try a smaller learning rate); "
                       "the checkpoint of step {last_good} is kept.", value=float("nan"), step=12, last_good=10)
    st.session_state[keys.LANG] = "de"
    try:
        assert message_text(diverged) == ("Der Verlust wurde nan in Schritt 12: Das Training ist divergiert (versuchen "
                                          "Sie eine kleinere Lernrate); der Checkpoint von Schritt 10 bleibt erhalten.")
        assert message_text("cancelled by the user") == "von Hand abgebrochen"
        assert message_text("something core never says") == "something core never says"
    finally:
        del st.session_state[keys.LANG]
    assert message_text("cancelled by the user") == "cancelled by the user"


def test_errors_show_in_the_session_language():
    import streamlit as st

    from core.inference.sampling import SamplingSettings, validate
    try:
        validate(SamplingSettings(top_p=1.5))
    except PlaygroundError as e:
        error = e
    assert error_text(error) == str(error) == "top-p must be in (0, 1], not 1.5."
    st.session_state[keys.LANG] = "de"
    try:
        assert error_text(error) == "top-p muss in (0, 1] liegen, nicht 1.5."
    finally:
        del st.session_state[keys.LANG]


ENGLISH_GLUE = {"the", "and", "has", "with", "from", "of", "is", "are", "this", "that", "your", "you", "to", "for"}


def english_on_page(at) -> set[str]:
    words = set()
    for chart in at.get("plotly_chart"):
        words |= english_left(json.loads(chart.proto.spec))
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader", "title"):
        for element in at.get(kind):  # sentences built in code: English function words give them away
            text = re.sub(r"`[^`]*`", " ", str(element.value))  # quoted tokens and code are the text itself
            words |= set(re.findall(r"(?<![\w'])[a-z]+(?![\w'])", text)) & ENGLISH_GLUE
    for frame in at.dataframe:
        # Column headers the app names; columns that are tokens ("3: ·king") are the text itself.
        words |= english_words(str(c) for c in frame.value.columns if not re.match(r"\d+: ", str(c)))
    return words


def test_figures_and_tables_follow_the_language():
    from playground.navigation import PAGE_NAMES, VIEWS
    left = {}
    for url in PAGE_NAMES:
        words = set()
        for view in VIEWS.get(url, [None]):  # pages that show one view at a time: every view, opened by its link
            at = open_page("home")
            at.radio(key="app.lang").set_value("de").run()
            if url != "home":
                if view is not None:
                    at.query_params["view"] = view
                at.switch_page(f"../pages/{url}.py").run()
            assert_clean(at)
            assert view is None or at.segmented_control(key=f"{url}.view").value == view
            words |= english_on_page(at)
        if words:
            left[url] = sorted(words)
    assert not left, left


def test_lazy_texts_are_read_in_the_session_language():
    import streamlit as st

    from playground.i18n import lazy
    spinner = lazy("spin.model")
    assert isinstance(spinner, str) and spinner == "Loading the model…" and str(spinner) == "Loading the model…"
    st.session_state[keys.LANG] = "de"
    try:
        assert str(spinner) == "Lade das Modell…"  # what Streamlit's spinner shows: it calls str() on the text
    finally:
        del st.session_state[keys.LANG]


def test_every_bundled_corpus_has_a_title_in_both_languages():
    from core.training.data import CORPORA
    for name, corpus in CORPORA.items():
        assert strings("en")[f"corpus.{name}"] == corpus.title and strings("de")[f"corpus.{name}"]


def test_every_token_example_has_a_label_in_both_languages():
    from playground.examples import TOKEN_EXAMPLE_FIRST, TOKEN_EXAMPLES
    assert all(f"tokex.{name}" in strings("en") for name in TOKEN_EXAMPLES)
    assert set(TOKEN_EXAMPLE_FIRST.values()) <= set(TOKEN_EXAMPLES)


def test_german_pages_write_numbers_the_german_way():
    """No "60.8%", "-0.50", "1,396,480" or "1045 Training" on a German page: numbers in the text go through number(), percent()
    or t()'s format specs, as in the figures ("50.000" with three digits after the point is German)."""
    from playground.navigation import PAGE_NAMES
    english_decimal = re.compile(r"\d\.(\d{1,2}|\d{4,})(?!\d)|\d,\d{3},\d{3}")  # or "7,655,552"
    found = {}
    for url in PAGE_NAMES:
        at = open_page(url, lang="de")
        assert_clean(at)
        texts = [e.value for kind in ("markdown", "caption", "success", "info") for e in getattr(at, kind)]
        texts += [m.value for m in at.metric]
        bad = [text for text in texts if english_decimal.search(re.sub(r"`[^`]*`", "", str(text)))]  # not in code
        if bad:
            found[url] = bad
    assert not found, found
    at = open_page("finetuning", lang="de")
    data = next(m.value for m in at.markdown if m.value.startswith("**Daten**"))
    assert "1.045 Training" in data


def test_notes_on_bad_text_are_german_with_german_numbers():
    """What the pages say of an empty or a too-long text, of an empty word and of the chat frame GPT-2 has no
    tokens for, in a German session: German sentences, numbers written the German way (9.287, not 9287)."""
    long_text = "Habe nun, ach! Philosophie, Juristerei und Medizin. " * 400
    at = open_page("sampling", lang="de")
    at.text_area(key="sampling.prompt").set_value("").run()
    assert any(i.value.startswith("Der Prompt ist leer") for i in at.info)
    at.text_area(key="sampling.prompt").set_value(long_text).run()
    note = next(i.value for i in at.info if i.value.startswith("Der Prompt hat"))
    assert re.search(r"hat \d{1,3}(\.\d{3})+ Tokens", note), note
    at = open_page("attention", lang="de")
    at.text_area(key="attention.text").set_value(long_text).run()
    assert any(re.search(r"hat \d{1,3}(\.\d{3})+ Tokens", w.value) for w in at.warning)
    at = open_page("embeddings", lang="de", view="neighbours")
    at.text_input(key="embeddings.word").set_value("").run()
    assert any(e.value.startswith("Das Wort ist leer") for e in at.error)
    at = open_page("tokens", lang="de", view="chat")  # the German model's own tokenizer has no chat tokens
    assert_clean(at)
    assert any("ChatML als reiner Text" in m.value for m in at.markdown)


def test_float_sliders_write_the_sessions_decimal_mark():
    """Temperature, top-p, min-p and the penalties (Sampling, Generation) and the lines' threshold (Attention)
    read "0,8" in German, "0.8" in English; a linked value between the steps moves to the nearest one."""
    for lang, mark in (("de", ","), ("en", ".")):
        at = open_page("sampling", lang=lang)
        assert_clean(at)
        for name in ("temperature", "top_p", "min_p", "repetition", "frequency", "presence"):
            options = at.select_slider(key=f"sampling.{name}").options
            assert any(mark in o for o in options) and not any(({",", "."} - {mark}) & set(o) for o in options), name
    at = open_page("attention", lang="de", view="lines")
    assert "0,05" in at.select_slider(key="attention.lines_threshold").options
    at = open_page("generation", lang="de", view="step", temperature="0.73")
    assert_clean(at)
    assert at.select_slider(key="generation.temperature").value == 0.75


def test_the_lecture_logits_are_written_in_the_sessions_locale():
    """The small logit vector's example reads "3,23; -7,1; …" in German (semicolons between decimal commas) and
    gives the same distribution as the English "3.23, -7.1, …"."""
    shown = {}
    for lang in ("en", "de"):
        at = open_page("sampling", lang=lang)
        assert_clean(at)
        shown[lang] = (at.text_input(key="sampling.lecture_logits").value, at.get("plotly_chart")[0].proto.spec)
    assert shown["en"][0] == "3.23, -7.1, 5.57, 0.39, 2.4" and shown["de"][0] == "3,23; -7,1; 5,57; 0,39; 2,4"
    assert json.loads(shown["en"][1])["data"][0]["y"] == json.loads(shown["de"][1])["data"][0]["y"]
