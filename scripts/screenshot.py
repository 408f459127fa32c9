"""Screenshots of running pages for review: `python scripts/screenshot.py URL OUT.png [height]`.

Uses Debian's chromium through Playwright (never a downloaded browser); waits like the browser test.
"""

import sys
import time

from playwright.sync_api import sync_playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]


def main(url: str, out: str, height: int = 2400, width: int = 1280, click: str | None = None) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url)
        page.wait_for_selector("[data-testid='stMain'] h1", timeout=90_000)
        if click:
            page.get_by_text(click, exact=True).first.click()
        quiet = None
        deadline = time.time() + 120
        while time.time() < deadline:
            if page.query_selector("[data-testid='stStatusWidget']"):
                quiet = None
            elif quiet is None:
                quiet = time.time()
            elif time.time() - quiet > 1.5:
                break
            time.sleep(0.2)
        page.screenshot(path=out)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2400,
         click=sys.argv[4] if len(sys.argv) > 4 else None)
