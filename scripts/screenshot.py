"""Screenshots of the app for review and for the docs.

    python scripts/screenshot.py URL OUT.png [height] [text to click]   one page of a running app
    python scripts/screenshot.py --all docs/screenshots                 every page, English and German, 1280×720
    python scripts/screenshot.py --presenter docs/screenshots/presenter  the same in presenter mode, plus each tour step

Uses Debian's chromium through Playwright (never a downloaded browser); waits like the browser test.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from playground.navigation import PAGE_NAMES, TOUR_STEPS  # noqa: E402
from tests.support.server import CHROMIUM, CHROMIUM_FLAGS, running_app, wait_until_idle  # noqa: E402


def shoot(browser, url: str, out: str, height: int = 2400, width: int = 1280, click: str | None = None) -> None:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    wait_until_idle(page, timeout_s=300, quiet_s=1.5)
    if click:
        page.get_by_text(click, exact=True).first.click()
        wait_until_idle(page, timeout_s=300, quiet_s=1.5)
    page.screenshot(path=out)
    page.close()


def every_page(folder: str, presenter: bool = False) -> None:
    """The projector's view (1280×720, the first screen only) of every page in both languages:
    <folder>/<lang>/<page>.png; in presenter mode also every step of the tour (<folder>/<lang>/tour-<n>.png)."""
    extra = "&presenter=1" if presenter else ""
    shots = [(path, "" if path == "home" else path, "") for path in PAGE_NAMES]
    if presenter:
        shots += [(f"tour-{n}", "tour", f"&step={n}") for n in range(1, len(TOUR_STEPS) + 1)]
    with running_app() as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for lang in ("en", "de"):
            (Path(folder) / lang).mkdir(parents=True, exist_ok=True)
            for name, path, query in shots:
                shoot(browser, f"{url}/{path}?lang={lang}{extra}{query}", str(Path(folder) / lang / f"{name}.png"),
                      height=720)
                print(lang, name, flush=True)
        browser.close()


if __name__ == "__main__":
    if sys.argv[1] in ("--all", "--presenter"):
        every_page(sys.argv[2], presenter=sys.argv[1] == "--presenter")
    else:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            shoot(b, sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2400,
                  click=sys.argv[4] if len(sys.argv) > 4 else None)
            b.close()
