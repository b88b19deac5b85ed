"""Deleting personal data: one lead on request, or old data by retention.

A deleted lead leaves its audit trail (LeadEvent rows hold no personal
data) plus a `deleted` event; its row, notes, submission keys and the
transcript of its conversation go. The retention purge deletes leads of
every status, each after its own period without activity
(RETENTION_DAYS_<STATUS>, default RETENTION_DAYS), and conversations
without a lead after RETENTION_DAYS. The notification worker runs it on its
own every RETENTION_INTERVAL_HOURS (notifications/worker.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, List, Mapping, Optional

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
                .having(last_activity < epoch(cutoff))
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
