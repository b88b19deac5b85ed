"""Deleting personal data: on request (staff, or the person in chat), or by
retention. The one deletion path: every deletion goes through
`delete_conversation`, which records the tombstones (db/tombstones.py).

A deleted lead leaves its audit trail (LeadEvent rows hold no personal
data) plus a `deleted` event; its row, notes, submission keys and the
transcript of its conversation go. The retention purge deletes leads of
every status, each after its own period without activity
(RETENTION_DAYS_<STATUS>, default RETENTION_DAYS), and conversations
without a lead after RETENTION_DAYS. The notification worker runs it on its
own every RETENTION_INTERVAL_HOURS (notifications/worker.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, List, Mapping, Optional, Sequence

from sqlalchemy import delete, func, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from db.models import (
    Lead,
    LeadEvent,
    LeadStatus,
    LeadSubmission,
    RedFlagAlert,
    SmsContact,
    utcnow,
)
from db.rasa_events import events
from db.staff_models import AnswerReview, HandoffChat, LeadNote
from db.tombstones import record_deletion


def has_events_table(bind: Engine | Connection | Session) -> bool:
    """False until Rasa has run once against this database."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    return inspect(bind).has_table("events")


def delete_conversation(session: Session, sender_ids: Sequence[str]) -> int:
    """Deletes every event of these senders; returns how many rows went.

    First records their tombstones (db/tombstones.py), holding each
    conversation's lock until the caller commits: a message still being
    handled then writes nothing of the deleted conversation back.
    """
    if not sender_ids:
        return 0
    record_deletion(session, sender_ids)
    # Its red-flag alert goes too (the audit trail keeps that it was reviewed).
    session.execute(delete(RedFlagAlert).where(RedFlagAlert.sender_id.in_(sender_ids)))
    # And staff's checks of its answers (they point at its events).
    session.execute(delete(AnswerReview).where(AnswerReview.sender_id.in_(sender_ids)))
    # And its live-chat requests (a tel: id holds the number).
    session.execute(delete(HandoffChat).where(HandoffChat.sender_id.in_(sender_ids)))
    if not has_events_table(session):
        return 0
    result = session.execute(delete(events).where(events.c.sender_id.in_(sender_ids)))
    return result.rowcount or 0


RETENTION_ACTOR = "retention"


def delete_lead(
    session: Session, lead: Lead, actor: str, reason: str, keep_shared: bool = False
) -> int:
    """Deletes a lead's personal data and transcript; returns the number of
    transcript events deleted. The caller commits.

    On a person's request the whole conversation goes, even when another lead
    came from it; `keep_shared` (retention) keeps a transcript another lead
    still belongs to.
    """
    sender_id, reference, lead_id = lead.sender_id, lead.reference, lead.id
    shared = session.execute(
        select(Lead.id).where(Lead.sender_id == sender_id).where(Lead.id != lead_id)
    ).first()
    removed = 0
    if not (keep_shared and shared):
        removed = delete_conversation(session, [sender_id])
    session.execute(delete(LeadNote).where(LeadNote.lead_id == lead_id))
    session.execute(delete(LeadSubmission).where(LeadSubmission.lead_id == lead_id))
    session.delete(lead)
    session.flush()
    session.add(
        LeadEvent(
            lead_id=None,
            lead_reference=reference,
            kind="deleted",
            actor=actor,
            detail=f"{reason}; transcript events deleted={removed}",
        )
    )
    session.flush()
    return removed


@dataclass(frozen=True)
class RetentionReport:
    cutoff: datetime  # for conversations without a lead
    leads: int
    conversations: int
    events: int
    by_status: Dict[str, int]  # leads deleted (or that would be), per status


def periods_for(days: int, periods: Optional[Mapping[str, int]]) -> Dict[str, int]:
    """Each lead status's period: its own from `periods`, else `days`."""
    found = {status.value: days for status in LeadStatus}
    for status, value in (periods or {}).items():
        if status not in found:
            raise ValueError(f"retention: no lead status {status!r}")
        found[status] = value
    return found


