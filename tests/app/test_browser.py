"""One real-browser smoke test: headless Chromium opens every page, in English and in German, and fails on any
exception shown.

Starts the app with `streamlit run` on a free port, waits for /_stcore/health, then for each page waits
until Streamlit's running indicator is gone. Screenshots land in .pytest_cache/screenshots/.
Skips (and says why) where Debian's chromium or Playwright is missing.
"""

import re

import pytest

from playground.i18n import strings
from playground.navigation import PAGE_NAMES, TOUR_STEPS
from tests.support.server import (
    ROOT,
    running_app,
    wait_until_idle,
)

SHOTS = ROOT / ".pytest_cache" / "screenshots"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    with running_app(log=ROOT / ".pytest_cache" / "streamlit-browser-test.log") as (url, _):
        yield url


def visit_every_page(page, server: str, lang: str) -> list[str]:
    """Open each listed page in one language; what went wrong, one line per page."""
    problems = []
    for url_path in PAGE_NAMES:
        title = f"{url_path} ({lang})"
        page.goto(f"{server}/{'' if url_path == 'home' else url_path}?lang={lang}", wait_until="domcontentloaded")
        wait_until_idle(page)
        page.screenshot(path=str(SHOTS / f"{url_path}{'' if lang == 'en' else '-' + lang}.png"), full_page=True)
        shown = page.query_selector_all("[data-testid='stException']")
        if shown:
            problems.append(f"{title}: {shown[0].inner_text()[:300]}")
        body = page.inner_text("body")
        if "Page not found" in body:
            problems.append(f"{title}: page not found")
        if strings(lang)[f"nav.{url_path}"] not in body:  # the navigation speaks the language of the link
            problems.append(f"{title}: not in {lang}")
        if not page.query_selector("[data-testid='stMain']"):
            problems.append(f"{title}: no main area rendered")
    return problems


