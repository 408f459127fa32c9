"""Fixtures of the app tests: one headless Debian chromium per test module that needs a real browser."""

from pathlib import Path

import pytest

from tests.support.server import CHROMIUM, CHROMIUM_FLAGS


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()