def purge(
    session: Session,
    days: int,
    now: Optional[datetime] = None,
    dry_run: bool = False,
    periods: Optional[Mapping[str, int]] = None,
) -> RetentionReport:
    """Deletes leads of every status whose last activity is older than
    their status's period (`periods`, by status value; `days` for a status
    it does not name) and lead-less conversations older than `days`.
    Commits unless `dry_run`."""
    by_days = periods_for(days, periods)
    if min([days, *by_days.values()]) < 1:
        raise ValueError("retention needs at least one day")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    old_leads: List[Lead] = []
    for status in LeadStatus:
        old_leads += session.scalars(
            select(Lead)
            .where(Lead.status == status)
            .where(Lead.updated_at < now - timedelta(days=by_days[status.value]))
            .order_by(Lead.id)
        )
    by_status = {status.value: 0 for status in LeadStatus}
    for lead in old_leads:
        by_status[lead.status.value] += 1
    lead_count, event_count, conversation_count = len(old_leads), 0, 0
    old_senders: List[str] = []
    if has_events_table(session):
        last_activity = func.max(events.c.timestamp)
        old_senders = list(
            session.scalars(
                select(events.c.sender_id)
                .where(events.c.sender_id.not_in(select(Lead.sender_id)))
                .group_by(events.c.sender_id)
                .having(last_activity < cutoff.timestamp())
            )
        )
        conversation_count = len(old_senders)
    if dry_run:
        session.rollback()
        return RetentionReport(cutoff, lead_count, conversation_count, 0, by_status)
    for lead in old_leads:
        status = lead.status.value
        event_count += delete_lead(
            session,
            lead,
            actor=RETENTION_ACTOR,
            reason=f"retention: {status} for over {by_days[status]} days",
            keep_shared=True,
        )
    for start in range(0, len(old_senders), 500):
        event_count += delete_conversation(session, old_senders[start : start + 500])
    session.commit()
    return RetentionReport(
        cutoff, lead_count, conversation_count, event_count, by_status
    )


# ---- the person's own request, in chat (actions/privacy.py) ---------------

PERSON_ACTOR = "the person (chat)"


@dataclass(frozen=True)
class RequestReport:
    """What a person's own deletion request removed (counts only)."""

    reference: str  # PR-XXXXXX, told to the person and kept in the audit trail
    conversations: int
    leads: int
    events: int
    channel: str


def request_reference() -> str:
    """A reference for a privacy request, as red-flag alerts have (RF-...)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "PR-" + "".join(secrets.choice(alphabet) for _ in range(6))


def delete_on_request(
    session: Session,
    sender_ids: Sequence[str],
    channel: str,
    number: Optional[str] = None,
) -> RequestReport:
    """Deletes, at the person's own request, the conversations `sender_ids`
    (with their tombstones: the message asking is still being handled and
    must not bring them back), every lead from them and, when the request
    came from a number Twilio proved (`number`), every lead with that phone
    and its SMS contact record (kept only while it holds a STOP opt-out).
    Records the request in the audit trail with counts only; commits."""
    reference = request_reference()
    ids = list(dict.fromkeys(sender_ids))
    query = select(Lead).where(Lead.sender_id.in_(ids))
    if number:
        query = select(Lead).where((Lead.sender_id.in_(ids)) | (Lead.phone == number))
    leads: List[Lead] = list(session.scalars(query.order_by(Lead.id)))
    every_id = list(dict.fromkeys([*ids, *(lead.sender_id for lead in leads)]))
    stored = 0
    if has_events_table(session):
        stored = len(
            session.scalars(
                select(events.c.sender_id)
                .where(events.c.sender_id.in_(every_id))
                .distinct()
            ).all()
        )
    # Every conversation first: its locks are taken at once, in key order
    # (db/tombstones.py), and the leads' deletion finds its events gone.
    removed = delete_conversation(session, every_id)
    for lead in leads:
        removed += delete_lead(
            session,
            lead,
            actor=PERSON_ACTOR,
            reason=f"deleted at the person's own request in chat ({reference})",
        )
    if number:
        contact = session.get(SmsContact, number)
        if contact is not None and contact.opted_out_at is None:
            session.delete(contact)
    conversations = max(stored, 1)  # the one asking, stored or not yet
    session.add(
        LeadEvent(
            lead_id=None,
            lead_reference=reference,
            kind="privacy_request",
            actor=PERSON_ACTOR,
            detail=(
                f"privacy request: {conversations} conversation"
                f"{'' if conversations == 1 else 's'}, {len(leads)} "
                f"lead{'' if len(leads) == 1 else 's'} deleted, channel {channel}"
            ),
        )
    )
    session.commit()
    return RequestReport(reference, conversations, len(leads), removed, channel)
