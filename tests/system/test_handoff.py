"""Live handoff end to end (#15): real Rasa (the trained model, its HTTP API
on with a token) and action server, the Twilio channel in local mode with
signed requests, and the staff app (in this process) talking to Rasa's API.

A person texts "Talk to the clinic"; a front-desk member who is signed in
and available takes the chat; three messages go each way (the bot says
nothing to the person's); a red flag still gets the urgent reply at once;
staff end the chat and the bot answers again. Outside chat hours the person
is told and gets the call-back form; with nobody taking the chat, the
reminder Rasa set fires after the profile's wait and does the same."""

from __future__ import annotations

import time
from typing import Dict, Iterator, List

import pytest
from flask.testing import FlaskClient

from clinic.conversation_ids import twilio_conversation_id
from clinic.settings import StaffSettings
from db.engine import session_factory
from db.migrate import upgrade
from db.staff_models import HandoffChat
from tests.channels.test_twilio_end_to_end import Phone
from tests.conversation import tracker_events
from tests.servers import Servers, assistant_env, free_port
from tests.stack import (
    CLOSED,
    ONE_MINUTE_WAIT,
    always_open_profile,
    profile_edited,
    twilio_local_env,
)
from tests.webapp.staff.conftest import add_user, csrf_from, login
from webapp import create_app
from webapp.staff import auth, roles

pytestmark = pytest.mark.slow

API_TOKEN = "handoff-e2e-api-token"
NUMBER = "+16045550177"
# Actions of every turn that say nothing (slot mappings).
QUIET = ("action_extract_slots", "action_validate_slot_mappings")


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory) -> Iterator[Dict[str, object]]:
    tmp = tmp_path_factory.mktemp("handoff-e2e")
    database = f"sqlite:///{tmp / 'clinic.db'}"
    upgrade(database)
    profile = always_open_profile(tmp)
    actions_port, rasa_port = free_port(), free_port()
    env = assistant_env(database, actions_port, CLINIC_PROFILE=str(profile))
    env = twilio_local_env(env, tmp)
    api = ["--enable-api", "--auth-token", API_TOKEN]
    with Servers(tmp) as servers:
        servers.assistant(trained_model, env, actions_port, rasa_port, api)
        yield {
            "url": f"http://127.0.0.1:{rasa_port}",
            "db": database,
            "outbox": tmp / "twilio-outbox.jsonl",
            "profile": profile,
        }


@pytest.fixture
def staff(stack, monkeypatch) -> FlaskClient:
    """A front-desk member signed in to the staff app, live chat on."""
    monkeypatch.setenv("RASA_AUTH_TOKEN", API_TOKEN)
    monkeypatch.setenv("CLINIC_PROFILE", str(stack["profile"]))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": stack["db"],
            "RASA_URL": stack["url"],
            "SECRET_KEY": "test-only-secret",
            "STAFF_SETTINGS": StaffSettings(timezone="UTC"),
        }
    )
    with session_factory(stack["db"])() as session:
        known = auth.find_user(session, "fay")
    if known is None:
        add_user(stack["db"], "fay", role=roles.FRONT_DESK)
    client = app.test_client()
    assert login(client, "fay").status_code == 303
    assert post(client, "/staff/chats", "/staff/chats/availability", available="on")
    return client


def post(client: FlaskClient, page: str, action: str, **data: str):
    token = csrf_from(client.get(page).get_data(as_text=True))
    response = client.post(action, data={"csrf_token": token, **data})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def handled(database: str, number: str, text: str) -> List[str]:
    """What the assistant did after the person's latest `text`, once Rasa
    has stored the turn (it stores it just after it answers)."""
    conversation = twilio_conversation_id(number)
    deadline = time.monotonic() + 60
    while True:
        events = tracker_events(database, conversation)
        users = [i for i, (kind, data) in enumerate(events) if kind == "user"]
        if users and events[users[-1]][1].get("text") == text:
            after = events[users[-1] + 1 :]
            if any(kind == "action" for kind, _ in after):
                return [
                    data.get("name") or data.get("text") or kind
                    for kind, data in after
                    if kind == "bot"
                    or (kind == "action" and data.get("name") not in QUIET)
                ]
        if time.monotonic() > deadline:
            raise AssertionError(f"turn {text!r} not stored")
        time.sleep(0.2)


def the_chat(database: str, number: str = NUMBER) -> HandoffChat:
    sender = twilio_conversation_id(number)
    with session_factory(database)() as session:
        [chat] = session.query(HandoffChat).filter_by(sender_id=sender).all()
        return chat


