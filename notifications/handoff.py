"""Live chat's part in the notification worker (#15): the staff email for a
chat request nobody could take, and the safety net for a wait whose Rasa
reminder was lost.

When a person asks for someone at the clinic during chat hours and no staff
member is signed in and available, they are offered the call-back form,
and the front desk gets this notice in the outbox (sent by SMTP when it is
set up). It says only that a chat request is waiting and where to look:
never who asked, on which number, or what they wrote.

The safety net (`OverdueWaits`, every worker pass): a request still
`waiting` `GRACE` past its wait lost its Rasa reminder (a restart of Rasa,
say). The worker reads the conversation's `handoff` slot from Rasa and,
while it is still `waiting`, triggers `EXTERNAL_handoff_timeout` as the
reminder would have: the person is told and offered the call-back form, and
action_handoff_timeout expires the row. The row is expired here only once
Rasa is seen not to have the conversation waiting (the trigger ran, or the
conversation had moved on to a new session): a row expired while Rasa still
says `waiting` would leave the bot silent to that person.

- Rasa unreachable, or the trigger failed before Rasa had all of it: the
  row stays waiting and the next pass tries again.
- The trigger ran or may have run (no answer in time, a 5xx) and the slot
  still says `waiting` at a later pass (its action failed, say): it is
  triggered again after `SETTLE` seconds (Rasa's lock lifetime, so a turn
  still running from the try before is over), then after twice that, and
  so on, so a broken action server does not repeat its stand-in reply every
  pass. Run again after the timeout has worked, it is harmless: the slot is
  `unavailable` by then, and the "a reminder that is no longer needed" rule
  (data/rules/handoff.yml) only listens; in any case the slot is read first.
- The bound: a row still waiting `GIVE_UP` (domain.yml's
  session_expiration_time, 60 minutes) past its wait is expired without
  asking Rasa. Rasa starts a new session, with the bot, at the person's
  first message after 60 quiet minutes; if Rasa still had them waiting
  (the worker could not reach it all along: Rasa down, RASA_AUTH_TOKEN
  missing; or the timeout's action kept failing), that is the longest a
  person can wait on: 60 minutes after they last wrote or the last trigger.

A pass reads the overdue rows in one short session and closes it before any
call to Rasa, gives each call `CALL_SECONDS`, starts no call after
`PASS_SECONDS` (the rest wait for the next pass, oldest first), and commits
each expiry in a transaction of its own. Nothing of a conversation is
logged (rasa_api logs the error type only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, Tuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from clinic import rasa_api
from db import handoff
from db.models import OutboxMessage, utcnow
from db.staff_models import HandoffChat

SUBJECT = "[chat request] Someone asked to chat with the front desk"


def queue_chat_request_notice(
    session: Session, recipient: str, staff_url: str, at: datetime
) -> OutboxMessage:
    """Adds the notice to the outbox (the caller commits)."""
    body = (
        "A chat request is waiting: someone asked to chat with the front desk "
        f"at {at:%H:%M} UTC while nobody was signed in to the staff app and "
        "available for live chat. They were offered a call back instead.\n\n"
        f"Sign in and switch live chat on to take the next one: {staff_url}\n"
    )
    message = OutboxMessage(recipient=recipient, subject=SUBJECT, body=body)
    session.add(message)
    return message


# How long after a request's wait ends the worker steps in: Rasa's own
# reminder normally fires first.
GRACE = timedelta(seconds=30)
# A row still waiting this long past its wait is expired without Rasa:
# domain.yml's session_expiration_time (tests check they agree).
GIVE_UP = timedelta(minutes=60)
CALL_SECONDS = 3.0  # each call to Rasa's API
PASS_SECONDS = 15.0  # no call starts later than this into a pass
# The first wait before triggering a conversation's timeout again, doubled at
# each try: Rasa's lock lifetime (rasa.core.constants.DEFAULT_LOCK_LIFETIME),
# by when a turn still running from the try before is over.
SETTLE = 60.0
TIMEOUT_INTENT = "EXTERNAL_handoff_timeout"  # actions/handoff.py
SLOT = "handoff"  # actions/handoff.py

Trigger = Callable[..., None]  # rasa_api.trigger_intent
ReadSlot = Callable[..., Any]  # rasa_api.slot_value


def overdue(session: Session, now: datetime) -> List[str]:
    """Conversations whose request still waits well past its wait, oldest
    first."""
    query = (
        select(HandoffChat.sender_id)
        .where(HandoffChat.status == handoff.WAITING)
        .where(HandoffChat.wait_until < now - GRACE)
        .order_by(HandoffChat.wait_until)
        .limit(50)
    )
    return list(session.scalars(query))


def give_up(session: Session, now: datetime) -> int:
    """Expires the requests still waiting `GIVE_UP` past their wait (commits);
    how many."""
    result = session.execute(
        update(HandoffChat)
        .where(HandoffChat.status == handoff.WAITING)
        .where(HandoffChat.wait_until < now - GIVE_UP)
        .values(status=handoff.EXPIRED, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount


@dataclass
class OverdueWaits:
    """The safety net for waits whose Rasa reminder was lost (the module's
    docstring says how), with its memory between the worker's passes: how
    often each conversation's timeout was triggered, and when it may be
    again (`tried`, in memory only, never logged)."""

    rasa_url: str
    token: str
    trigger: Trigger = rasa_api.trigger_intent
    read_slot: ReadSlot = rasa_api.slot_value
    clock: Callable[[], float] = time.monotonic
    tried: Dict[str, Tuple[int, float]] = field(default_factory=dict)

    def run(self, factory: sessionmaker, now: Optional[datetime] = None) -> int:
        """One pass; how many requests were overdue."""
        now = now or utcnow()
        started = self.clock()
        with factory() as session:  # closed before any call to Rasa
            given_up = give_up(session, now)
            senders = overdue(session, now)
        self.tried = {s: t for s, t in self.tried.items() if s in senders}
        for sender in senders:
            if self.clock() - started > PASS_SECONDS:
                break  # the rest at the next pass
            if self._still_waiting(sender):
                continue
            self.tried.pop(sender, None)
            with factory() as session:  # Rasa no longer has it waiting
                handoff.expire(session, sender, now)
        return given_up + len(senders)

    def _still_waiting(self, sender: str) -> bool:
        """Whether Rasa may still have the conversation waiting; triggers its
        timeout when it does and is due another try. RasaUnavailable is
        logged by rasa_api, with its type only."""
        try:
            slot = self.read_slot(
                self.rasa_url, self.token, sender, SLOT, timeout=CALL_SECONDS
            )
        except rasa_api.RasaUnavailable:
            return True  # not known: asked again at the next pass
        if slot != handoff.WAITING:
            return False
        times, not_before = self.tried.get(sender, (0, 0.0))
        if self.clock() < not_before:
            return True
        try:
            self.trigger(
                self.rasa_url, self.token, sender, TIMEOUT_INTENT, timeout=CALL_SECONDS
            )
        except rasa_api.RasaUnavailable as error:
            if not error.maybe_applied:
                return True  # Rasa never had it: tried again at the next pass
        # Its action expires the row and the slot; if not (the conversation
        # had moved on to a new session, or the action failed), the next
        # pass reads the slot again, and triggers again after a back-off.
        self.tried[sender] = (times + 1, self.clock() + SETTLE * 2**times)
        return True


def end_overdue_waits(
    factory: sessionmaker,
    rasa_url: str,
    token: str,
    now: Optional[datetime] = None,
    **calls: Any,
) -> int:
    """One pass of a safety net without memory of earlier passes (the worker
    keeps an `OverdueWaits`); `calls` replace its Rasa calls or clock."""
    return OverdueWaits(rasa_url, token, **calls).run(factory, now)
