"""Rasa's SQL tracker store, kept going while the database is away.

Rasa wraps every tracker store in `FailSafeTrackerStore`: when the database
is down, `retrieve` gives nothing (each message starts a new conversation)
and `save` goes to memory for good. FAQs are still answered, but a form
cannot get past its first question and the outage's turns never reach the
`events` table.

`ResilientSQLTrackerStore` keeps a conversation that could not be saved in
memory (up to `max_pending` conversations, oldest dropped first) and serves
it from there, so a conversation goes on through an outage (the lead form
reaches its end and says honestly that the lead could not be saved). At the
first save that works again, every pending conversation is written back.

Which events are new is decided by content, not only by count as Rasa does:
a conversation that had to start afresh during the outage is written in
full, after what the table already holds, instead of being sliced at the
length of the stored session. With several replicas, a conversation that
moved between them during an outage is written back from each; all turns
are kept, in the order the replicas write them back.

It keeps each conversation's tracker between its turns (the newest
`cache_size`, 256 by default): Rasa's store reads and replays every event
of the session on every turn, and writes after comparing row counts, so a
turn cost more the longer the conversation (docs/performance.md). A kept
tracker is served only while the table's rows for that sender are exactly
those it was read or written with (their count and newest id, one indexed
query), and while it holds no events added since: a turn written by
another replica (unless caught up, below), rows deleted by the staff
app, or a turn that failed before saving all make the next turn read the
table again. Saving a kept tracker writes only what was added to it since.

With several replicas behind round robin, a conversation's next turn often
lands on the other one, whose kept tracker then lacks a turn. When the
table has only gained rows since (the same deletion time, and exactly as
many more rows as there are rows newer than the kept newest id, the newest
of them the table's newest), those rows are read and applied to the kept
tracker, in id order, as Rasa's replay applies them: the lock store
serialises a conversation's turns, so they are the turns written
meanwhile, in order. A new session among them, a row dated before the
kept session's start (Rasa's read would leave it out), a deletion, or
counts that do not add up read the whole session again, as before. The
rows go into the kept tracker itself, not a copy, as a turn's events do:
rasa_extensions/history_cache.py keeps its replay and dialogue states for
these very event objects, so it works through the new events only.

Upstream: https://github.com/RasaHQ/rasa/issues/3243 (the in-memory
fallback, added in https://github.com/RasaHQ/rasa/pull/4699, loses the
outage's messages). `save` replaces Rasa 3.6.21's `SQLTrackerStore.save`
and its `_additional_events`, and uses its `session_scope`, `SQLEvent` and
`_event_query`, so it is tied to the rasa version in
rasa_extensions/__init__.py.

It also adds the indexes the staff app's reports need (`add_reporting_indexes`):
Rasa indexes `events` by sender only, so every "last 30 days" page scanned
the whole table.

Enabled in endpoints.yml with
`type: rasa_extensions.tracker_store.ResilientSQLTrackerStore`.
For PostgreSQL, add `?connect_timeout=5` to the URL so that an unreachable
(rather than stopped) server fails fast: the tracker store's queries run on
Rasa's event loop.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from itertools import islice
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import bindparam, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinic.private_files import private_file
from db.rasa_events import REPORTING_INDEXES, events
from db.tombstones import (
    began_before,
    lock_conversations,
    sender_hash,
    tombstones,
)

logger = logging.getLogger(__name__)


def add_reporting_indexes(engine: Engine) -> List[Text]:
    """Creates the missing reporting indexes on `events`
    (db/rasa_events.py); returns their names.

    Idempotent, so it runs at every start: a deployment made before the
    indexes existed gets them at its next restart (on a large table the
    first start takes a little longer, and PostgreSQL holds writes to the
    table while it builds them).
    """
    created = []
    for index in REPORTING_INDEXES:
        with engine.begin() as connection:
            existing = {
                i["name"] for i in sa_inspect(connection).get_indexes(events.name)
            }
            if index.name not in existing:
                index.create(connection)
                created.append(str(index.name))
    return created


# A sender's rows as (count, newest id, time of its latest deletion).
Stamp = Tuple[int, Optional[int], Optional[float]]
TOMBSTONE_RECHECK = 60.0  # seconds between looks for a table not yet migrated


def _sessions_in(events: Iterable[Event]) -> int:
    return sum(isinstance(event, SessionStarted) for event in events)


@dataclass
class _Cached:
    """A conversation as this process last read or wrote it."""

    tracker: DialogueStateTracker
    length: int  # len(tracker.events) then: a turn that failed adds events
    stamp: Stamp  # ResilientSQLTrackerStore._stamp then
    sessions: int  # SessionStarted events among its first `length` events

    def fresh(self, stamp: Stamp) -> bool:
        """The table holds what this tracker holds, and nothing more."""
        return stamp == self.stamp and len(self.tracker.events) == self.length


class ResilientSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store, keeping each conversation between its turns
    and holding conversations in memory while it cannot write."""

    def __init__(
        self,
        *args: Any,
        max_pending: int = 10_000,
        cache_size: int = 256,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and database not in (None, ":memory:"):
            private_file(database)  # if Rasa made it: the conversations, 0600
        self.max_pending = int(max_pending)
        self._pending: OrderedDict[Text, List[Dict[Text, Any]]] = OrderedDict()
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[Text, _Cached] = OrderedDict()
        self._tombstones_at: Optional[float] = None  # when found missing
        self._stamp_queries: Dict[Any, Any] = {}  # by `honour`, and "newer"
        self._has_tombstones = False
        try:
            created = add_reporting_indexes(self.engine)
        except SQLAlchemyError as error:  # e.g. another replica built it first
            logger.warning(
                "Tracker store: reporting indexes not checked (%s)",
                type(error).__name__,
            )
        else:
            if created:
                logger.info("Tracker store: created indexes %s", ", ".join(created))

    @property
    def domain(self) -> Any:
        return self._domain

    @domain.setter
    def domain(self, value: Any) -> None:
        """A new model's domain: trackers kept with the old slots go."""
        self._domain = value
        if getattr(self, "_cache", None):
            self._cache.clear()

    @property
    def pending(self) -> List[Text]:
        """Sender ids whose latest events are not yet in the database."""
        return list(self._pending)

    def _from_memory(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        events = self._pending.get(sender_id)
        if events is None or self.domain is None:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    def _tombstones(self) -> bool:
        """Whether `conversation_tombstones` exists (db/tombstones.py). It is
        made by the project's migrations (`python -m db.migrate`, run before
        Rasa by every run script); a database not yet migrated is looked at
        again every minute, and deletions are not honoured meanwhile."""
        if self._has_tombstones:
            return True
        now = time.monotonic()
        if self._tombstones_at is not None and now - self._tombstones_at < (
            TOMBSTONE_RECHECK
        ):
            return False
        self._has_tombstones = sa_inspect(self.engine).has_table(tombstones.name)
        if not self._has_tombstones:
            self._tombstones_at = now
            logger.error(
                "Tracker store: no %s table (run python -m db.migrate): a "
                "deleted conversation can be written back",
                tombstones.name,
            )
        return self._has_tombstones

    def _stamp(self, connection: Any, sender_id: Text) -> Stamp:
        """How many rows the sender has, the newest row's id and when the
        conversation was last deleted: any write (from any replica) or
        deletion changes it. One indexed query (`connection`: a Session or
        a Connection)."""
        honour = self._tombstones()
        parameters = {"stamp_sender_id": sender_id}
        if honour:
            parameters["stamp_sender_hash"] = sender_hash(sender_id)
        row = connection.execute(self._stamp_query(honour), parameters).one()
        return int(row[0]), row[1], row[2] if len(row) > 2 else None

    def _stamp_query(self, honour: bool) -> Any:
        """The stamp's SELECT, built once per store with bound parameters
        (`stamp_sender_id`, and `stamp_sender_hash` for the tombstone when
        `honour`). It runs three times a turn: building the statement anew
        each time (its construct, then its cache key from scratch) cost more
        CPU than running it, 0.6 ms a stamp on SQLite and 0.5 on PostgreSQL
        against 0.3 and 0.1 for the statement built once."""
        query = self._stamp_queries.get(honour)
        if query is None:
            table = self.SQLEvent.__table__
            columns: List[Any] = [func.count(table.c.id), func.max(table.c.id)]
            if honour:
                columns.append(
                    select(tombstones.c.deleted_at)
                    .where(tombstones.c.sender_hash == bindparam("stamp_sender_hash"))
                    .scalar_subquery()
                )
            query = select(*columns).where(
                table.c.sender_id == bindparam("stamp_sender_id")
            )
            self._stamp_queries[honour] = query
        return query

    def _sessions(self, tracker: DialogueStateTracker) -> int:
        """How many sessions `tracker` holds: for the kept tracker, those it
        held when kept and any begun since (its events are only appended
        to), not a count over the whole conversation at every save."""
        cached = self._cache.get(tracker.sender_id)
        events = tracker.events
        if (
            cached is not None
            and cached.tracker is tracker
            and len(events) >= cached.length
        ):
            new = islice(events, cached.length, None)
            return cached.sessions + _sessions_in(new)
        return _sessions_in(events)

    def _remember(
        self,
        tracker: DialogueStateTracker,
        stamp: Stamp,
        sessions: Optional[int] = None,
    ) -> None:
        if self.cache_size <= 0:
            return
        sender_id = tracker.sender_id
        if sessions is None:
            sessions = self._sessions(tracker)
        self._cache.pop(sender_id, None)
        self._cache[sender_id] = _Cached(tracker, len(tracker.events), stamp, sessions)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        if sender_id in self._pending:  # newer than anything in the table
            return self._from_memory(sender_id)
        stamp = None
        try:
            if self.cache_size > 0:  # 0: Rasa's way, read and replay every turn
                with self.engine.connect() as connection:
                    stamp = self._stamp(connection, sender_id)
                    cached = self._cache.get(sender_id)
                    if cached is not None and cached.fresh(stamp):
                        self._cache.move_to_end(sender_id)
                        return cached.tracker
                    if cached is not None and self._catch_up(connection, cached, stamp):
                        self._remember(cached.tracker, stamp)
                        return cached.tracker
            tracker = await super().retrieve(sender_id)
        except SQLAlchemyError as error:
            logger.error("Tracker store unavailable (%s)", type(error).__name__)
            self._cache.pop(sender_id, None)
            return None
        if tracker is None:
            self._cache.pop(sender_id, None)
        elif stamp is not None:
            self._remember(tracker, stamp)
        return tracker

    def _catch_up(self, connection: Any, cached: _Cached, stamp: Stamp) -> bool:
        """Applies to the kept tracker the rows another process appended
        since it was kept, when that is all that changed (module docstring);
        False, leaving the tracker as it was, in every other case."""
        count, newest, deleted = stamp
        kept_count, kept_newest, kept_deleted = cached.stamp
        tracker = cached.tracker
        if (
            deleted != kept_deleted
            or kept_newest is None
            or newest is None
            or count <= kept_count
            or newest <= kept_newest
            or len(tracker.events) != cached.length
        ):
            return False
        rows = connection.execute(
            self._newer_query(),
            {"newer_sender_id": tracker.sender_id, "newer_after": kept_newest},
        ).all()
        if len(rows) != count - kept_count or rows[-1][0] != newest:
            return False  # rows deleted too, or written since the stamp
        new = deserialise_events([json.loads(row[1]) for row in rows])
        if len(new) != len(rows) or _sessions_in(new):
            return False
        started = next(
            (e for e in reversed(tracker.events) if isinstance(e, SessionStarted)),
            None,
        )
        if started is not None and any(e.timestamp < started.timestamp for e in new):
            return False  # Rasa's read of the session would leave it out
        for event in new:  # should one fail, `length` no longer matches
            tracker.update(event)
        return True

    def _newer_query(self) -> Any:
        """The sender's rows after a given id, oldest first (`newer_sender_id`,
        `newer_after`), built once as `_stamp_query` is."""
        query = self._stamp_queries.get("newer")
        if query is None:
            table = self.SQLEvent.__table__
            query = (
                select(table.c.id, table.c.data)
                .where(
                    table.c.sender_id == bindparam("newer_sender_id"),
                    table.c.id > bindparam("newer_after"),
                )
                .order_by(table.c.id)
            )
            self._stamp_queries["newer"] = query
        return query

    async def retrieve_full_tracker(
        self, conversation_id: Text
    ) -> Optional[DialogueStateTracker]:
        if conversation_id in self._pending:
            return self._from_memory(conversation_id)
        return await super().retrieve_full_tracker(conversation_id)

    async def keys(self) -> Iterable[Text]:
        stored = await super().keys()
        return list(dict.fromkeys([*stored, *self._pending]))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        try:
            stamp = self._write(tracker)
        except SQLAlchemyError as error:
            self._cache.pop(sender_id, None)
            self._pending.pop(sender_id, None)
            self._pending[sender_id] = [event.as_dict() for event in tracker.events]
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
                logger.error("Tracker store: dropped an unsaved conversation")
            logger.error(
                "Tracker store unavailable (%s); %d conversation(s) held in memory",
                type(error).__name__,
                len(self._pending),
            )
            return
        self._pending.pop(sender_id, None)
        sessions = self._sessions(tracker)
        if stamp is None:  # deleted while in flight: nothing of it kept
            self._cache.pop(sender_id, None)
        elif sessions > 1:
            # A new session began in this tracker: the next turn reads only
            # that session from the table, as Rasa does, instead of carrying
            # the earlier ones along in memory.
            self._cache.pop(sender_id, None)
        else:
            self._remember(tracker, stamp, sessions)
        self._write_back()

    def _write_back(self) -> None:
        """Writes pending conversations, stopping at the first failure."""
        while self._pending:
            sender_id = next(iter(self._pending))
            tracker = self._from_memory(sender_id)
            try:
                if tracker is not None:
                    self._write(tracker)
            except SQLAlchemyError:
                return
            self._pending.pop(sender_id, None)
            self._cache.pop(sender_id, None)
            logger.info("Tracker store: wrote back a conversation held in memory")

    def _write(self, tracker: DialogueStateTracker) -> Optional[Stamp]:
        """Writes the tracker's new events; returns the sender's stamp as
        this transaction leaves it (taken before the commit, so a change
        made by someone else after it is seen at the next retrieve).

        Writes nothing, and returns None, when the conversation was deleted
        after this tracker began (db/tombstones.py): its tombstone is looked
        for under the conversation's lock on PostgreSQL, and after the first
        insert on SQLite (the database's write lock is held from then on),
        so a deletion cannot slip in between the look and the commit.

        The new rows go in one multi-row INSERT of Rasa's own table, and
        the stamp after it is one query that also reads the tombstone: a
        kept conversation's turn costs three statements (stamp, insert,
        stamp) and a commit, where one ORM object, INSERT and flush per
        event and five more queries cost about 4 ms of CPU a turn.
        """
        honour = self._tombstones()
        with self.session_scope() as session:
            if honour:
                lock_conversations(session, [tracker.sender_id])
            rows = [
                self._row(tracker.sender_id, event)
                for event in self._additional_events(session, tracker)
            ]
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            stamp = self._stamp(session, tracker.sender_id)
            if honour and rows and began_before(tracker.events, stamp[2]):
                session.rollback()
                logger.info(
                    "Tracker store: a conversation deleted while a message was "
                    "handled was not written back"
                )
                return None
            session.commit()
        return stamp

    @staticmethod
    def _row(sender_id: Text, event: Event) -> Dict[Text, Any]:
        """The `events` row of one event, as Rasa's SQLTrackerStore.save
        writes it."""
        data = event.as_dict()
        intent = (data.get("parse_data") or {}).get("intent") or {}
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": intent.get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    def _additional_events(
        self, session: Any, tracker: DialogueStateTracker
    ) -> Iterable[Event]:
        """The tracker's events the table does not hold yet.

        When this process read or last wrote this very tracker and the table
        has not changed since (its stamp), the new events are those added
        after that: no need to look at the stored rows at all.

        Otherwise the table's latest session is looked for in the tracker by
        its first event: where the tracker holds it, the tracker continues
        what is stored and only what follows the stored rows is new (a
        tracker made in this process begins with the `action_session_start`
        that precedes the stored session's first row); where it does not,
        the conversation started afresh while the table was out of reach and
        every event is new.
        """
        events = list(tracker.events)
        cached = self._cache.get(tracker.sender_id)
        unchanged = (
            cached is not None
            and cached.tracker is tracker
            and self._stamp(session, tracker.sender_id) == cached.stamp
        )
        if cached is not None and unchanged:
            return events[cached.length :]
        query = self._event_query(
            session, tracker.sender_id, fetch_events_from_all_sessions=False
        )
        stored = query.count()
        if not stored or not events:
            return events
        first = json.loads(query.first().data)
        for index, event in enumerate(events):
            if event.type_name == first.get("event") and event.timestamp == first.get(
                "timestamp"
            ):
                return events[index + stored :]
        return events
