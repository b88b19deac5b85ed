"""Conversations from Rasa's SQL tracker store (`events`, same database).

Rasa owns the table (db/rasa_events.py describes it): the staff app only
reads it, and deletes a person's rows on request or by retention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence

from sqlalchemy import (
    case,
    func,
    select,
)
from sqlalchemy.orm import Session

from db.deletion import delete_conversation, has_events_table  # noqa: F401
from db.models import Lead
from db.rasa_events import RED_FLAG_ACTION, event_data, events, red_flag_event
from webapp.staff import labels

FALLBACK_INTENT = "nlu_fallback"
LEAD_FORM_START = "action_start_lead"


def to_datetime(timestamp: Optional[float]) -> Optional[datetime]:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def epoch(value: datetime) -> float:
    return value.timestamp()


@dataclass
class Turn:
    """One line of a transcript, as the staff page shows it."""

    kind: str  # user, bot, session, marker, flag (a red-flag marker)
    at: Optional[datetime]
    text: str = ""
    channel: Optional[str] = None
    medium: Optional[str] = None  # sms / whatsapp, for a Twilio message
    buttons: List[str] = field(default_factory=list)
    clicked: bool = False  # the person pressed a button (text is its title)
    image: Optional[str] = None
    author: Optional[str] = None  # the staff member, for kind "staff"


def _buttons(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    extra = data.get("data") or {}
    found = []
    for item in (extra.get("buttons") or []) + (extra.get("quick_replies") or []):
        if isinstance(item, dict) and item.get("title"):
            found.append(item)
    return found


def build_transcript(rows: Iterable[Any]) -> List[Turn]:
    """Turns event rows (in order) into what was said, by whom, when."""
    turns: List[Turn] = []
    titles: Dict[str, str] = {}  # button payload -> title, as last offered
    for row in rows:
        data = event_data(row.data)
        at = to_datetime(row.timestamp)
        if row.type_name == "user":
            text = str(data.get("text") or "")
            # An intent payload ("/request_human") is never typed: the person
            # pressed the button that sends it. A plain-text payload is shown
            # as sent, since typing it looks the same.
            title = titles.get(text) if text.startswith("/") else None
            clicked = bool(title)
            turns.append(
                Turn(
                    kind="user",
                    at=at,
                    text=title if title else text,
                    channel=data.get("input_channel"),
                    medium=labels.medium(data),
                    clicked=clicked,
                )
            )
        elif row.type_name == "bot":
            buttons = _buttons(data)
            extra = data.get("data") or {}
            image = extra.get("image") if isinstance(extra.get("image"), str) else None
            # A staff member's message in a live chat (webapp/staff/chats.py).
            staff = (data.get("metadata") or {}).get("handoff")
            if isinstance(staff, dict) and staff.get("staff"):
                turns.append(
                    Turn(
                        kind="staff",
                        at=at,
                        text=str(data.get("text") or ""),
                        author=str(staff["staff"]),
                    )
                )
                continue
            turns.append(
                Turn(
                    kind="bot",
                    at=at,
                    text=str(data.get("text") or ""),
                    buttons=[str(b["title"]) for b in buttons],
                    image=image,
                )
            )
            for button in buttons:
                if isinstance(button.get("payload"), str):
                    titles[button["payload"]] = str(button["title"])
        elif row.type_name == "session_started":
            turns.append(Turn(kind="session", at=at, text="New session"))
        elif row.type_name == "action" and row.action_name == RED_FLAG_ACTION:
            turns.append(Turn(kind="flag", at=at, text="Marked as a red flag"))
        elif row.type_name == "action" and row.action_name == LEAD_FORM_START:
            turns.append(Turn(kind="marker", at=at, text="Lead form started"))
        elif (
            row.type_name == "slot"
            and row.action_name == "red_flag"
            and data.get("value")
        ):
            label = labels.red_flag(str(data["value"]))
            turns.append(Turn(kind="flag", at=at, text=f"Red flag: {label}"))
    return turns


def transcript(session: Session, sender_id: str) -> List[Turn]:
    """The whole conversation of `sender_id` (every session), oldest first."""
    if not has_events_table(session):
        return []
    rows = session.execute(
        select(
            events.c.type_name,
            events.c.timestamp,
            events.c.action_name,
            events.c.data,
        )
        .where(events.c.sender_id == sender_id)
        .where(
            events.c.type_name.in_(("user", "bot", "session_started", "action", "slot"))
        )
        .order_by(events.c.id)
    )
    return build_transcript(rows)


@dataclass(frozen=True)
class ConversationRow:
    sender_id: str
    started: Optional[datetime]
    last: Optional[datetime]
    messages: int
    red_flag: bool
    channel: Optional[str]
    medium: Optional[str]  # sms / whatsapp, for a Twilio conversation
    first_message: str
    references: List[str]


@dataclass(frozen=True)
class ConversationPage:
    rows: List[ConversationRow]
    total: int


def _summary_query(show: str, since: Optional[datetime], until: Optional[datetime]):  # noqa: ANN202 - a SQLAlchemy select
    user_messages = func.sum(case((events.c.type_name == "user", 1), else_=0))
    flagged = func.max(case((red_flag_event, 1), else_=0))
    query = (
        select(
            events.c.sender_id,
            func.min(events.c.timestamp).label("started"),
            func.max(events.c.timestamp).label("last"),
            user_messages.label("messages"),
            flagged.label("red_flag"),
        )
        .group_by(events.c.sender_id)
        .having(user_messages > 0)
    )
    if show == "no_lead":
        query = query.where(events.c.sender_id.not_in(select(Lead.sender_id)))
    elif show == "red_flag":
        query = query.having(flagged == 1)
    if since is not None:
        # "Active since": any event at or after `since`. Asked as a WHERE on
        # the senders with such an event, which the time index answers,
        # rather than a HAVING on every conversation's latest event.
        active = select(events.c.sender_id).where(events.c.timestamp >= epoch(since))
        query = query.where(events.c.sender_id.in_(active))
    if until is not None:
        query = query.having(func.min(events.c.timestamp) < epoch(until))
    return query


def conversations(
    session: Session,
    show: str = "all",
    since: Optional[datetime] = None,
    until: Optional[datetime] = None,
    offset: int = 0,
    limit: int = 50,
) -> ConversationPage:
    """Conversations, latest activity first: all, lead-less or red-flagged."""
    if not has_events_table(session):
        return ConversationPage(rows=[], total=0)
    summary = _summary_query(show, since, until).subquery()
    total = session.execute(select(func.count()).select_from(summary)).scalar_one()
    rows = session.execute(
        select(summary)
        .order_by(summary.c.last.desc(), summary.c.sender_id)
        .offset(offset)
        .limit(limit)
    ).all()
    senders = [row.sender_id for row in rows]
    first_user = (
        select(func.min(events.c.id))
        .where(events.c.type_name == "user")
        .where(events.c.sender_id.in_(senders))
        .group_by(events.c.sender_id)
    )
    firsts = {
        row.sender_id: event_data(row.data)
        for row in session.execute(
            select(events.c.sender_id, events.c.data).where(events.c.id.in_(first_user))
        )
    }
    references: Dict[str, List[str]] = {}
    for sender, reference in session.execute(
        select(Lead.sender_id, Lead.reference)
        .where(Lead.sender_id.in_(senders))
        .order_by(Lead.created_at)
    ):
        references.setdefault(sender, []).append(reference)
    return ConversationPage(
        rows=[
            ConversationRow(
                sender_id=row.sender_id,
                started=to_datetime(row.started),
                last=to_datetime(row.last),
                messages=int(row.messages or 0),
                red_flag=bool(row.red_flag),
                channel=firsts.get(row.sender_id, {}).get("input_channel"),
                medium=labels.medium(firsts.get(row.sender_id, {})),
                first_message=str(firsts.get(row.sender_id, {}).get("text") or ""),
                references=references.get(row.sender_id, []),
            )
            for row in rows
        ],
        total=total,
    )


def media(session: Session, sender_ids: Sequence[str]) -> Dict[str, str]:
    """sms or whatsapp, per Twilio conversation of `sender_ids` (from its
    first message's metadata): a lead stores only Rasa's channel, `twilio`."""
    if not sender_ids or not has_events_table(session):
        return {}
    first_user = (
        select(func.min(events.c.id))
        .where(events.c.type_name == "user")
        .where(events.c.sender_id.in_(sorted(set(sender_ids))))
        .group_by(events.c.sender_id)
    )
    found = {}
    for sender, raw in session.execute(
        select(events.c.sender_id, events.c.data).where(events.c.id.in_(first_user))
    ):
        medium = labels.medium(event_data(raw))
        if medium:
            found[sender] = medium
    return found


def is_red_flagged(session: Session, sender_id: str) -> bool:
    if not has_events_table(session):
        return False
    query = (
        select(events.c.id)
        .where(events.c.sender_id == sender_id)
        .where(red_flag_event)
        .limit(1)
    )
    return session.execute(query).first() is not None
