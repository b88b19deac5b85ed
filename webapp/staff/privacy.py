"""Deleting personal data: one lead on request, or old data by retention.

A deleted lead leaves its audit trail (LeadEvent rows hold no personal
data) plus a `deleted` event; its row, notes, submission keys and the
transcript of its conversation go. The retention purge deletes closed and
not-a-fit leads, and conversations without a lead, that have seen no
activity for RETENTION_DAYS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.models import Lead, LeadEvent, LeadStatus, LeadSubmission, utcnow
from db.staff_models import LeadNote
from webapp.staff.transcript import (
    delete_conversation,
    epoch,
    events,
    has_events_table,
)

RETENTION_ACTOR = "retention"
PURGEABLE = (LeadStatus.CLOSED, LeadStatus.NOT_A_FIT)


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
    cutoff: datetime
    leads: int
    conversations: int
    events: int


def purge(
    session: Session, days: int, now: Optional[datetime] = None, dry_run: bool = False
) -> RetentionReport:
    """Deletes closed / not-a-fit leads and lead-less conversations whose last
    activity is older than `days`. Commits unless `dry_run`."""
    if days < 1:
        raise ValueError("retention needs at least one day")
    cutoff = (now or utcnow()) - timedelta(days=days)
    old_leads: List[Lead] = list(
        session.scalars(
            select(Lead)
            .where(Lead.status.in_(PURGEABLE))
            .where(Lead.updated_at < cutoff)
            .order_by(Lead.id)
        )
    )
    lead_count, event_count, conversation_count = len(old_leads), 0, 0
    old_senders: List[str] = []
    if has_events_table(session):
        last_activity = func.max(events.c.timestamp)
        old_senders = list(
            session.scalars(
                select(events.c.sender_id)
                .where(events.c.sender_id.not_in(select(Lead.sender_id)))
                .group_by(events.c.sender_id)
                .having(last_activity < epoch(cutoff))
            )
        )
        conversation_count = len(old_senders)
    if dry_run:
        session.rollback()
        return RetentionReport(cutoff, lead_count, conversation_count, 0)
    for lead in old_leads:
        event_count += delete_lead(
            session,
            lead,
            actor=RETENTION_ACTOR,
            reason=f"retention: {lead.status.value} for over {days} days",
            keep_shared=True,
        )
    for start in range(0, len(old_senders), 500):
        event_count += delete_conversation(session, old_senders[start : start + 500])
    session.commit()
    return RetentionReport(cutoff, lead_count, conversation_count, event_count)
