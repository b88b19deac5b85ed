"""The web app's security headers in a real browser (#14; webapp/security.py):
the widget loads and runs on the demo page under its content-security
policy with no violation, and still embeds on a clinic's own site (another
origin), while the demo page and the staff app cannot be framed. The stack
is test_widget.py's."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.system.browser import test_widget
from tests.system.browser.test_widget import (
    answer,
    answers,
    ask,
    clinic_page,
    open_widget,
    wait_online,
)

pytestmark = pytest.mark.slow
stack = test_widget.stack  # the same stack, started for this module

# Collected in the page before any of its scripts run (the DevTools
# protocol, not the page's policy, runs it).
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def violations(page: Page) -> list:
    return page.evaluate("window.__cspViolations")


def test_the_chat_runs_under_the_demo_page_policy(page, stack):
    page.add_init_script(WATCH_VIOLATIONS)
    response = page.goto(stack.web)
    assert "script-src" in response.headers["content-security-policy"]
    open_widget(page)
    wait_online(page)
    ask(page, "how often do I need IMS")
    expect(answers(page).last).to_have_text(answer("utter_faq/frequency"))
    assert violations(page) == []


def test_the_widget_still_embeds_on_the_clinic_site(page, stack):
    clinic_page(page, stack, stack.rasa)
    open_widget(page)
    wait_online(page)
    ask(page, "how often do I need IMS")
    expect(answers(page).last).to_have_text(answer("utter_faq/frequency"))


def test_the_demo_page_and_the_staff_app_cannot_be_framed(page, stack):
    html = (
        "<!doctype html><html lang=en><head><title>Framing</title></head><body>"
        f'<iframe title="demo" src="{stack.web}/"></iframe>'
        f'<iframe title="staff" src="{stack.web}/staff/login"></iframe>'
        "</body></html>"
    )
    page.goto(stack.site.add(html), wait_until="domcontentloaded")
    blocked: list = []
    for _ in range(100):  # Chromium shows its error page in a refused frame
        blocked = [f.url for f in page.frames[1:] if f.url.startswith("chrome-error:")]
        if len(blocked) == 2:
            break
        page.wait_for_timeout(100)
    assert len(blocked) == 2, [f.url for f in page.frames]
    for title in ("demo", "staff"):
        frame = page.frame_locator(f'iframe[title="{title}"]')
        expect(frame.get_by_text("Intramuscular Stimulation")).to_have_count(0)
        expect(frame.get_by_label("Password")).to_have_count(0)
