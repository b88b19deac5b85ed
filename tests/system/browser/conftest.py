"""Browser fixtures: Playwright for Python driving Debian's Chromium.

No browser is downloaded: Playwright starts /usr/bin/chromium (or the path in
CHROMIUM_PATH) headless, with a fresh profile per test. Without Chromium the
browser tests fail under CI and are skipped elsewhere, with the reason shown.

`axe_violations(page)` runs axe-core, the npm package pinned in
widget-vendor/package-lock.json and installed by `make install`, in the page
(its open shadow roots, the widget's, included) and returns what it found.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
VENDOR = Path(__file__).resolve().parents[3] / "widget-vendor"
AXE = VENDOR / "node_modules" / "axe-core" / "axe.min.js"
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


def _missing(message: str) -> None:
    """Fails under CI, skips elsewhere, with the reason shown."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# Module scope, not session: Playwright's sync API runs an event loop of its
# own while it is open, and the async tests of other modules need it closed.
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _missing(f"Chromium not found at {CHROMIUM} (.ci/run installs it)")
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


AXE_RUN = """
async () => {
  const results = await axe.run(document);
  return {
    version: axe.version,
    passed: results.passes.length,
    violations: results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => JSON.stringify(n.target)),
    })),
  };
}
"""


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        _missing(f"axe-core not found at {AXE} (make install runs npm ci)")
    return AXE.read_text(encoding="utf-8")


AXE_VERSION = json.loads((VENDOR / "package.json").read_text(encoding="utf-8"))[
    "devDependencies"
]["axe-core"]


@pytest.fixture()
def axe_violations(axe_source) -> Callable[[Any], List[Dict[str, Any]]]:
    """Runs every axe-core rule that is on by default (WCAG 2 A and AA, and
    best practices) on a page; returns the violations, [] when none."""

    def run(page: Any) -> List[Dict[str, Any]]:
        # Evaluated through the DevTools protocol, so the page's own
        # content-security policy does not block it; nothing is fetched.
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(axe_source)
        found = page.evaluate(AXE_RUN)
        # The pinned axe-core ran and checked the page (not an empty one).
        assert found["version"] == AXE_VERSION and found["passed"] >= 10, found
        return found["violations"]

    return run
