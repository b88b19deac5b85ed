"""Live chat's part in the notification worker (#15): the staff email for a
chat request nobody could take, and the safety net for a wait whose Rasa
reminder was lost.

When a person asks for someone at the clinic during chat hours and no staff
member is signed in and available, they are offered the call-back form,
and the front desk gets this notice in the outbox (sent by SMTP when it is
set up). It says only that a chat request is waiting and where to look:
never who asked, on which number, or what they wrote.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Callable, List, Optional

from sqlalchemy import select
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
TIMEOUT_INTENT = "EXTERNAL_handoff_timeout"  # actions/handoff.py


def overdue(session: Session, now: datetime) -> List[str]:
    """Conversations whose request still waits well past its wait."""
    query = (
        select(HandoffChat.sender_id)
        .where(HandoffChat.status == handoff.WAITING)
        .where(HandoffChat.wait_until < now - GRACE)
        .order_by(HandoffChat.wait_until)
        .limit(50)
    )
    return list(session.scalars(query))


def end_overdue_waits(
    factory: sessionmaker,
    rasa_url: str,
    token: str,
    now: Optional[datetime] = None,
    trigger: Callable[[str, str, str, str], None] = rasa_api.trigger_intent,
) -> int:
    """Nobody waits forever, even when Rasa lost its reminder (a restart, or
    the other replica): each overdue request's timeout is triggered through
    Rasa's HTTP API, so the person is told and offered the call-back form
    as the reminder would have done; then any request still waiting (its
    conversation has moved on to a new session, say) is expired here. How
    many requests were overdue."""
    now = now or utcnow()
    with factory() as session:
        senders = overdue(session, now)
        for sender in senders:
            # Rasa unreachable is logged by rasa_api; expired below all the same.
            with contextlib.suppress(rasa_api.RasaUnavailable):
                trigger(rasa_url, token, sender, TIMEOUT_INTENT)
            handoff.expire(session, sender, now)
        return len(senders)
