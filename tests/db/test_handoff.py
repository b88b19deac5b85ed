"""Live handoff's database state (db/handoff.py): one winner per take, on
SQLite and PostgreSQL; a take and a timeout never both win; who counts as
available."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Optional

import pytest
from sqlalchemy import select

from db import handoff
from db.engine import session_factory
from db.models import utcnow
from db.staff_models import HandoffChat, StaffSession, StaffUser

IDLE = timedelta(minutes=60)
WAIT = timedelta(minutes=3)


def add_staff(
    url: str,
    name: str,
    signed_in: bool = True,
    available: bool = True,
    at: Optional[datetime] = None,
) -> int:
    """A staff member, signed in at `at` (default now) unless told not."""
    with session_factory(url)() as session:
        user = StaffUser(username=name, password_hash="x", role="front_desk")
        session.add(user)
        session.flush()
        now = at or utcnow()
        if signed_in:
            session.add(
                StaffSession(
                    id=f"{name}-session",
                    user_id=user.id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(hours=8),
                )
            )
        handoff.set_available(session, user.id, available)
        session.commit()
        return user.id


def new_chat(url: str, sender: str = "tel:+16045550100") -> int:
    with session_factory(url)() as session:
        chat = handoff.request_chat(session, sender, "twilio", WAIT)
        session.commit()
        return chat.id


def take_at_once(url: str, chat_id: int, staff: list) -> dict:
    """Every staff member clicks "take" at the same moment, each in a
    session (and connection) of their own: who got the chat."""
    start = threading.Barrier(len(staff))
    results = {}

    def click(user_id: int) -> None:
        with session_factory(url)() as session:
            start.wait()
            results[user_id] = handoff.take(session, chat_id, user_id)

    threads = [threading.Thread(target=click, args=(u,)) for u in staff]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_staff_members_take_the_same_chat_at_once_and_one_wins(database_url):
    staff = [add_staff(database_url, "ana"), add_staff(database_url, "ben")]
    for attempt in range(5):
        chat_id = new_chat(database_url, sender=f"web:{attempt}")
        results = take_at_once(database_url, chat_id, staff)
        assert sorted(results.values()) == [False, True]
        winner = next(u for u, won in results.items() if won)
        with session_factory(database_url)() as session:
            chat = session.get(HandoffChat, chat_id)
            assert (chat.status, chat.taken_by) == (handoff.HELD, winner)


def test_a_taken_chat_does_not_expire_and_an_expired_one_cannot_be_taken(
    database_url,
):
    ana = add_staff(database_url, "ana")
    later = utcnow() + WAIT + timedelta(seconds=1)
    taken = new_chat(database_url, "web:taken")
    with session_factory(database_url)() as session:
        assert handoff.take(session, taken, ana)
        assert not handoff.expire(session, "web:taken", later)
        left = new_chat(database_url, "web:left")
        assert not handoff.expire(session, "web:left", utcnow())  # not yet due
        assert handoff.expire(session, "web:left", later)
        assert not handoff.take(session, left, ana)


def test_only_the_holder_ends_a_chat_and_asking_twice_queues_once(database_url):
    ana, ben = add_staff(database_url, "ana"), add_staff(database_url, "ben")
    chat_id = new_chat(database_url)
    assert new_chat(database_url) == chat_id  # the open request, not a second
    with session_factory(database_url)() as session:
        assert handoff.take(session, chat_id, ana)
        assert not handoff.end(session, chat_id, ben)
        assert handoff.end(session, chat_id, ana)
        assert not handoff.end(session, chat_id, ana)  # once
        assert handoff.open_chat(session, "tel:+16045550100") is None
    assert new_chat(database_url) != chat_id  # a new request after the end


def test_a_chat_left_held_from_an_earlier_session_is_ended_by_a_new_request(
    database_url,
):
    ana = add_staff(database_url, "ana")
    old = new_chat(database_url)
    with session_factory(database_url)() as session:
        assert handoff.take(session, old, ana)
    fresh = new_chat(database_url)
    assert fresh != old
    with session_factory(database_url)() as session:
        assert session.get(HandoffChat, old).status == handoff.ENDED
        assert session.get(HandoffChat, fresh).status == handoff.WAITING


def test_asking_again_after_the_wait_ran_out_waits_anew(database_url):
    """The worker had not expired the old request yet: it expires now, and
    the new one waits its full time from now."""
    asked = utcnow() - WAIT - timedelta(seconds=10)
    with session_factory(database_url)() as session:
        old = handoff.request_chat(session, "web:abc", "socketio", WAIT, asked)
        session.commit()
    now = utcnow()
    with session_factory(database_url)() as session:
        fresh = handoff.request_chat(session, "web:abc", "socketio", WAIT, now)
        session.commit()
        assert fresh.id != old.id
    with session_factory(database_url)() as session:
        assert session.get(HandoffChat, old.id).status == handoff.EXPIRED
        row = session.get(HandoffChat, fresh.id)
        assert row.status == handoff.WAITING
        assert row.wait_until.replace(tzinfo=None) == (now + WAIT).replace(tzinfo=None)
        assert not handoff.expire(session, "web:abc", now + WAIT / 2)  # not due


def test_give_back_returns_a_chat_to_the_queue(database_url):
    ana = add_staff(database_url, "ana")
    chat_id = new_chat(database_url)
    with session_factory(database_url)() as session:
        assert handoff.take(session, chat_id, ana)
        assert handoff.give_back(session, chat_id, ana)
        assert [c.status for c in handoff.open_chats(session)] == [handoff.WAITING]


@pytest.mark.parametrize(
    ("signed_in", "available", "expected"),
    [(True, True, True), (True, False, False), (False, True, False)],
)
def test_available_means_switched_on_and_signed_in(
    database_url, signed_in, available, expected
):
    user = add_staff(database_url, "ana", signed_in=signed_in, available=available)
    with session_factory(database_url)() as session:
        assert bool(handoff.signed_in_and_available(session, IDLE)) is expected
        assert handoff.anyone_signed_in(session, IDLE) is signed_in
        # An idle sign-in no longer counts.
        later = utcnow() + IDLE + timedelta(minutes=1)
        assert handoff.signed_in_and_available(session, IDLE, later) == []
        session.get(StaffUser, user).disabled_at = utcnow()
        session.commit()
        assert handoff.signed_in_and_available(session, IDLE) == []


def test_deleting_a_conversation_deletes_its_chat_requests(database_url):
    from db.deletion import delete_conversation

    new_chat(database_url, "tel:+16045550100")
    with session_factory(database_url)() as session:
        delete_conversation(session, ["tel:+16045550100"])
        session.commit()
        assert session.scalars(select(HandoffChat)).all() == []
