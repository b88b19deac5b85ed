"""The worker's safety net for live chat (notifications/handoff.py): a wait
whose Rasa reminder was lost is ended all the same, but never behind Rasa's
back: the row stays waiting while Rasa may still have the person waiting."""

from __future__ import annotations

from datetime import timedelta
from typing import Dict, List, Optional

import pytest
from sqlalchemy import event

from clinic import rasa_api
from db import handoff
from db.engine import get_engine, session_factory
from db.models import utcnow
from db.staff_models import HandoffChat
from notifications.handoff import (
    CALL_SECONDS,
    GIVE_UP,
    GRACE,
    PASS_SECONDS,
    SETTLE,
    OverdueWaits,
    end_overdue_waits,
)

WAIT = timedelta(minutes=3)
LATE = WAIT + GRACE + timedelta(seconds=5)


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


class Rasa:
    """A stand-in for Rasa's API: each conversation's `handoff` slot, and a
    trigger that does what action_handoff_timeout does, unless told to fail."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slots: Dict[str, Optional[str]] = {}
        self.calls: List[tuple] = []
        self.read_fails: Optional[rasa_api.RasaUnavailable] = None
        self.trigger_fails: Optional[rasa_api.RasaUnavailable] = None
        self.action_fails = False  # Rasa answers, the action changes nothing
        self.during_call = lambda: None  # a check run inside every call

    def read_slot(self, rasa_url, token, sender, name, timeout):
        self.calls.append(("read", sender, name, timeout))
        self.during_call()
        if self.read_fails:
            raise self.read_fails
        return self.slots.get(sender)

    def trigger(self, rasa_url, token, sender, intent, timeout):
        self.calls.append(("trigger", sender, intent, timeout))
        self.during_call()
        if self.trigger_fails:
            raise self.trigger_fails
        if self.action_fails:
            return
        with session_factory(self.url)() as session:
            handoff.expire(session, sender, utcnow())
        self.slots[sender] = "unavailable"

    def triggered(self) -> List[str]:
        return [call[1] for call in self.calls if call[0] == "trigger"]

    def waits(self, **kwargs) -> OverdueWaits:
        return OverdueWaits(
            "http://rasa", "t0ken", self.trigger, self.read_slot, **kwargs
        )


@pytest.fixture
def rasa(database_url) -> Rasa:
    return Rasa(database_url)


def test_an_overdue_wait_is_triggered_and_its_action_ends_it(database_url, rasa):
    late = chat(database_url, "tel:+16045550100", LATE)
    recent = chat(database_url, "web:abc", WAIT)  # just due: the reminder's turn
    rasa.slots = {"tel:+16045550100": "waiting", "web:abc": "waiting"}
    factory = session_factory(database_url)
    waits = rasa.waits()
    assert waits.run(factory) == 1
    assert rasa.calls == [
        ("read", "tel:+16045550100", "handoff", CALL_SECONDS),
        ("trigger", "tel:+16045550100", "EXTERNAL_handoff_timeout", CALL_SECONDS),
    ]
    assert status(database_url, late) == "expired"
    assert status(database_url, recent) == "waiting"
    assert waits.run(factory) == 0


def test_a_wait_rasa_no_longer_has_is_expired_without_a_trigger(database_url, rasa):
    """A new session (the slot is not carried over), or the timeout ran and
    only the database write failed."""
    gone = chat(database_url, "web:new-session", LATE)
    told = chat(database_url, "web:told", LATE)
    rasa.slots = {"web:told": "unavailable"}
    assert rasa.waits().run(session_factory(database_url)) == 2
    assert rasa.triggered() == []
    assert status(database_url, gone) == status(database_url, told) == "expired"


@pytest.mark.parametrize("fails", ["read", "trigger"])
def test_rasa_unreachable_keeps_it_waiting_and_the_next_pass_tries_again(
    database_url, rasa, fails
):
    late = chat(database_url, "web:abc", LATE)
    rasa.slots = {"web:abc": "waiting"}
    setattr(rasa, f"{fails}_fails", rasa_api.RasaUnavailable("down"))
    factory = session_factory(database_url)
    waits = rasa.waits()
    assert waits.run(factory) == 1
    assert status(database_url, late) == "waiting"  # as Rasa still has it
    setattr(rasa, f"{fails}_fails", None)
    assert waits.run(factory) == 1
    assert rasa.triggered()[-1] == "web:abc"
    assert status(database_url, late) == "expired"


def test_a_trigger_that_may_have_run_is_tried_again_only_after_a_back_off(
    database_url, rasa
):
    late = chat(database_url, "web:abc", LATE)
    rasa.slots = {"web:abc": "waiting"}
    rasa.trigger_fails = rasa_api.RasaUnavailable("TimeoutError", maybe_applied=True)
    clock = [1000.0]
    factory = session_factory(database_url)
    waits = rasa.waits(clock=lambda: clock[0])
    waits.run(factory)
    clock[0] += 5  # the next pass: its turn may still be running
    waits.run(factory)
    assert rasa.triggered() == ["web:abc"]
    assert status(database_url, late) == "waiting"
    clock[0] += SETTLE
    waits.run(factory)
    assert rasa.triggered() == ["web:abc"] * 2
    clock[0] += SETTLE + 5  # the second wait is twice as long
    waits.run(factory)
    assert rasa.triggered() == ["web:abc"] * 2
    rasa.trigger_fails = None
    clock[0] += SETTLE
    waits.run(factory)
    assert rasa.triggered() == ["web:abc"] * 3
    assert status(database_url, late) == "expired"
    waits.run(factory)
    assert waits.tried == {}  # forgotten once it no longer waits


def test_a_trigger_that_ran_but_left_it_waiting_is_repeated_after_a_back_off(
    database_url, rasa
):
    """The action server was down: Rasa answered, the slot still says
    waiting. Not triggered every pass (each would repeat the stand-in
    reply), but again later, when the action may work."""
    late = chat(database_url, "web:abc", LATE)
    rasa.slots = {"web:abc": "waiting"}
    rasa.action_fails = True
    clock = [0.0]
    factory = session_factory(database_url)
    waits = rasa.waits(clock=lambda: clock[0])
    for _ in range(3):
        waits.run(factory)
        clock[0] += 5
    assert rasa.triggered() == ["web:abc"]
    assert status(database_url, late) == "waiting"
    rasa.action_fails = False
    clock[0] += SETTLE
    waits.run(factory)
    assert rasa.triggered() == ["web:abc"] * 2
    assert status(database_url, late) == "expired"


def test_a_request_waiting_past_the_bound_is_expired_without_rasa(
    database_url, rasa, domain
):
    expiry = domain["session_config"]["session_expiration_time"]
    assert timedelta(minutes=expiry) == GIVE_UP
    old = chat(database_url, "web:old", WAIT + GIVE_UP + timedelta(seconds=1))
    rasa.read_fails = rasa_api.RasaUnavailable("RASA_AUTH_TOKEN is not set")
    assert rasa.waits().run(session_factory(database_url)) == 1
    assert status(database_url, old) == "expired"
    assert rasa.calls == []


def test_no_connection_is_held_while_rasa_is_asked(database_url, rasa):
    """The overdue list is read in a short session, and each expiry is
    committed on its own before the next call to Rasa."""
    first = chat(database_url, "web:first", LATE + timedelta(seconds=1))
    chat(database_url, "web:second", LATE)
    checked_out = [0]
    engine = get_engine(database_url)

    def checkout(*args) -> None:
        checked_out[0] += 1

    def checkin(*args) -> None:
        checked_out[0] -= 1

    def during_call() -> None:
        assert checked_out[0] == 0
        if rasa.calls[-1][1] == "web:second":
            assert status(database_url, first) == "expired"

    rasa.during_call = during_call
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        assert rasa.waits().run(session_factory(database_url)) == 2
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert [c[:2] for c in rasa.calls] == [
        ("read", "web:first"),
        ("read", "web:second"),
    ]


def test_a_pass_starts_no_call_after_its_time(database_url, rasa):
    """Rasa slow: each call takes its whole timeout. The rest wait for the
    next pass."""
    rows = [
        chat(database_url, f"web:{n}", LATE + timedelta(seconds=10 - n))
        for n in range(10)
    ]
    clock = [0.0]

    def slow(*args, **kwargs):
        clock[0] += CALL_SECONDS
        raise rasa_api.RasaUnavailable("TimeoutError", maybe_applied=True)

    waits = OverdueWaits("http://rasa", "t0ken", slow, slow, clock=lambda: clock[0])
    assert waits.run(session_factory(database_url)) == 10
    assert clock[0] <= PASS_SECONDS + CALL_SECONDS
    assert {status(database_url, row) for row in rows} == {"waiting"}


def test_end_overdue_waits_is_one_pass(database_url, rasa):
    late = chat(database_url, "web:abc", LATE)
    rasa.slots = {"web:abc": "waiting"}
    factory = session_factory(database_url)
    assert (
        end_overdue_waits(
            factory, "http://rasa", "t", trigger=rasa.trigger, read_slot=rasa.read_slot
        )
        == 1
    )
    assert status(database_url, late) == "expired"