def test_every_page_in_chromium(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    problems = visit_every_page(page, server, "en") + visit_every_page(page, server, "de")
    # Presenter mode at a projector's 1280×720, for the screenshot of the back-row view.
    page.goto(f"{server}/tour?presenter=1", wait_until="domcontentloaded")
    wait_until_idle(page)
    page.screenshot(path=str(SHOTS / "tour-presenter.png"))
    context.close()
    assert not problems, problems
    assert not errors, errors
    # Offline, proven: nothing leaves the server (no CDN, no fonts, no telemetry).
    outside = [u for u in requests if not u.startswith((server, "data:", "blob:", "about:"))]
    assert not outside, sorted(set(outside))[:10]


# The page's main figure in presenter mode: the first chart, or what stands for it (none on the poll page until the
# lecturer opens a poll; tests/app/test_hall_browser.py looks at its projected view).
MAIN_FIGURE = {"tokens": ".pg-chips", "tour": ".pg-chips", "tour-1": ".pg-chips", "home": None, "training": None,
               "finetuning": None, "poll": None}
PRESENTER_VIEWS = [(name, name, "") for name in PAGE_NAMES] + [(f"tour-{n}", "tour", f"&step={n}")
                                                              for n in range(1, len(TOUR_STEPS) + 1)]
CUT_LABELS = """() => [...document.querySelectorAll(
    "[data-testid='stMain'] button p, [data-testid='stMain'] [data-testid='stWidgetLabel'] p")]
  .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


@pytest.mark.parametrize("lang", ["en", "de"])
def test_presenter_mode_shows_the_figure_on_the_first_screen(server, browser, lang):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    problems = []
    for name, path, query in PRESENTER_VIEWS:
        page.goto(f"{server}/{'' if path == 'home' else path}?presenter=1&lang={lang}{query}",
                  wait_until="domcontentloaded")
        wait_until_idle(page)
        selector = MAIN_FIGURE.get(name, "[data-testid='stMain'] [data-testid='stPlotlyChart']")
        if selector:
            found = page.locator(selector)
            box = found.first.bounding_box() if found.count() else None
            if box is None or box["y"] < 0 or box["y"] + box["height"] > 720:
                problems.append(f"{name}: main figure at {box}")
        cut = page.evaluate(CUT_LABELS)
        if cut:
            problems.append(f"{name}: labels cut {cut}")
        if page.locator("[data-testid='stSidebar']").first.get_attribute("data-collapsed") != "true":
            problems.append(f"{name}: sidebar open")
        if not page.locator("[data-testid='stExpandSidebarButton']").first.is_visible():
            problems.append(f"{name}: no way back to the sidebar")
    # The transparent header lets clicks through to the page under it (its toolbar used to catch them), all but
    # its button, which reopens the sidebar.
    if page.evaluate("() => !!document.elementFromPoint(640, 20)?.closest('[data-testid=stHeader]')"):
        problems.append("the header catches clicks meant for the page")
    page.locator("[data-testid='stExpandSidebarButton']").first.click()
    page.wait_for_timeout(500)
    if page.locator("[data-testid='stSidebar']").first.get_attribute("data-collapsed") == "true":
        problems.append("the header's button does not reopen the sidebar")
    context.close()
    assert not problems, problems


def click_point(page, box, fx=0.5, fy=0.5) -> None:
    """Move to and click a spot of a bounding box (plotly needs the hover before the click)."""
    x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    page.wait_for_timeout(500)
    wait_until_idle(page)


def test_clicks_open_what_they_point_at(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    # Attention grid: a click on the map of layer 2, head 3 opens that head.
    page.goto(f"{server}/attention?view=all", wait_until="domcontentloaded")
    wait_until_idle(page)
    cell = page.locator("[data-testid='stPlotlyChart'] .nsewdrag").nth(2 * 4 + 3)
    cell.scroll_into_view_if_needed()
    click_point(page, cell.bounding_box())
    assert page.get_by_role("combobox", name="Layer").input_value() == "2"
    assert page.get_by_role("combobox", name="Head").input_value() == "3"
    assert "Layer 2, head 3" in page.locator("[data-testid='stPlotlyChart'] .gtitle").first.text_content()
    # Head view: a click on a token (right column: the queries) keeps only its lines.
    page.goto(f"{server}/attention?view=lines", wait_until="domcontentloaded")
    wait_until_idle(page)
    label = page.locator("[data-testid='stPlotlyChart'] .textpoint text").filter(has_text="·soft").last
    label.scroll_into_view_if_needed()
    box = label.bounding_box()
    click_point(page, {**box, "x": box["x"] - 6, "width": 0})  # the point sits at the text's left end
    assert page.get_by_role("combobox", name="Lines of one token (or click a token)").input_value().endswith(
        "·soft: what it attends to")
    # Anatomy: a click on a box of the diagram looks inside that stage.
    page.goto(f"{server}/anatomy", wait_until="domcontentloaded")
    wait_until_idle(page)
    mlp = page.locator("[data-testid='stPlotlyChart'] .annotation-text").filter(has_text="MLP").first
    mlp.scroll_into_view_if_needed()  # the diagram is taller than the window since the boxes show two counts
    click_point(page, mlp.bounding_box())
    assert page.get_by_role("combobox", name="Look inside").input_value().startswith("MLP")
    # Any chart: plotly's toolbar has Streamlit's full-screen button, which shows that one figure alone.
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.hover()
    chart.locator("[data-title='Fullscreen']").click()
    page.wait_for_timeout(800)
    assert page.locator("[data-testid='stPlotlyChart']").first.bounding_box()["width"] > 1100
    context.close()


SCENE = "[data-testid='stMain'] [data-testid='stPlotlyChart'] .gl-container canvas"  # a 3D chart's WebGL scene


def test_the_chart_library_loads_early_and_the_3d_scene_is_built_once(server, browser):
    """What makes figures fast in the browser (bench/bench_browser.py measures it): the chart library is loaded
    while the first page, which has no figure, is read; the PCA's 3D scene is built when its tab is first
    opened and then kept, so 2D ↔ 3D does not rebuild it; the link keeps the tab."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server, wait_until="domcontentloaded")
    wait_until_idle(page)
    assert page.locator("[data-testid='stPlotlyChart']").count() == 0
    page.wait_for_function("() => performance.getEntriesByType('resource').some(e => e.name.includes('/PlotlyChart.'))",
                           timeout=15_000)
    page.goto(f"{server}/embeddings?view=projection", wait_until="domcontentloaded")
    wait_until_idle(page)
    tabs = page.locator("[data-testid='stMain']").get_by_role("tab")
    assert tabs.all_inner_texts() == ["2D", "3D"]
    assert page.locator(SCENE).count() == 0  # not built before it is asked for
    for step, label in enumerate(("3D", "2D", "3D")):  # each scene is marked with the step that first saw it
        tabs.filter(has_text=label).first.click()
        page.wait_for_timeout(300)
        wait_until_idle(page)
        page.evaluate(f"() => {{ document.querySelector({SCENE!r}).dataset.first ??= '{step}'; }}")
    assert page.locator(SCENE).count() == 1
    assert page.evaluate(f"() => document.querySelector({SCENE!r}).dataset.first") == "0"  # built at the first step, kept
    assert "pca_dims=3D" in page.url
    assert not page.query_selector("[data-testid='stException']")
    context.close()


def test_generated_tokens_show_their_alternatives_on_hover(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/generation", wait_until="domcontentloaded")
    wait_until_idle(page)
    page.locator("[data-testid='stMain'] button").filter(has_text="Take the greedy").first.click()
    page.wait_for_timeout(500)
    wait_until_idle(page)
    tips = page.locator(".pg-chip[title*='likeliest tokens']")
    assert tips.count() == 1 and tips.first.get_attribute("title").count("%") == 6  # its own and 5 alternatives
    context.close()


def test_a_streamed_generation_ends_with_its_text_and_speed(server, browser):
    """Generate reruns only its part of the page (a fragment): the text streams in, then shows with its speed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/generation?view=run&max_new=40&seed=3", wait_until="domcontentloaded")
    wait_until_idle(page)
    page.get_by_role("button", name=strings("en")["generation.generate"], exact=True).click()
    page.wait_for_timeout(500)
    wait_until_idle(page)
    assert not page.query_selector("[data-testid='stException']")
    assert page.locator(".pg-chip[title*='likeliest tokens']").count() == 40
    caption = page.locator("[data-testid='stCaptionContainer']").filter(has_text="tokens/s").last.inner_text()
    assert caption.startswith("40 tokens in")
    context.close()


# The Experiments page's other views: each figure's title, as the session's language writes it, and the trace that
# draws its values (a heatmap's image, the bars).
EXPERIMENT_FIGURES = {"patching": [("experiments.resid_title", ".heatmaplayer image"),
                                   ("experiments.heads_title", ".heatmaplayer image")],
                      "attribution": [("experiments.dla_heads_title", ".heatmaplayer image"),
                                      ("experiments.dla_parts_title", ".barlayer .point path")]}


@pytest.mark.parametrize("lang", ["en", "de"])
def test_experiment_maps_are_drawn_and_show_values_on_hover(server, browser, lang):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    for kind, expected in EXPERIMENT_FIGURES.items():
        page.goto(f"{server}/experiments?kind={kind}&lang={lang}", wait_until="domcontentloaded")
        wait_until_idle(page)
        charts = page.locator("[data-testid='stMain'] [data-testid='stPlotlyChart']")
        if page.query_selector("[data-testid='stException']") or charts.count() != len(expected):
            problems.append(f"{kind}: {charts.count()} figures, not {len(expected)}")
            continue
        for chart, (title_key, drawn) in zip(charts.all(), expected):
            name = f"{kind} {title_key}"
            title = chart.locator(".gtitle").text_content()
            if not title.startswith(strings(lang)[title_key].split("{")[0]):  # {what}: the token read
                problems.append(f"{name}: title {title!r}")
            if not chart.locator(drawn).count():
                problems.append(f"{name}: no {drawn}")
                continue
            chart.scroll_into_view_if_needed()
            box = chart.locator(drawn).first.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_timeout(400)
            label = chart.locator(".hoverlayer .hovertext")
            hover = label.first.text_content() if label.count() else None
            if not hover or not re.search(r"\d[.,]\d", hover):  # German plotly writes a decimal comma
                problems.append(f"{name}: hover label {hover!r}")
    context.close()
    assert not problems, problems


def test_file_uploaders_speak_german(server, browser):
    """Streamlit writes the uploader's button and size line in English only; a German session reads its own words
    there (and the English text is not visible), an English one Streamlit's."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def shown(lang: str) -> tuple[str, str]:
        page.goto(f"{server}/tokens?lang={lang}", wait_until="domcontentloaded")
        wait_until_idle(page)
        zone = page.locator(".st-key-tokens-upload [data-testid='stFileUploaderDropzone']")
        return tuple(zone.locator(part).evaluate(
            "e => { const after = getComputedStyle(e, '::after').content;"
            " return getComputedStyle(e).fontSize === '0px' ? JSON.parse(after) : e.innerText }")
            for part in ("button p", "[data-testid='stFileUploaderDropzoneInstructions'] span"))
    assert shown("de") == ("Hochladen", "höchstens 2 MB je Datei • TXT")
    assert shown("en") == ("Upload", "2MB per file • TXT")
    context.close()


def test_the_3d_projection_s_labels_are_prepared_while_the_2d_one_is_read(server, browser):
    """Plotly turns each 3D label into triangles the first time a tab draws it (a second for 40 labels in a
    slow browser): the projection view prepares the 3D chart's labels in idle time, in a hidden chart that is
    gone afterwards, so that opening the 3D tab draws only the scene."""
    page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    page.goto(f"{server}/embeddings?view=projection", wait_until="domcontentloaded")
    wait_until_idle(page)
    page.wait_for_function("() => window.__pgLabels3d?.size > 0 && !document.querySelector('[data-pg-offscreen]')",
                           timeout=60_000)
    prepared = set(page.evaluate("() => [...window.__pgLabels3d]"))
    page.get_by_role("tab", name="3D").click()
    wait_until_idle(page)
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')].some(e => e.data?.[0]?.type"
                           " === 'scatter3d')", timeout=60_000)
    written = set(page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].filter(e => e.data?.[0]?.type"
                                " === 'scatter3d').flatMap(e => e.data.flatMap(trace => trace.text)).filter(Boolean)"))
    assert len(written) >= 10 and written == prepared
    page.context.close()


def test_presenter_training_starts_into_the_live_loss_curve(server, browser):
    """On a projector, Start opens 'Your runs' with the new run, and its loss curve is on the first screen (the
    runs' table folded away, the figures in numbers below the curve)."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{server}/training?presenter=1", wait_until="domcontentloaded")
    wait_until_idle(page)
    page.locator(".st-key-training-start button").click()
    wait_until_idle(page)
    assert page.get_by_role("tab", name="Your runs").get_attribute("aria-selected") == "true"
    curve = page.locator("[data-testid='stMain'] [data-testid='stPlotlyChart']").first
    curve.wait_for(timeout=180_000)
    box = curve.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 720, box
    page.get_by_text("Runs (1): choose, stop, download").click()  # the folded table and actions
    page.locator(".st-key-training-cancel button").click()
    wait_until_idle(page)
    context.close()
