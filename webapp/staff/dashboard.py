"""Figures for the dashboard over a period: what people ask, where the
assistant falls short, and how conversations become bookings.

Everything is counted in the database except the per-day buckets, which
depend on the clinic's time zone (daylight saving) and are counted here.
JSON fields of Rasa's events are read with the database's own JSON functions
(SQLite json_extract, PostgreSQL jsonb), so no event is parsed in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, distinct, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from clinic import faq_keys
from db.models import Lead, LeadEvent, LeadStatus
from webapp.staff import labels
from webapp.staff.transcript import (
    FALLBACK_INTENT,
    LEAD_FORM_START,
    epoch,
    events,
    has_events_table,
    red_flag_event,
    to_datetime,
)

MAX_DAYS = 366
TOP = 10


def json_text(session: Session, *path: str):  # noqa: ANN201 - SQL expression
    """The text at `path` inside events.data, in this database's dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return cast(events.c.data, JSONB)[path].astext
    if dialect == "sqlite":
        return cast(
            func.json_extract(events.c.data, "$." + ".".join(f'"{p}"' for p in path)),
            String,
        )
    raise NotImplementedError(f"the dashboard does not support {dialect}")


@dataclass
class Dashboard:
    start: date
    end: date
    days: List[Tuple[date, int]] = field(default_factory=list)
    conversations: int = 0
    user_messages: int = 0
    fallbacks: int = 0
    fallback_messages: List[Tuple[str, int]] = field(default_factory=list)
    topics: List[Tuple[str, int]] = field(default_factory=list)
    red_flag_conversations: int = 0
    red_flag_categories: List[Tuple[str, int]] = field(default_factory=list)
    red_flag_senders: List[Tuple[str, Optional[datetime]]] = field(default_factory=list)
    conversation_channels: List[Tuple[str, int]] = field(default_factory=list)
    lead_channels: List[Tuple[str, int]] = field(default_factory=list)
    funnel: List[Tuple[str, int]] = field(default_factory=list)

    @property
    def fallback_rate(self) -> Optional[float]:
        if not self.user_messages:
            return None
        return self.fallbacks / self.user_messages


def _in_period(since: datetime, until: datetime):  # noqa: ANN202
    return and_(events.c.timestamp >= epoch(since), events.c.timestamp < epoch(until))


def build(session: Session, start: date, end: date, zone: ZoneInfo) -> Dashboard:
    """Every figure of the dashboard for the days start..end (inclusive)."""
    since = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    board = Dashboard(start=start, end=end)
    _lead_figures(session, board, since, until)
    if not has_events_table(session):
        board.days = [(start + timedelta(days=n), 0) for n in range(_span(start, end))]
        board.funnel = [("Conversations", 0), ("Lead form started", 0)] + board.funnel
        return board

    period = _in_period(since, until)
    user = and_(events.c.type_name == "user", period)

    per_day: Dict[date, set] = {}
    for sender, timestamp in session.execute(
        select(events.c.sender_id, events.c.timestamp).where(user)
    ):
        day = datetime.fromtimestamp(timestamp, tz=zone).date()
        per_day.setdefault(day, set()).add(sender)
    board.days = [
        (day, len(per_day.get(day, ())))
        for day in (start + timedelta(days=n) for n in range(_span(start, end)))
    ]

    board.conversations, board.user_messages = session.execute(
        select(func.count(distinct(events.c.sender_id)), func.count()).where(user)
    ).one()
    board.fallbacks = session.execute(
        select(func.count()).where(user, events.c.intent_name == FALLBACK_INTENT)
    ).scalar_one()

    text = json_text(session, "text")
    board.fallback_messages = [
        (message, count)
        for message, count in session.execute(
            select(text, func.count().label("n"))
            .where(user, events.c.intent_name == FALLBACK_INTENT)
            .group_by(text)
            .order_by(func.count().desc(), text)
            .limit(25)
        )
    ]

    key = json_text(session, *faq_keys.ANSWER_KEY_PATH)
    board.topics = [
        (labels.topic(topic), count)
        for topic, count in session.execute(
            select(key, func.count().label("n"))
            .where(user, events.c.intent_name == "faq")
            .group_by(key)
            .order_by(func.count().desc(), key)
            .limit(TOP)
        )
    ]

    flagged = and_(red_flag_event, period)
    board.red_flag_conversations = session.execute(
        select(func.count(distinct(events.c.sender_id))).where(flagged)
    ).scalar_one()
    value = json_text(session, "value")
    board.red_flag_categories = [
        (labels.red_flag(category), count)
        for category, count in session.execute(
            select(value, func.count(distinct(events.c.sender_id)))
            .where(events.c.type_name == "slot", events.c.action_name == "red_flag")
            .where(period, value.is_not(None))
            .group_by(value)
            .order_by(func.count(distinct(events.c.sender_id)).desc(), value)
        )
    ]
    board.red_flag_senders = [
        (sender, to_datetime(last))
        for sender, last in session.execute(
            select(events.c.sender_id, func.max(events.c.timestamp))
            .where(flagged)
            .group_by(events.c.sender_id)
            .order_by(func.max(events.c.timestamp).desc())
            .limit(10)
        )
    ]

    channel = json_text(session, "input_channel")
    medium = json_text(session, "metadata", labels.MEDIUM_KEY)
    senders = func.count(distinct(events.c.sender_id))
    per_channel: Dict[str, int] = {}
    for name, medium_, count in session.execute(
        select(channel, medium, senders).where(user).group_by(channel, medium)
    ):
        label = labels.channel(name or "unknown", medium_)
        per_channel[label] = per_channel.get(label, 0) + count
    board.conversation_channels = _by_count(per_channel)

    started = session.execute(
        select(func.count(distinct(events.c.sender_id))).where(
            events.c.type_name == "action",
            events.c.action_name == LEAD_FORM_START,
            period,
        )
    ).scalar_one()
    board.funnel = [
        ("Conversations", board.conversations),
        ("Lead form started", started),
    ] + board.funnel
    return board


def _by_count(counts: Dict[str, int]) -> List[Tuple[str, int]]:
    """Most first, then by name."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _span(start: date, end: date) -> int:
    return (end - start).days + 1


def _reached(status: LeadStatus):  # noqa: ANN202
    """The lead is, or once was, at `status` (by its audit trail)."""
    return or_(
        Lead.status == status,
        exists().where(
            LeadEvent.lead_id == Lead.id,
            LeadEvent.kind == "status_changed",
            LeadEvent.detail.like(f"%to={status.value}"),
        ),
    )


def _lead_figures(
    session: Session, board: Dashboard, since: datetime, until: datetime
) -> None:
    period = and_(Lead.created_at >= since, Lead.created_at < until)
    per_channel: Dict[str, int] = {}
    for name, count in session.execute(
        select(Lead.channel, func.count(Lead.id)).where(period).group_by(Lead.channel)
    ):
        label = labels.channel(name)
        per_channel[label] = per_channel.get(label, 0) + count
    board.lead_channels = _by_count(per_channel)
    saved = session.execute(select(func.count(Lead.id)).where(period)).scalar_one()
    contacted = session.execute(
        select(func.count(Lead.id)).where(
            period,
            or_(_reached(LeadStatus.CONTACTED), _reached(LeadStatus.BOOKED)),
        )
    ).scalar_one()
    booked = session.execute(
        select(func.count(Lead.id)).where(period, _reached(LeadStatus.BOOKED))
    ).scalar_one()
    board.funnel = [("Lead saved", saved), ("Contacted", contacted), ("Booked", booked)]
