"""The worker's safety net for live chat (notifications/handoff.py): a wait
whose Rasa reminder was lost is ended all the same."""

from __future__ import annotations

from datetime import timedelta

from clinic import rasa_api
from db import handoff
from db.engine import session_factory
from db.models import utcnow
from db.staff_models import HandoffChat
from notifications.handoff import GRACE, end_overdue_waits

WAIT = timedelta(minutes=3)


def chat(url: str, sender: str, asked_ago: timedelta) -> int:
    with session_factory(url)() as session:
        found = handoff.request_chat(
            session, sender, "twilio", WAIT, utcnow() - asked_ago
        )
        session.commit()
        return found.id


def status(url: str, chat_id: int) -> str:
    with session_factory(url)() as session:
        return session.get(HandoffChat, chat_id).status


def test_an_overdue_wait_is_triggered_then_expired(database_url):
    late = chat(database_url, "tel:+16045550100", WAIT + GRACE + timedelta(seconds=5))
    recent = chat(database_url, "web:abc", WAIT)  # just due: the reminder's turn
    calls = []

    def trigger(url, token, sender, intent):
        calls.append((url, token, sender, intent))

    factory = session_factory(database_url)
    assert end_overdue_waits(factory, "http://rasa", "t0ken", trigger=trigger) == 1
    assert calls == [
        ("http://rasa", "t0ken", "tel:+16045550100", "EXTERNAL_handoff_timeout")
    ]
    assert status(database_url, late) == "expired"
    assert status(database_url, recent) == "waiting"
    assert end_overdue_waits(factory, "http://rasa", "t0ken", trigger=trigger) == 0


def test_rasa_unreachable_still_expires_it(database_url):
    late = chat(database_url, "web:abc", WAIT + GRACE + timedelta(minutes=1))

    def trigger(url, token, sender, intent):
        raise rasa_api.RasaUnavailable("down")

    factory = session_factory(database_url)
    assert end_overdue_waits(factory, "http://rasa", "", trigger=trigger) == 1
    assert status(database_url, late) == "expired"