def test_a_chat_is_taken_answered_and_given_back(stack, staff):
    phone = Phone(stack, NUMBER)
    phone.ask("hello", "automated assistant")
    reply = phone.ask("3", "asking the front desk to join")  # "Talk to the clinic"
    assert "call you back" not in reply

    # Waiting: the bot listens and says nothing.
    since = phone.text("is anyone there?")
    assert handled(stack["db"], NUMBER, "is anyone there?") == ["action_listen"]
    assert phone.replies(since) == []
    chat = the_chat(stack["db"])
    listed = staff.get("/staff/chats/list").get_data(as_text=True)
    assert "is anyone there?" in listed and "Waiting" in listed

    page = f"/staff/chats/{chat.id}"
    since = len(phone.replies())
    post(staff, page, f"{page}/take")
    phone.wait_for(lambda r: r.startswith("Fay from the clinic has joined"), since)
    assert the_chat(stack["db"]).status == "held"

    for turn in range(1, 4):
        since = len(phone.replies())
        post(staff, page, f"{page}/reply", text=f"Staff message {turn}")
        phone.wait_for(lambda r, t=turn: r == f"Staff message {t}", since)
        since = phone.text(f"Person message {turn}")
        assert handled(stack["db"], NUMBER, f"Person message {turn}") == [
            "action_listen"
        ]
        assert phone.replies(since) == []
    shown = staff.get(f"{page}/transcript").get_data(as_text=True)
    for turn in range(1, 4):
        assert f"Person message {turn}" in shown and f"Staff message {turn}" in shown
    assert "fay (staff)" in shown

    # A red flag while the person is held: the urgent reply at once.
    reply = phone.ask("I have crushing chest pain right now", "911")
    assert "emergency" in reply.lower()

    since = len(phone.replies())
    post(staff, page, f"{page}/end")
    phone.wait_for(lambda r: r == "You're back with the automated assistant.", since)
    assert the_chat(stack["db"]).status == "ended"
    phone.ask("i've been seen already", "IMS")
    reply = phone.ask("How long does an IMS session take?", "minutes")
    assert handled(stack["db"], NUMBER, "How long does an IMS session take?")[0] == (
        "utter_faq"
    )


def test_the_staff_messages_are_in_the_conversation_with_the_account(stack):
    """After the chat above: the staff messages are Rasa bot events of the
    same conversation, each with the staff member's account."""
    events = tracker_events(stack["db"], twilio_conversation_id(NUMBER))
    staff = [
        data
        for kind, data in events
        if kind == "bot" and (data.get("metadata") or {}).get("handoff")
    ]
    assert [d["text"] for d in staff][1:4] == [f"Staff message {t}" for t in (1, 2, 3)]
    assert {d["metadata"]["handoff"]["staff"] for d in staff} == {"fay"}


def test_outside_chat_hours_the_person_is_told_and_gets_the_call_back_form(
    stack, staff
):
    phone = Phone(stack, "+16045550178")
    phone.ask("hello", "automated assistant")
    with profile_edited(stack["profile"], *CLOSED):
        reply = phone.ask("3", "call you back. I just need a few details")
    assert "only open in clinic hours" in reply
    assert "asking the front desk" not in reply


def test_nobody_takes_the_chat_in_time(stack, staff):
    """The profile's shortest wait, a minute: the reminder Rasa set fires,
    the request expires, the person is told and the call-back form starts,
    with the number they wrote while waiting already filled in."""
    number = "+16045550179"
    phone = Phone(stack, number)
    phone.ask("hello", "automated assistant")
    with profile_edited(stack["profile"], *ONE_MINUTE_WAIT):
        since = phone.text("3")
        phone.wait_for(lambda r: "asking the front desk" in r, since)
        written = "Still here. You can reach me at 604 555 0142 instead"
        phone.text(written)
        assert handled(stack["db"], number, written) == ["action_listen"]
    replies = phone.wait_for(lambda r: "What's your name?" in r, since, timeout=180)
    bodies = [r["body"] for r in replies]
    assert any("nobody from the front desk could join in time" in b for b in bodies)
    assert "I'll use the number you gave, +1 604-555-0142." in bodies
    assert the_chat(stack["db"], number).status == "expired"
    listed = staff.get("/staff/chats/list").get_data(as_text=True)
    assert "+16045550179" not in listed and "Nobody is waiting" in listed
    # The contact question (here: "Is +1 604-555-0179 the best number?") is
    # skipped: after the name comes the time.
    reply = phone.ask("Ana Souza", "When is a good time to reach you?")
    assert "best number" not in reply and "phone number or email" not in reply


def test_a_lost_reminder_still_ends_the_wait(stack, staff):
    """As after a restart of Rasa: the request is overdue but Rasa's reminder
    has not fired. The worker's pass triggers the timeout through the API."""
    from datetime import timedelta

    from db.models import utcnow
    from notifications.handoff import end_overdue_waits

    number = "+16045550180"
    phone = Phone(stack, number)
    phone.ask("hello", "automated assistant")
    phone.ask("3", "asking the front desk")
    chat = the_chat(stack["db"], number)
    with session_factory(stack["db"])() as session:
        row = session.get(HandoffChat, chat.id)
        row.wait_until = utcnow() - timedelta(minutes=5)  # overdue, reminder not yet
        session.commit()
    since = len(phone.replies())
    factory = session_factory(stack["db"])
    assert end_overdue_waits(factory, stack["url"], API_TOKEN) == 1
    replies = phone.wait_for(lambda r: "I just need a few details" in r, since)
    assert any("could join in time" in r["body"] for r in replies)
    assert the_chat(stack["db"], number).status == "expired"
