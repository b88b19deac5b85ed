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
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from db.rasa_events import REPORTING_INDEXES, events

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


class ResilientSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store that holds conversations in memory while it cannot write."""

    def __init__(self, *args: Any, max_pending: int = 10_000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_pending = int(max_pending)
        self._pending: OrderedDict[Text, List[Dict[Text, Any]]] = OrderedDict()
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
    def pending(self) -> List[Text]:
        """Sender ids whose latest events are not yet in the database."""
        return list(self._pending)

    def _from_memory(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        events = self._pending.get(sender_id)
        if events is None or self.domain is None:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        if sender_id in self._pending:  # newer than anything in the table
            return self._from_memory(sender_id)
        try:
            return await super().retrieve(sender_id)
        except SQLAlchemyError as error:
            logger.error("Tracker store unavailable (%s)", type(error).__name__)
            return None

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
            self._write(tracker)
        except SQLAlchemyError as error:
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
            logger.info("Tracker store: wrote back a conversation held in memory")

    def _write(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                intent = (data.get("parse_data") or {}).get("intent") or {}
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=intent.get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()

    def _additional_events(
        self, session: Any, tracker: DialogueStateTracker
    ) -> Iterable[Event]:
        """The tracker's events the table does not hold yet.

        The table's latest session is compared with the tracker's first
        event: if they start alike, the tracker continues what is stored and
        only its tail is new; otherwise the conversation started afresh
        while the table was out of reach and every event is new.
        """
        query = self._event_query(
            session, tracker.sender_id, fetch_events_from_all_sessions=False
        )
        stored = query.count()
        events = list(tracker.events)
        if not stored or not events:
            return events
        first = json.loads(query.first().data)
        continues = (
            first.get("event") == events[0].type_name
            and first.get("timestamp") == events[0].timestamp
        )
        return events[stored:] if continues else events
