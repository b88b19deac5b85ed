"""Live handoff's actions (actions/handoff.py): wait for the front desk only
in chat hours with someone available, else say why; the timeout expires
the request unless it was taken; the call-back form follows either way."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rasa_sdk.events import ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import handoff as actions
from actions.leads import ActionStartLead
from db import handoff
from db.engine import session_factory
from db.models import OutboxMessage
from db.staff_models import HandoffChat
from tests.conftest import make_tracker, user_event
from tests.db.test_handoff import add_staff

SENDER = "tel:+16045550100"
# Thursday 10:00 in Vancouver (the sample profile: Mon-Fri 08:00-18:00).
OPEN = datetime(2026, 12, 3, 18, 0, tzinfo=timezone.utc)
CLOSED = datetime(2026, 12, 6, 18, 0, tzinfo=timezone.utc)  # a Sunday


@pytest.fixture
def at(monkeypatch):
    """Sets the actions' clock."""

    def set_clock(when: datetime) -> None:
        monkeypatch.setattr(actions, "now", lambda: when)

    return set_clock


def request_tracker(intent: str = "request_human"):
    event = {**user_event("/request_human", intent), "input_channel": "twilio"}
    return make_tracker([event], sender_id=SENDER)


def responses(dispatcher):
    return [m["response"] for m in dispatcher.messages]


def chats(url):
    with session_factory(url)() as session:
        return session.scalars(select(HandoffChat)).all()


def outbox(url):
    with session_factory(url)() as session:
        return session.scalars(select(OutboxMessage)).all()


async def test_someone_available_in_hours_means_waiting_with_a_reminder(
    use_database, dispatcher, at
):
    add_staff(use_database, "ana", at=OPEN)
    at(OPEN)
    events = await actions.ActionRequestHandoff().run(dispatcher, request_tracker(), {})
    assert responses(dispatcher) == ["utter_handoff_waiting"]
    assert events[0] == SlotSet("handoff", "waiting")
    reminder = events[1]
    assert reminder["event"] == "reminder" and reminder["name"] == "handoff_timeout"
    assert reminder["intent"] == "EXTERNAL_handoff_timeout"
    expected = ReminderScheduled(
        "EXTERNAL_handoff_timeout", OPEN + timedelta(minutes=3)
    )["date_time"]
    assert reminder["date_time"] == expected
    [chat] = chats(use_database)
    assert (chat.sender_id, chat.channel, chat.status) == (SENDER, "twilio", "waiting")
    assert outbox(use_database) == []


async def test_outside_chat_hours_the_honest_answer(use_database, dispatcher, at):
    add_staff(use_database, "ana", at=OPEN)
    at(CLOSED)
    events = await actions.ActionRequestHandoff().run(dispatcher, request_tracker(), {})
    assert responses(dispatcher) == ["utter_handoff_closed"]
    assert events == [SlotSet("handoff", "unavailable")]
    assert chats(use_database) == [] and outbox(use_database) == []


async def test_signed_in_but_not_available_is_nobody_and_no_email(
    use_database, dispatcher, at
):
    add_staff(use_database, "ana", available=False, at=OPEN)
    at(OPEN)
    events = await actions.ActionRequestHandoff().run(dispatcher, request_tracker(), {})
    assert responses(dispatcher) == ["utter_handoff_nobody"]
    assert events == [SlotSet("handoff", "unavailable")]
    assert chats(use_database) == [] and outbox(use_database) == []


async def test_nobody_signed_in_emails_only_that_a_request_is_waiting(
    use_database, dispatcher, at
):
    at(OPEN)
    tracker = request_tracker()
    tracker.latest_message["text"] = "my sciatica is worse, Ana Souza 604 555 0142"
    await actions.ActionRequestHandoff().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_handoff_nobody"]
    [notice] = outbox(use_database)
    assert "chat request is waiting" in notice.body
    assert notice.body.endswith("/staff/chats\n")
    for private in ("sciatica", "Ana", "604", "0100", SENDER):
        assert private not in notice.subject + notice.body


async def test_a_database_failure_is_nobody_not_an_error(
    monkeypatch, dispatcher, at, tmp_path
):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing/x.db")
    at(OPEN)
    events = await actions.ActionRequestHandoff().run(dispatcher, request_tracker(), {})
    assert events == [SlotSet("handoff", "unavailable")]


async def waiting_chat(url, at):
    add_staff(url, "ana", at=OPEN)
    at(OPEN)
    await actions.ActionRequestHandoff().run(
        CollectingDispatcher(), request_tracker(), {}
    )
    [chat] = chats(url)
    return chat.id


async def test_the_wait_runs_out_the_person_is_told(use_database, dispatcher, at):
    await waiting_chat(use_database, at)
    at(OPEN + timedelta(minutes=3))
    tracker = request_tracker("EXTERNAL_handoff_timeout")
    events = await actions.ActionHandoffTimeout().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_handoff_timeout"]
    assert events == [SlotSet("handoff", "unavailable")]
    assert [c.status for c in chats(use_database)] == ["expired"]


async def test_a_chat_taken_before_the_timeout_stays_held(use_database, dispatcher, at):
    chat_id = await waiting_chat(use_database, at)
    with session_factory(use_database)() as session:
        [ana] = handoff.signed_in_and_available(session, timedelta(hours=1), OPEN)
        assert handoff.take(session, chat_id, ana)
    at(OPEN + timedelta(minutes=3))
    tracker = request_tracker("EXTERNAL_handoff_timeout")
    events = await actions.ActionHandoffTimeout().run(dispatcher, tracker, {})
    assert dispatcher.messages == [] and events == [SlotSet("handoff", "held")]


async def test_an_early_timeout_keeps_waiting(use_database, dispatcher, at):
    await waiting_chat(use_database, at)
    at(OPEN + timedelta(minutes=1))
    tracker = request_tracker("EXTERNAL_handoff_timeout")
    events = await actions.ActionHandoffTimeout().run(dispatcher, tracker, {})
    assert dispatcher.messages == [] and events == [SlotSet("handoff", "waiting")]


async def test_after_the_timeout_the_form_is_a_call_back(dispatcher):
    tracker = request_tracker("EXTERNAL_handoff_timeout")
    events = await ActionStartLead().run(dispatcher, tracker, {})
    assert SlotSet("lead_kind", "callback") in events
    assert responses(dispatcher) == ["utter_lead_intro_callback"]
