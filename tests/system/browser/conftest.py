"""Browser fixtures: Playwright for Python driving Debian's Chromium.

No browser is downloaded: Playwright starts /usr/bin/chromium (or the path in
CHROMIUM_PATH) headless, with a fresh profile per test. Without Chromium the
browser tests fail under CI and are skipped elsewhere, with the reason shown.
"""

from __future__ import annotations

import os
import shutil
from typing import Iterator

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Module scope, not session: Playwright's sync API runs an event loop of its
# own while it is open, and the async tests of other modules need it closed.
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        message = f"Chromium not found at {CHROMIUM} (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture()
def page(chromium) -> Iterator[object]:
    """A page in a fresh browser context (own cookies and storage)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
