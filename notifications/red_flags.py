"""Staff are told of each chat in which the red-flag check gave the
urgent-care reply.

The assistant tells the person "I've marked this conversation for the
team"; this is how the team hears of it. The worker (notifications/
worker.py) calls `alert_new_red_flags` on every pass: it reads the
transcript table for red-flag events newer than the last one it saw, and
for each conversation not alerted yet it stores a `RedFlagAlert` with a
reference and queues a staff email holding that reference and a link to
the staff app. The email never says what was written, nor the category:
email is not a secure channel. Reading the transcript rather than having
the assistant write here keeps the urgent reply independent of the
database and the action server.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.leads import REFERENCE_ALPHABET
from db.models import OutboxMessage, RedFlagAlert
from db.rasa_events import events, red_flag_event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    email: str
    staff_url: str  # the staff page of an alert: {reference} is filled in


def new_reference() -> str:
    return "RF-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


def alert_new_red_flags(
    session: Session, recipient: Recipient, after_id: int = 0
) -> int:
    """Alerts staff of red-flagged conversations whose flag event has an id
    above `after_id`; returns the highest event id seen (the next call's
    `after_id`). Commits."""
    if not inspect(session.get_bind()).has_table(events.name):
        return after_id  # Rasa has not run against this database yet
    rows = session.execute(
        select(
            events.c.sender_id,
            func.min(events.c.timestamp).label("flagged"),
            func.max(events.c.id).label("last_id"),
        )
        .where(events.c.id > after_id)
        .where(red_flag_event)
        .group_by(events.c.sender_id)
    ).all()
    if not rows:
        return after_id
    known = set(
        session.scalars(
            select(RedFlagAlert.sender_id).where(
                RedFlagAlert.sender_id.in_([row.sender_id for row in rows])
            )
        )
    )
    for row in rows:
        if row.sender_id in known:
            continue
        alert = RedFlagAlert(
            reference=new_reference(),
            sender_id=row.sender_id,
            flagged_at=datetime.fromtimestamp(float(row.flagged), timezone.utc),
        )
        session.add(alert)
        session.add(
            OutboxMessage(
                lead_reference=alert.reference,
                recipient=recipient.email,
                subject=f"[RED FLAG] {alert.reference}: a chat was given the "
                "urgent-care reply",
                body=(
                    "The clinic assistant gave a person the urgent-care reply "
                    "(call the emergency number or go to the emergency "
                    "department) and marked the conversation for the team.\n\n"
                    f"Reference: {alert.reference}\n\n"
                    "Read the conversation in the staff app (login required) "
                    "and mark it reviewed there:\n"
                    f"{recipient.staff_url.format(reference=alert.reference)}\n\n"
                    "What was written is kept in the staff app only: email is "
                    "not a secure channel."
                ),
            )
        )
        logger.warning("Red flag alert %s queued for staff", alert.reference)
    try:
        session.commit()
    except IntegrityError:  # another worker alerted the same chat first
        session.rollback()
        return after_id
    return max(int(row.last_id) for row in rows)


def alert_for(session: Session, sender_id: str) -> Optional[RedFlagAlert]:
    return session.scalars(
        select(RedFlagAlert).where(RedFlagAlert.sender_id == sender_id)
    ).first()
