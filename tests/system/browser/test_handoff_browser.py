"""Live handoff in real headless Chromium (#15), two browser contexts: a
patient in the website widget and a front-desk member in the staff app.

The patient asks for a person; the staff member, signed in with live chat
on, sees the request appear on the Chats page (htmx polling), takes it, and
three messages go each way; the bot says nothing meanwhile. The staff member
ends the chat and the bot answers the patient's next question again."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from db.engine import session_factory
from db.migrate import upgrade
from tests.conftest import ROOT
from tests.servers import assistant_env, assistant_with_web_app, free_port
from tests.system.browser.test_widget import (
    ask,
    bot_messages,
    log,
    open_widget,
    wait_online,
)
from webapp.staff import auth, roles

pytestmark = pytest.mark.slow

API_TOKEN = "browser-handoff-api-token"
USERNAME, PASSWORD = "frontdesk", "a long browser test password"
STAFF_BOX = "Your message (the person sees it from you)"


@dataclass
class Stack:
    web: str
    database_url: str


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("handoff-browser")
    database_url = f"sqlite:///{tmp / 'clinic.db'}"
    upgrade(database_url)
    profile = tmp / "clinic_profile.yml"
    text = (ROOT / "clinic_profile.yml").read_text(encoding="utf-8")
    profile.write_text(
        re.sub(r'chat_hours: ".*"', 'chat_hours: "Mon-Sun 00:00-24:00"', text),
        encoding="utf-8",
    )
    actions_port, rasa_port, web_port = free_port(), free_port(), free_port()
    web, rasa = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{rasa_port}"
    env = assistant_env(
        database_url,
        actions_port,
        RASA_URL=rasa,
        PUBLIC_BASE_URL=web,
        CHAT_ALLOWED_ORIGINS=web,
        CLINIC_PROFILE=str(profile),
        RASA_AUTH_TOKEN=API_TOKEN,  # the web app's, for Rasa's HTTP API
    )
    api = ("--cors", web, "--enable-api", "--auth-token", API_TOKEN)
    with session_factory(database_url)() as session:
        auth.create_user(session, USERNAME, PASSWORD, role=roles.FRONT_DESK)
        session.commit()
    ports = (actions_port, rasa_port, web_port)
    with assistant_with_web_app(trained_model, env, ports, tmp, api):
        yield Stack(web, database_url)


@pytest.fixture()
def two_pages(chromium) -> Iterator[tuple]:
    """A patient's page and a staff member's, each in a context of its own."""
    contexts = [chromium.new_context(viewport={"width": 1280, "height": 900})]
    contexts.append(chromium.new_context(viewport={"width": 1280, "height": 900}))
    for context in contexts:
        context.set_default_timeout(20_000)
    yield tuple(context.new_page() for context in contexts)
    for context in contexts:
        context.close()


def staff_sign_in(page: Page, web: str) -> None:
    page.goto(f"{web}/staff/login")
    page.get_by_label("User name").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_patient_and_a_staff_member_chat_and_the_bot_comes_back(stack, two_pages):
    patient, staff = two_pages
    errors: list = []
    staff.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    staff_sign_in(staff, stack.web)
    staff.get_by_role("link", name="Chats").click()
    staff.get_by_role("button", name="Take chats").click()
    expect(staff.get_by_role("button", name="Stop taking chats")).to_be_visible()

    patient.goto(stack.web)
    open_widget(patient)
    wait_online(patient)
    patient.get_by_role("button", name="Talk to a person").click()
    expect(log(patient)).to_contain_text("asking the front desk to join")

    # The request appears without a reload (htmx polls the list).
    row = staff.locator("table.chat-list tbody tr", has_text="Waiting")
    expect(row).to_be_visible()
    expect(staff).to_have_title(re.compile(r"^\(1\) Chats"))
    row.get_by_role("link", name="Open").click()
    staff.get_by_role("button", name="Take this chat").click()
    expect(bot_messages(patient).last).to_contain_text(
        "Frontdesk from the clinic has joined"
    )

    for turn in (1, 2, 3):
        staff.get_by_label(STAFF_BOX).fill(f"Staff says {turn}")
        staff.get_by_role("button", name="Send").click()
        expect(bot_messages(patient).last).to_have_text(f"Staff says {turn}")
        before = bot_messages(patient).count()
        ask(patient, f"Patient says {turn}, how many sessions will I need?")
        # Shown to staff once Rasa stored the turn (polled), with no answer.
        expect(staff.locator("#chat-transcript")).to_contain_text(
            f"Patient says {turn}"
        )
        assert bot_messages(patient).count() == before

    staff.get_by_role("button", name="End chat").click()
    expect(staff.get_by_role("status")).to_contain_text("Chat ended")
    expect(bot_messages(patient).last).to_have_text(
        "You're back with the automated assistant."
    )
    ask(patient, "How long does an IMS session take?")
    expect(log(patient)).to_contain_text("minutes")
    assert errors == []
