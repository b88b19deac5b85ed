"""How leads are stored: one per submitted form, deduplicated by contact.

- A repeated submission (same key: a retried request, a double click)
  returns the lead it stored the first time and changes nothing.
- The same phone or email within 30 days updates the open lead it belongs
  to (whatever the channel), with an `updated` event, instead of adding one.
- Every change is an append-only LeadEvent; the staff notification is
  queued in the outbox in the same transaction, so it cannot be lost.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import (
    OPEN_STATUSES,
    Lead,
    LeadEvent,
    LeadSubmission,
    OutboxMessage,
    utcnow,
)

DEDUPE_WINDOW = timedelta(days=30)
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
ASSISTANT = "assistant"


@dataclass(frozen=True)
class LeadInput:
    """What the lead form collected (validated) and the consent given.

    The one list of a lead's fields: each is a `Lead` column of the same
    name. The person's answers (`ANSWERS`, below) come from the form's
    slots, `lead_<field>` (`red_flag`: the conversation's own slot).
    """

    # About the submission, not answers of the person's.
    submission_key: str
    kind: str
    channel: str
    sender_id: str
    consent_version: str
    consent_at: datetime
    # The answers.
    name: str = ""
    phone: Optional[str] = None
    email: Optional[str] = None
    contact_method: Optional[str] = None
    contact_time: Optional[str] = None
    concern: Optional[str] = None
    condition: Optional[str] = None
    duration: Optional[str] = None
    screening: Optional[str] = None
    red_flag: Optional[str] = None

    @property
    def needs_review(self) -> bool:
        """Clinician review: a yes on screening, or a red flag earlier."""
        return self.screening == "yes" or bool(self.red_flag)


SUBMISSION_FIELDS = (
    "submission_key",
    "kind",
    "channel",
    "sender_id",
    "consent_version",
    "consent_at",
)
# The person's answers: what a later submission may fill in or change on an
# open lead.
ANSWERS = tuple(f.name for f in fields(LeadInput) if f.name not in SUBMISSION_FIELDS)
UPDATABLE = ANSWERS


def answer_slot(field: str) -> str:
    """The form slot an answer is read from."""
    return field if field == "red_flag" else f"lead_{field}"


@dataclass(frozen=True)
class SaveResult:
    reference: str
    outcome: str  # "created", "updated" or "repeated"


@dataclass(frozen=True)
class Notification:
    recipient: str
    staff_url: str  # where the staff app shows a lead: {reference} is filled in


def new_reference() -> str:
    return "IMS-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


def find_open_lead(
    session: Session, phone: Optional[str], email: Optional[str], now: datetime
) -> Optional[Lead]:
    """The newest open lead with this phone or email from the last 30 days."""
    matches = []
    if phone:
        matches.append(Lead.phone == phone)
    if email:
        matches.append(Lead.email == email)
    if not matches:
        return None
    query = (
        select(Lead)
        .where(or_(*matches))
        .where(Lead.status.in_(OPEN_STATUSES))
        .where(Lead.created_at >= now - DEDUPE_WINDOW)
        .order_by(Lead.created_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _changed_fields(lead: Lead, data: LeadInput) -> Iterable[str]:
    for field in UPDATABLE:
        value = getattr(data, field)
        if value not in (None, "") and value != getattr(lead, field):
            yield field


def _notify(
    session: Session, lead: Lead, notification: Notification, action: str
) -> None:
    flag = "YES - clinician review needed" if lead.needs_review else "no"
    link = notification.staff_url.format(reference=lead.reference)
    body = (
        f"A lead was {action} by the clinic assistant.\n\n"
        f"Reference: {lead.reference}\n"
        f"Request: {'call back' if lead.kind == 'callback' else 'assessment'}\n"
        f"Channel: {lead.channel}\n"
        f"Needs review: {flag}\n\n"
        f"Open it in the staff app (login required):\n{link}\n\n"
        "Details are kept in the staff app only: email is not a secure channel."
    )
    subject = (
        f"[{'REVIEW ' if lead.needs_review else ''}lead {action}] {lead.reference}"
    )
    session.add(
        OutboxMessage(
            lead_reference=lead.reference,
            recipient=notification.recipient,
            subject=subject,
            body=body,
        )
    )


def _store(session: Session, data: LeadInput, notification: Notification) -> SaveResult:
    known = session.get(LeadSubmission, data.submission_key)
    if known is not None:
        lead = session.get(Lead, known.lead_id)
        return SaveResult(reference=lead.reference, outcome="repeated")

    now = utcnow()
    lead = find_open_lead(session, data.phone, data.email, now)
    if lead is not None:
        changed = list(_changed_fields(lead, data))
        for field in changed:
            setattr(lead, field, getattr(data, field))
        lead.needs_review = lead.needs_review or data.needs_review
        lead.consent_version, lead.consent_at = data.consent_version, data.consent_at
        lead.updated_at = now
        outcome = "updated"
        detail = f"channel={data.channel}; fields={','.join(changed) or 'none'}"
    else:
        values = {k: v for k, v in asdict(data).items() if k != "submission_key"}
        lead = Lead(reference=new_reference(), needs_review=data.needs_review, **values)
        session.add(lead)
        outcome = "created"
        detail = f"channel={data.channel}; kind={data.kind}"
    session.add(
        LeadEvent(
            lead=lead,
            lead_reference=lead.reference,
            kind=outcome,
            actor=ASSISTANT,
            detail=detail,
        )
    )
    session.flush()
    session.add(LeadSubmission(key=data.submission_key, lead_id=lead.id))
    _notify(session, lead, notification, outcome)
    session.flush()
    return SaveResult(reference=lead.reference, outcome=outcome)


def save_lead(
    session_factory, data: LeadInput, notification: Notification, attempts: int = 3
) -> SaveResult:
    """Stores `data` in one transaction and returns its reference.

    A concurrent duplicate submission (unique key clash) or a reference
    collision is retried; database errors propagate to the caller.
    """
    for attempt in range(attempts):
        session: Session = session_factory()
        try:
            result = _store(session, data, notification)
            session.commit()
            return result
        except IntegrityError:
            session.rollback()
            if attempt == attempts - 1:
                raise
        finally:
            session.close()
    raise AssertionError("unreachable")
