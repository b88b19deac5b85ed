"""Live handoff's state in the database (#15): who is available, the chat
requests, and their changes, each a conditional UPDATE.

A request (`HandoffChat`) is `waiting` until one staff member takes it
(`held`) or the profile's wait time runs out (`expired`); a held chat is
`ended` by staff. Every change is one `UPDATE ... WHERE status = <the status
it leaves>`, and the row count says whether it happened: of two staff
members who click "take" at once exactly one wins, on SQLite and on
PostgreSQL alike, and a take and a timeout cannot both win.

"Available" means a staff member switched live chat on in the staff app and
is signed in now (an unexpired, recently used `staff_sessions` row).
The conversation itself (the `handoff` slot, the messages) is Rasa's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from db.models import utcnow
from db.staff_models import HandoffChat, StaffAvailability, StaffSession, StaffUser

WAITING = "waiting"
HELD = "held"
ENDED = "ended"
EXPIRED = "expired"
OPEN = (WAITING, HELD)


def signed_in_and_available(
    session: Session, idle: timedelta, now: Optional[datetime] = None
) -> List[int]:
    """Ids of the staff members who take chats now: available, enabled, and
    with a sign-in that has neither expired nor been idle for `idle`."""
    now = now or utcnow()
    query = (
        select(StaffAvailability.user_id)
        .join(StaffUser, StaffUser.id == StaffAvailability.user_id)
        .join(StaffSession, StaffSession.user_id == StaffAvailability.user_id)
        .where(StaffAvailability.available.is_(True))
        .where(StaffUser.disabled_at.is_(None))
        .where(StaffSession.expires_at > now)
        .where(StaffSession.last_seen_at > now - idle)
        .distinct()
    )
    return sorted(session.scalars(query))


def anyone_signed_in(
    session: Session, idle: timedelta, now: Optional[datetime] = None
) -> bool:
    """Whether any enabled staff member is signed in now (available or not)."""
    now = now or utcnow()
    query = (
        select(StaffSession.id)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(StaffUser.disabled_at.is_(None))
        .where(StaffSession.expires_at > now)
        .where(StaffSession.last_seen_at > now - idle)
        .limit(1)
    )
    return session.execute(query).first() is not None


def is_available(session: Session, user_id: int) -> bool:
    row = session.get(StaffAvailability, user_id)
    return bool(row and row.available)


def set_available(session: Session, user_id: int, available: bool) -> None:
    """Switches live chat on or off for one staff member (caller commits)."""
    row = session.get(StaffAvailability, user_id)
    if row is None:
        session.add(
            StaffAvailability(user_id=user_id, available=available, changed_at=utcnow())
        )
    else:
        row.available = available
        row.changed_at = utcnow()


def open_chat(session: Session, sender_id: str) -> Optional[HandoffChat]:
    """The conversation's waiting or held request, if it has one."""
    query = (
        select(HandoffChat)
        .where(HandoffChat.sender_id == sender_id)
        .where(HandoffChat.status.in_(OPEN))
        .order_by(HandoffChat.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def request_chat(
    session: Session,
    sender_id: str,
    channel: Optional[str],
    wait: timedelta,
    now: Optional[datetime] = None,
) -> HandoffChat:
    """A waiting request for the conversation (its waiting one, if it has
    one: asking twice does not queue it twice). The caller commits.

    A waiting request whose wait has already run out (its reminder was lost
    and the worker has not ended it yet) is expired, and a new one made: it
    did expire, and the new request's time is when the person asked now, so
    the Chats page shows how long they have really waited. (Renewing the old
    row's wait instead would show the first request's time.)

    A chat still held is one staff never ended, from an earlier session (in
    the current one the assistant would not be asked: it is silent while a
    chat is held): it is ended, and the person waits anew, so nobody is
    attached to a chat no one is watching."""
    now = now or utcnow()
    _expire_due(session, sender_id, now)
    found = open_chat(session, sender_id)
    if found is not None and found.status == WAITING:
        return found
    if found is not None:
        found.status, found.ended_at = ENDED, now
    chat = HandoffChat(
        sender_id=sender_id,
        channel=(channel or "")[:32] or None,
        status=WAITING,
        requested_at=now,
        wait_until=now + wait,
    )
    session.add(chat)
    session.flush()
    return chat


def _change(session: Session, chat_id: int, leaves: str, values: dict, *extra) -> bool:
    result = session.execute(
        update(HandoffChat)
        .where(and_(HandoffChat.id == chat_id, HandoffChat.status == leaves, *extra))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def take(
    session: Session, chat_id: int, user_id: int, now: Optional[datetime] = None
) -> bool:
    """Staff member `user_id` takes a waiting chat: True for the one winner."""
    values = {"status": HELD, "taken_by": user_id, "taken_at": now or utcnow()}
    return _change(session, chat_id, WAITING, values)


def give_back(session: Session, chat_id: int, user_id: int) -> bool:
    """Undoes `take` when the person could not be told (Rasa unreachable)."""
    values = {"status": WAITING, "taken_by": None, "taken_at": None}
    return _change(session, chat_id, HELD, values, HandoffChat.taken_by == user_id)


def end(
    session: Session, chat_id: int, user_id: int, now: Optional[datetime] = None
) -> bool:
    """The staff member holding the chat ends it."""
    values = {"status": ENDED, "ended_at": now or utcnow()}
    return _change(session, chat_id, HELD, values, HandoffChat.taken_by == user_id)


def expire(session: Session, sender_id: str, now: Optional[datetime] = None) -> bool:
    """The wait ran out: the conversation's waiting request expires, if it
    is due and nobody took it meanwhile. True when it did."""
    expired = _expire_due(session, sender_id, now or utcnow())
    session.commit()
    return bool(expired)


def _expire_due(session: Session, sender_id: str, now: datetime) -> int:
    """Expires the conversation's waiting request whose wait is over (the
    caller commits): how many."""
    return _set_where(
        session,
        sender_id,
        (HandoffChat.status == WAITING, HandoffChat.wait_until <= now),
        {"status": EXPIRED, "ended_at": now},
    )


def end_open(session: Session, sender_id: str, now: Optional[datetime] = None) -> int:
    """Ends the conversation's waiting or held requests (its session ended:
    actions/session.py) and commits: how many. One conditional UPDATE, so a
    take at the same moment either lands first (and is ended) or finds the
    chat no longer waiting."""
    values = {"status": ENDED, "ended_at": now or utcnow()}
    ended = _set_where(session, sender_id, (HandoffChat.status.in_(OPEN),), values)
    session.commit()
    return ended


def _set_where(session: Session, sender_id: str, where: tuple, values: dict) -> int:
    result = session.execute(
        update(HandoffChat)
        .where(HandoffChat.sender_id == sender_id, *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@dataclass(frozen=True)
class ChatRow:
    """A request as the Chats page lists it."""

    id: int
    sender_id: str
    channel: Optional[str]
    status: str
    requested_at: datetime
    wait_until: datetime
    taken_by: Optional[int]
    taken_by_name: Optional[str]


def open_chats(session: Session) -> List[ChatRow]:
    """Waiting and held requests, oldest first."""
    query = (
        select(HandoffChat, StaffUser.username)
        .outerjoin(StaffUser, StaffUser.id == HandoffChat.taken_by)
        .where(HandoffChat.status.in_(OPEN))
        .order_by(HandoffChat.requested_at, HandoffChat.id)
    )
    return [
        ChatRow(
            id=chat.id,
            sender_id=chat.sender_id,
            channel=chat.channel,
            status=chat.status,
            requested_at=chat.requested_at,
            wait_until=chat.wait_until,
            taken_by=chat.taken_by,
            taken_by_name=name,
        )
        for chat, name in session.execute(query)
    ]
