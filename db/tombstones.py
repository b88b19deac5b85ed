"""Deleted conversations stay deleted: a tombstone per deleted conversation.

A message that was being handled when its conversation was deleted (by
staff, retention or the person's own request) holds a tracker read before
the deletion. Rasa's tracker store, seeing no stored rows, would write that
whole tracker back, and the conversation would return. So every deletion
records a tombstone (`conversation_tombstones`: a SHA-256 of the
conversation id and the time of deletion), and the project's tracker store
(rasa_extensions/tracker_store.py) writes nothing of a tracker holding an
event from before it. The next message starts a new conversation, with
only the events that came after the deletion.

Deleting and saving are serialised per conversation: on PostgreSQL both
take a transaction-scoped advisory lock on the conversation
(`lock_conversations`); on SQLite the tracker store checks for a tombstone
after its first write, when it holds the database's write lock, so a
deletion can neither come between the check and the commit nor be missed.

Times are epoch seconds, as Rasa stamps events: the web app and Rasa hosts
must keep their clocks in step (NTP), as any two servers sharing a database
do. Tombstones are kept `TOMBSTONE_DAYS` (a tracker in flight lives
seconds; one held in memory through a database outage, days at most).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from db.models import ConversationTombstone

TOMBSTONE_DAYS = 30
tombstones = ConversationTombstone.__table__


def sender_hash(sender_id: str) -> str:
    """The tombstone's key for a conversation id (no personal data kept)."""
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()


LOCK_CLASS = 0x494D5331  # "IMS1": the project's advisory locks, apart from others
LOCK_BUCKETS = 1024


def lock_key(sender_id: str) -> int:
    """The conversation's advisory lock (one of `LOCK_BUCKETS`): a deletion
    of thousands of conversations by retention then holds at most that many
    locks, well within PostgreSQL's shared lock table, and two conversations
    sharing a bucket only ever wait for each other's short transactions."""
    digest = hashlib.sha256(b"conversation:" + sender_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % LOCK_BUCKETS


def _dialect(connection: Any) -> str:
    """The dialect name of a Connection or a Session."""
    dialect = getattr(connection, "dialect", None)
    return (dialect or connection.get_bind().dialect).name


def lock_conversations(connection: Any, sender_ids: Iterable[str]) -> None:
    """On PostgreSQL, holds each conversation's advisory lock until the
    transaction of `connection` (a Connection or Session) ends, in key
    order. SQLite has one writer at a time anyway."""
    if _dialect(connection) != "postgresql":
        return
    for key in sorted({lock_key(s) for s in sender_ids}):
        connection.execute(select(func.pg_advisory_xact_lock(LOCK_CLASS, key)))


def record_deletion(
    connection: Any, sender_ids: Sequence[str], at: Optional[float] = None
) -> float:
    """Records that these conversations were deleted now (or `at`), after
    taking their locks, and purges tombstones past `TOMBSTONE_DAYS`. The
    caller deletes the events in the same transaction and commits."""
    at = time.time() if at is None else at
    if not sender_ids:
        return at
    lock_conversations(connection, sender_ids)
    insert = (postgresql if _dialect(connection) == "postgresql" else sqlite).insert
    rows = [{"sender_hash": sender_hash(s), "deleted_at": at} for s in sender_ids]
    for start in range(0, len(rows), 500):
        statement = insert(tombstones).values(rows[start : start + 500])
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[tombstones.c.sender_hash],
                set_={"deleted_at": statement.excluded.deleted_at},
            )
        )
    cutoff = at - TOMBSTONE_DAYS * 86400
    connection.execute(delete(tombstones).where(tombstones.c.deleted_at < cutoff))
    return at


def deleted_at(connection: Any, sender_id: str) -> Optional[float]:
    """When this conversation was last deleted, if it was."""
    return connection.execute(
        select(tombstones.c.deleted_at).where(
            tombstones.c.sender_hash == sender_hash(sender_id)
        )
    ).scalar()


def began_before(events: Iterable[Any], deleted: Optional[float]) -> bool:
    """True when a tracker's events (objects with a `timestamp`) include one
    from before the deletion at `deleted`: the tracker was read before it."""
    if deleted is None:
        return False
    return any((event.timestamp or 0) <= deleted for event in events)
