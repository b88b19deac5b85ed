"""Session start (actions/session.py) and live chat (#15): a chat the person
left open in the session before is ended when a new one starts (the
`handoff` slot is not carried over, so the bot answers again), and a
database error never stops the session from starting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rasa_sdk.events import ActionExecuted, ReminderCancelled, SessionStarted
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from actions import session as actions
from db import handoff
from db.engine import session_factory
from db.staff_models import HandoffChat
from tests.conftest import make_tracker, user_event
from tests.db.test_handoff import add_staff

SENDER = "tel:+16045550100"
OTHER = "tel:+16045550199"
ASKED = datetime(2026, 12, 3, 18, 0, tzinfo=timezone.utc)
BACK = ASKED + timedelta(hours=2)  # past domain.yml's session_expiration_time


def earlier_session(sender_id: str = SENDER):
    return make_tracker(
        [user_event("/request_human", "request_human")], sender_id=sender_id
    )


def open_request(url: str, sender_id: str, status: str) -> int:
    with session_factory(url)() as session:
        chat = handoff.request_chat(
            session, sender_id, "twilio", timedelta(minutes=3), ASKED
        )
        session.commit()
        chat_id = chat.id
    if status == handoff.HELD:
        ana = add_staff(url, f"ana{chat_id}", at=ASKED)
        with session_factory(url)() as session:
            assert handoff.take(session, chat_id, ana, ASKED + timedelta(minutes=1))
    return chat_id


def statuses(url: str) -> dict:
    with session_factory(url)() as session:
        rows = session.execute(select(HandoffChat.id, HandoffChat.status)).all()
        return dict(rows)


def started_plainly(events) -> None:
    assert events[0] == SessionStarted()
    assert events[-1] == ActionExecuted("action_listen")


@pytest.mark.parametrize("status", [handoff.WAITING, handoff.HELD])
async def test_a_new_session_ends_the_chat_left_open(
    use_database, dispatcher, monkeypatch, status
):
    chat_id = open_request(use_database, SENDER, status)
    someone_else = open_request(use_database, OTHER, status)
    monkeypatch.setattr(actions, "now", lambda: BACK)
    events = await actions.ActionSessionStart().run(dispatcher, earlier_session(), {})
    started_plainly(events)
    # Its reminder cannot tell the person, later, that nobody could join.
    assert ReminderCancelled(name="handoff_timeout") in events
    assert statuses(use_database) == {chat_id: "ended", someone_else: status}
    with session_factory(use_database)() as session:
        ended_at = session.get(HandoffChat, chat_id).ended_at
        assert ended_at.replace(tzinfo=timezone.utc) == BACK
        assert handoff.open_chat(session, SENDER) is None


@pytest.mark.parametrize("status", [handoff.ENDED, handoff.EXPIRED])
async def test_a_chat_already_over_stays_as_it_was(
    use_database, dispatcher, monkeypatch, status
):
    chat_id = open_request(use_database, SENDER, handoff.WAITING)
    with session_factory(use_database)() as session:
        session.get(HandoffChat, chat_id).status = status
        session.commit()
    events = await actions.ActionSessionStart().run(dispatcher, earlier_session(), {})
    started_plainly(events)
    assert not any(e["event"] == "cancel_reminder" for e in events)
    assert statuses(use_database) == {chat_id: status}


async def test_a_database_error_does_not_stop_the_session(
    use_database, dispatcher, monkeypatch, caplog
):
    open_request(use_database, SENDER, handoff.HELD)

    def broken(sender_id, at):
        raise OperationalError("UPDATE handoff_chats", {}, Exception("locked"))

    monkeypatch.setattr(actions, "end_open_chats", broken)
    events = await actions.ActionSessionStart().run(dispatcher, earlier_session(), {})
    started_plainly(events)
    assert ReminderCancelled(name="handoff_timeout") in events
    assert "Open chat not ended: OperationalError" in caplog.text
    assert SENDER not in caplog.text


async def test_a_first_session_asks_nothing_of_the_database(dispatcher, monkeypatch):
    def unexpected(sender_id, at):
        raise AssertionError("no chat can be open before the person wrote")

    monkeypatch.setattr(actions, "end_open_chats", unexpected)
    events = await actions.ActionSessionStart().run(dispatcher, make_tracker([]), {})
    started_plainly(events)
    assert not any(e["event"] == "cancel_reminder" for e in events)
