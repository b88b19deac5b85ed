"""The staff app in real headless Chromium, on a lead from a real conversation.

One module-scoped stack: an action server and `rasa run` on a throwaway
SQLite database, a booking made over Rasa's REST channel, and the web app
(`python -m webapp`) on that database. In the browser, a receptionist opens
the lead's link from the notification email, signs in, reads the lead and
its transcript, records a call, exports the queue as CSV and signs out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from clinic.conversation_ids import rest_conversation_id
from db.engine import session_factory
from db.leads import save_lead
from db.migrate import upgrade
from db.models import Lead, LeadEvent, utcnow
from tests.conversation import booking_messages
from tests.factories import NOTIFY, lead_input
from tests.servers import assistant_env, assistant_with_web_app, free_port
from tests.stack import say, texts
from webapp.staff import auth, roles

pytestmark = pytest.mark.slow

NAME, PHONE, CONCERN = (
    "Odile Brannigan",
    "604 555 0177",
    "burning pain down my left leg",
)
USERNAME, PASSWORD = "reception", "a long browser test password"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
BOOKING = ["hi", "how often do I need IMS?", *booking_messages(NAME, PHONE, CONCERN)]


@dataclass
class Stack:
    web: str
    database_url: str
    reference: str
    sender: str
    logs: List[Path]


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("staff-browser")
    database_url = f"sqlite:///{tmp / 'clinic.db'}"
    upgrade(database_url)
    actions_port, rasa_port, web_port = free_port(), free_port(), free_port()
    web, rasa = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{rasa_port}"
    env = assistant_env(database_url, actions_port, RASA_URL=rasa, PUBLIC_BASE_URL=web)
    logs = [tmp / "actions.log", tmp / "rasa.log", tmp / "web.log"]
    ports = (actions_port, rasa_port, web_port)
    with assistant_with_web_app(trained_model, env, ports, tmp):
        client_sender = "browser-visitor-1"
        sender = rest_conversation_id(client_sender)  # what the REST channel keeps
        replies = [texts(say(rasa, client_sender, message)) for message in BOOKING]
        assert "Your reference is IMS-" in replies[-1], replies[-1]
        with session_factory(database_url)() as session:
            # An admin (the walk exports), so with two-factor sign-in set up.
            user = auth.create_user(session, USERNAME, PASSWORD, role=roles.ADMIN)
            user.totp_secret, user.totp_enabled_at = TOTP_SECRET, utcnow()
            session.commit()
            reference = session.scalars(
                select(Lead.reference).where(Lead.sender_id == sender)
            ).one()
        yield Stack(web, database_url, reference, sender, logs)


def sign_in(page: Page, database_url: str) -> None:
    """The password, then the authenticator's code (the account's last used
    step forgotten first: the tests sign in several times a minute)."""
    page.get_by_label("User name").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign-in code")).to_be_visible()
    with session_factory(database_url)() as session:
        user = auth.find_user(session, USERNAME)
        assert user is not None
        user.totp_last_step = None
        session.commit()
    page.get_by_label("The 6-digit code").fill(pyotp.TOTP(TOTP_SECRET).now())
    page.get_by_role("button", name="Sign in").click()


def test_a_receptionist_works_a_lead_from_a_real_conversation(page, stack, tmp_path):
    errors: List[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    # The link in the staff email leads to the sign-in page, then to the lead.
    page.goto(f"{stack.web}/staff/leads/{stack.reference}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, stack.database_url)
    expect(page).to_have_url(f"{stack.web}/staff/leads/{stack.reference}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(stack.reference)
    details = page.locator("dl.fields")
    expect(details).to_contain_text(NAME)
    expect(details).to_contain_text("+1 604-555-0177")
    expect(details).to_contain_text(CONCERN)
    expect(page.get_by_text("Consent (wording version")).to_be_visible()

    # The transcript: what the person said, what the assistant answered.
    transcript = page.locator("ol.transcript")
    people = transcript.locator("li.turn.user .bubble")
    expect(people.first).to_have_text("hi")
    expect(people.nth(1)).to_have_text("how often do I need IMS?")
    expect(people.last).to_have_text("yes, send it")
    expect(people).to_have_count(len(BOOKING))
    first_user = transcript.locator("li.turn.user .meta").first
    expect(first_user).to_contain_text("Chat API")  # Rasa's REST channel
    expect(transcript.locator("li.turn.bot .bubble").nth(1)).to_contain_text("week")
    expect(transcript.get_by_text("Lead form started")).to_be_visible()
    saved = transcript.locator("li.turn.bot", has_text=stack.reference)
    expect(saved).to_contain_text("Thank you")

    # A call back, recorded with a note.
    page.get_by_label("Status", exact=True).select_option("contacted")
    page.get_by_label("Note").fill("Called back; assessment on Monday 9am")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("is now contacted")
    trail = page.locator("table.trail")
    expect(trail).to_contain_text("New to Contacted")
    expect(trail).to_contain_text("Called back; assessment on Monday 9am")
    expect(trail).to_contain_text(USERNAME)

    # The queue shows it contacted; the CSV export downloads it.
    page.get_by_role("link", name="Leads", exact=True).click()
    row = page.locator("table.queue tbody tr", has_text=stack.reference)
    expect(row).to_contain_text("Contacted")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    csv_file = tmp_path / download.value.suggested_filename
    download.value.save_as(csv_file)
    assert csv_file.name.startswith("leads-") and csv_file.suffix == ".csv"
    text = csv_file.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    [exported] = [r for r in rows if r["Reference"] == stack.reference]
    assert exported["Name"] == NAME and exported["Status"] == "Contacted"
    assert exported["Phone"] == "+1 604-555-0177"  # readable, not a formula
    assert exported["Notes"].endswith(
        f"{USERNAME}: Called back; assessment on Monday 9am"
    )

    # Signing out ends the session: the queue asks for a sign-in again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You are signed out")
    page.goto(f"{stack.web}/staff/leads")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert errors == []  # no script errors, no content-security-policy violations

    with session_factory(stack.database_url)() as session:
        trail = session.scalars(
            select(LeadEvent).where(LeadEvent.lead_reference == stack.reference)
        ).all()
    kinds = [(e.kind, e.actor) for e in trail]
    assert ("viewed", USERNAME) in kinds and ("status_changed", USERNAME) in kinds
    assert ("exported", USERNAME) in kinds


@pytest.mark.parametrize("width, height", [(768, 1024), (1280, 800)])
def test_pages_fit_a_tablet_and_a_laptop(page, stack, width, height):
    page.set_viewport_size({"width": width, "height": height})
    errors: List[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{stack.web}/staff/login")
    sign_in(page, stack.database_url)
    for path in (
        "/staff/leads",
        f"/staff/leads/{stack.reference}",
        "/staff/conversations",
        f"/staff/conversations/view?sender={stack.sender}",
        "/staff/dashboard",
        "/staff/outbox",
    ):
        page.goto(stack.web + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, (path, overflow)
        if path == "/staff/dashboard":  # the charts are drawn, at this width too
            expect(page.locator("figure.chart svg").first).to_be_visible()
            assert page.locator("figure.chart svg").count() >= 4
    assert errors == []


STAFF_PAGES = (
    "/staff/leads",
    "/staff/leads/{reference}",
    "/staff/conversations",
    "/staff/conversations/view?sender={sender}",
    "/staff/dashboard",
    "/staff/outbox",
    "/staff/chats",
)


def test_axe_finds_nothing_on_any_staff_page(page, stack, axe_violations):
    page.goto(f"{stack.web}/staff/login")
    found = {"/staff/login": axe_violations(page)}
    sign_in(page, stack.database_url)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    for path in STAFF_PAGES:
        page.goto(
            stack.web + path.format(reference=stack.reference, sender=stack.sender)
        )
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        found[path] = axe_violations(page)
    assert {path: v for path, v in found.items() if v} == {}


TAP_TARGETS = "a, button, input:not([type=hidden]), select, textarea, summary"
SMALL_TARGETS = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter((el) => el.getClientRects().length > 0)
  .map((el) => {
    const box = el.getBoundingClientRect();
    return {target: el.outerHTML.slice(0, 100), width: box.width, height: box.height};
  })
  .filter((found) => found.width < 44 || found.height < 44)"""
