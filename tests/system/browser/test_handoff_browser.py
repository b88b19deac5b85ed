"""Live handoff in real headless Chromium (#15), two browser contexts: a
patient in the website widget and a front-desk member in the staff app.

The patient asks for a person; the staff member, signed in with live chat
on, sees the request appear on the Chats page (htmx polling), takes it, and
three messages go each way; the bot says nothing meanwhile. The staff member
ends the chat and the bot answers the patient's next question again.

Then the two ways nobody joins: the profile's wait (edited to its shortest,
a minute, as a clinic would) runs out with the request untaken, or it is
outside the profile's chat hours. Either way the patient is told so and the
call-back form starts, and the Chats page has nothing waiting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from db.engine import session_factory
from db.migrate import upgrade
from tests.servers import assistant_env, assistant_with_web_app, free_port
from tests.stack import CLOSED, ONE_MINUTE_WAIT, always_open_profile, profile_edited
from tests.system.browser.test_widget import (
    answer,
    ask,
    bot_messages,
    log,
    open_widget,
    user_messages,
    wait_online,
)
from webapp.staff import auth, roles

pytestmark = pytest.mark.slow

API_TOKEN = "browser-handoff-api-token"
USERNAME, PASSWORD = "frontdesk", "a long browser test password"
STAFF_BOX = "Your message (the person sees it from you)"
WAITING_ROW = "table.chat-list tbody tr"
FIRST_QUESTION = "What's your name?"  # the call-back form's
# The answer to "How long does an IMS session take?" (not just "minutes",
# which "asking the front desk to join ... within a few minutes" has too).
SESSION_LENGTH = answer("utter_faq/session_length")
POLLS = 10_000  # ms: the Chats page polls every 3 s (webapp/staff/chats.py)
# Resolves when htmx next swaps the polled list in (every few seconds).
NEXT_SWAP = """() => new Promise((resolve) =>
  document.addEventListener("htmx:afterSwap", () => resolve(), {once: true}))"""


@dataclass
class Stack:
    web: str
    database_url: str
    profile: Path


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("handoff-browser")
    database_url = f"sqlite:///{tmp / 'clinic.db'}"
    upgrade(database_url)
    profile = always_open_profile(tmp)
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
        yield Stack(web, database_url, profile)


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


def staff_takes_chats(page: Page, web: str) -> list:
    """Signed in, on the Chats page, with live chat on (it may still be on
    from an earlier test: the account is the module's). Returns the page's
    console errors, collected from now on."""
    errors: list = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    staff_sign_in(page, web)
    page.get_by_role("link", name="Chats").click()
    take = page.get_by_role("button", name="Take chats")
    stop = page.get_by_role("button", name="Stop taking chats")
    expect(take.or_(stop)).to_be_visible()
    if take.is_visible():
        take.click()
    expect(stop).to_be_visible()
    return errors


def patient_opens_the_chat(page: Page, web: str) -> None:
    page.goto(web)
    open_widget(page)
    wait_online(page)


def ask_for_a_person(page: Page) -> None:
    page.get_by_role("button", name="Talk to a person").click()
    expect(user_messages(page).last).to_have_text(re.compile("Talk to a person"))


def nothing_waiting(staff: Page) -> None:
    """The Chats page shows no request (by the next poll or two)."""
    expect(staff.locator("#chat-list")).to_contain_text(
        "Nobody is waiting for a person right now.", timeout=POLLS
    )
    expect(staff.locator(WAITING_ROW, has_text="Waiting")).to_have_count(0)
    expect(staff).to_have_title(re.compile(r"^Chats"))  # no "(1) Chats"


def test_a_patient_and_a_staff_member_chat_and_the_bot_comes_back(stack, two_pages):
    patient, staff = two_pages
    errors = staff_takes_chats(staff, stack.web)
    patient_opens_the_chat(patient, stack.web)
    ask_for_a_person(patient)
    expect(log(patient)).to_contain_text("asking the front desk to join")

    # The request appears without a reload (htmx polls the list).
    row = staff.locator(WAITING_ROW, has_text="Waiting")
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
    expect(bot_messages(patient).filter(has_text=SESSION_LENGTH)).to_have_count(1)
    assert errors == []


def test_nobody_takes_the_chat_in_time_so_the_call_back_form(
    stack, two_pages, axe_violations
):
    patient, staff = two_pages
    errors = staff_takes_chats(staff, stack.web)
    patient_opens_the_chat(patient, stack.web)
    with profile_edited(stack.profile, *ONE_MINUTE_WAIT):
        ask_for_a_person(patient)
        expect(log(patient)).to_contain_text("asking the front desk to join")
    before = bot_messages(patient).count()
    ask(patient, "Is anyone there? I have a question about parking")
    row = staff.locator(WAITING_ROW, has_text="Waiting")
    expect(row).to_contain_text("Is anyone there? I have a question about parking")
    expect(staff).to_have_title(re.compile(r"^\(1\) Chats"))
    assert bot_messages(patient).count() == before  # the bot stays silent

    # Nobody takes it: a minute after the request Rasa's reminder fires.
    told = bot_messages(patient).filter(
        has_text="nobody from the front desk could join in time"
    )
    expect(told).to_have_count(1, timeout=150_000)
    expect(log(patient)).to_contain_text("call you back. I just need a few details")
    expect(bot_messages(patient).last).to_have_text(FIRST_QUESTION)
    nothing_waiting(staff)
    assert axe_violations(patient) == []

    # An FAQ question at the form's question: answered, then the form goes on.
    ask(patient, "How long does an IMS session take?")
    expect(bot_messages(patient).filter(has_text=SESSION_LENGTH)).to_have_count(1)
    expect(bot_messages(patient).last).to_have_text(FIRST_QUESTION)
    assert errors == []


def test_outside_chat_hours_the_patient_is_told_at_once(
    stack, two_pages, axe_violations
):
    patient, staff = two_pages
    errors = staff_takes_chats(staff, stack.web)
    nothing_waiting(staff)
    patient_opens_the_chat(patient, stack.web)
    with profile_edited(stack.profile, *CLOSED):
        ask_for_a_person(patient)
        # At once: the default timeout, not the profile's wait.
        expect(log(patient)).to_contain_text("only open in clinic hours")
        expect(bot_messages(patient).last).to_have_text(FIRST_QUESTION)
    expect(log(patient)).to_contain_text("call you back. I just need a few details")
    expect(log(patient)).not_to_contain_text("asking the front desk")
    # The list htmx swaps in next, polled after the request, is still empty.
    staff.evaluate(NEXT_SWAP)
    nothing_waiting(staff)
    assert axe_violations(patient) == []
    assert errors == []