TABLE_FIT = """() => {
  const frame = document.querySelector('.table-wrap');
  return {table: frame.scrollWidth, frame: frame.clientWidth,
          page: document.documentElement.scrollWidth - window.innerWidth};
}"""


def test_on_a_tablet_the_queue_fits_and_every_tap_target_is_44_px(page, stack):
    """A tablet in portrait (820 CSS px wide): the queue's columns fit in its
    frame, with a lead whose email and concern are long, and each link,
    button and form field is at least 44 x 44 CSS px on every staff page."""
    long = lead_input(
        submission_key="browser-long",
        sender_id="browser-long",
        kind="callback",
        name="Maximiliana Papadopoulou-Vandenberghe",
        phone="+16045550178",
        email="maximiliana.papadopoulou.vandenberghe@example.org",
        concern="pain in my right hip and down the outside of my thigh " * 4,
    )
    saved = save_lead(session_factory(stack.database_url), long, NOTIFY)
    page.set_viewport_size({"width": 820, "height": 1180})
    page.goto(f"{stack.web}/staff/login")
    small = {"/staff/login": page.evaluate(SMALL_TARGETS, TAP_TARGETS)}
    sign_in(page, stack.database_url)
    expect(page.get_by_role("heading", name="Leads")).to_be_visible()

    row = page.locator("table.queue tbody tr", has_text=stack.reference)
    expect(row.locator("td.request")).to_contain_text("Booking")
    expect(row.locator("td.request")).to_contain_text(CONCERN)
    expect(
        row.get_by_role("link", name="+1 604-555-0177", exact=True)
    ).to_have_attribute("href", "tel:+16045550177")
    expect(row.get_by_role("link", name="Text +1 604-555-0177")).to_have_attribute(
        "href", "sms:+16045550177"
    )
    other = page.locator("table.queue tbody tr", has_text=saved.reference)
    expect(other.locator("td.request")).to_contain_text("Call back")
    expect(other.get_by_role("link", name=long.email)).to_have_attribute(
        "href", "mailto:maximiliana.papadopoulou.vandenberghe%40example.org"
    )
    lines = other.locator('a[href^="tel:"]').evaluate(
        "(a) => { const r = document.createRange(); r.selectNodeContents(a);"
        " return new Set([...r.getClientRects()].map((b) => b.top)).size; }"
    )
    assert lines == 1  # a phone number on one line, not split in two
    fit = page.evaluate(TABLE_FIT)
    assert fit["table"] <= fit["frame"] and fit["page"] <= 0, fit

    for path in STAFF_PAGES:
        page.goto(
            stack.web + path.format(reference=stack.reference, sender=stack.sender)
        )
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        small[path] = page.evaluate(SMALL_TARGETS, TAP_TARGETS)
    assert {path: found for path, found in small.items() if found} == {}


def test_the_servers_logged_no_personal_details(stack):
    for log in stack.logs:
        content = log.read_text(errors="replace")
        for private in (NAME, "555 0177", "5550177", CONCERN, PASSWORD):
            assert private not in content, (log.name, private)
