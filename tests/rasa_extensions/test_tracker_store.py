"""The tracker store: its reporting indexes on Rasa's `events` table, and
the tracker it keeps between a conversation's turns."""

from __future__ import annotations

from typing import Set

import pytest
from sqlalchemy import create_engine, inspect, text

from rasa_extensions.tracker_store import (
    ResilientSQLTrackerStore,
    add_reporting_indexes,
)

REPORTING = {"ix_events_timestamp", "ix_events_type_name_timestamp"}


def index_names(url: str) -> Set[str]:
    engine = create_engine(url, future=True)
    try:
        return {i["name"] for i in inspect(engine).get_indexes("events")}
    finally:
        engine.dispose()


def test_the_tracker_store_adds_the_indexes_once(database_url):
    store = ResilientSQLTrackerStore(host=database_url)
    try:
        assert index_names(database_url) >= REPORTING
        assert add_reporting_indexes(store.engine) == []  # already there
    finally:
        store.engine.dispose()
    again = ResilientSQLTrackerStore(host=database_url)  # a restart
    again.engine.dispose()
    assert index_names(database_url) >= REPORTING


def test_a_table_made_before_the_indexes_gets_them(database_url):
    from rasa.core.tracker_store import SQLTrackerStore

    plain = SQLTrackerStore(host=database_url)  # as an older deployment left it
    plain.engine.dispose()
    assert not index_names(database_url) & REPORTING
    store = ResilientSQLTrackerStore(host=database_url)
    store.engine.dispose()
    assert index_names(database_url) >= REPORTING


def test_rasas_table_definition_is_left_alone():
    from rasa.core.tracker_store import SQLTrackerStore

    names = {i.name for i in SQLTrackerStore.SQLEvent.__table__.indexes}
    assert not names & REPORTING


@pytest.mark.parametrize(
    "where, index",
    [
        ("type_name = 'user' AND timestamp >= 1 AND timestamp < 2",
         "ix_events_type_name_timestamp"),  # the dashboard's user messages
        ("timestamp >= 1", "ix_events_timestamp"),  # "active since" lists
    ],
)  # fmt: skip
def test_time_queries_use_the_indexes(tmp_path, where, index):
    """SQLite's plan for the staff app's time filters (PostgreSQL's planner
    rightly scans a table this small, so its plan would say nothing)."""
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    ResilientSQLTrackerStore(host=url).engine.dispose()
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        plan = connection.execute(
            text(f"EXPLAIN QUERY PLAN SELECT sender_id FROM events WHERE {where}")
        ).all()
    engine.dispose()
    assert index in " ".join(str(row) for row in plan)


# --- the tracker cache: one conversation's tracker kept between its turns ---


def store_for(url: str) -> ResilientSQLTrackerStore:
    from rasa.shared.core.domain import Domain

    return ResilientSQLTrackerStore(domain=Domain.empty(), host=url)


def turn(tracker, text: str) -> None:
    """What Rasa adds to a tracker in one FAQ turn."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

    tracker.update(UserUttered(text, {"name": "faq", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_faq"))
    tracker.update(BotUttered(f"answer to {text}"))
    tracker.update(ActionExecuted("action_listen"))


def new_conversation(sender: str, slots=()):
    """A conversation as Rasa starts one: action_session_start comes before
    the session's first stored row."""
    from rasa.shared.core.events import ActionExecuted, SessionStarted
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(sender, list(slots))
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    return tracker


def stored_texts(url: str, sender: str):
    import json

    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                {"s": sender},
            ).all()
    finally:
        engine.dispose()
    return [json.loads(row.data).get("text") for row in rows]


async def test_each_event_is_stored_once_turn_after_turn(database_url):
    store = store_for(database_url)
    tracker = new_conversation("cache-1")
    for number in range(5):
        turn(tracker, f"q{number}")
        await store.save(tracker)
        tracker = await store.retrieve("cache-1")
    said = [t for t in stored_texts(database_url, "cache-1") if t]
    assert said == [x for n in range(5) for x in (f"q{n}", f"answer to q{n}")]
    assert len(tracker.events) == 3 + 5 * 4


async def test_an_unchanged_conversation_is_not_read_again(database_url):
    store = store_for(database_url)
    tracker = new_conversation("cache-2")
    turn(tracker, "q")
    await store.save(tracker)
    assert await store.retrieve("cache-2") is tracker


async def test_a_turn_written_by_another_replica_is_read(database_url):
    here, there = store_for(database_url), store_for(database_url)
    tracker = new_conversation("cache-3")
    turn(tracker, "first")
    await here.save(tracker)
    elsewhere = await there.retrieve("cache-3")
    turn(elsewhere, "second, on the other replica")
    await there.save(elsewhere)
    fresh = await here.retrieve("cache-3")
    assert "second, on the other replica" in [
        getattr(e, "text", None) for e in fresh.events
    ]


async def test_a_turn_that_failed_before_saving_is_not_served(database_url):
    store = store_for(database_url)
    tracker = new_conversation("cache-4")
    turn(tracker, "saved")
    await store.save(tracker)
    turn(tracker, "never saved")  # the turn failed: no save
    again = await store.retrieve("cache-4")
    texts = [getattr(e, "text", None) for e in again.events]
    assert "saved" in texts and "never saved" not in texts


async def test_deleted_rows_are_not_served_from_the_cache(database_url):
    store = store_for(database_url)
    tracker = new_conversation("cache-5")
    turn(tracker, "please delete me")
    await store.save(tracker)
    engine = create_engine(database_url, future=True)
    with engine.begin() as connection:  # what the staff app's deletion does
        connection.execute(text("DELETE FROM events WHERE sender_id = 'cache-5'"))
    engine.dispose()
    assert await store.retrieve("cache-5") is None


async def test_a_new_session_is_read_alone_at_the_next_turn(database_url):
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    store = store_for(database_url)
    tracker = new_conversation("cache-6")
    turn(tracker, "yesterday")
    await store.save(tracker)
    tracker = await store.retrieve("cache-6")
    tracker.update(ActionExecuted("action_session_start"))  # the session expired
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    turn(tracker, "today")
    await store.save(tracker)
    fresh = await store.retrieve("cache-6")
    texts = [getattr(e, "text", None) for e in fresh.events]
    assert "today" in texts and "yesterday" not in texts
    said = [t for t in stored_texts(database_url, "cache-6") if t]
    assert said == ["yesterday", "answer to yesterday", "today", "answer to today"]


def statements_of(store: ResilientSQLTrackerStore) -> list:
    """The SQL statements the store's engine runs from now on."""
    from sqlalchemy import event

    ran: list = []
    event.listen(
        store.engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *rest: ran.append(statement),
    )
    return ran


async def test_a_kept_conversation_s_turn_is_one_query_to_read_and_three_to_write(
    database_url,
):
    """A turn of a kept conversation: the stamp to read it; to write it, the
    stamp, one INSERT of every new row and the stamp after (plus the
    conversation's lock on PostgreSQL) where Rasa's way is one INSERT per
    event and the tombstone looked up apart."""
    store = store_for(database_url)
    tracker = new_conversation("cache-7")
    turn(tracker, "first")
    await store.save(tracker)
    ran = statements_of(store)
    assert await store.retrieve("cache-7") is tracker
    assert len(ran) == 1, ran
    ran.clear()
    turn(tracker, "second")  # four new events
    await store.save(tracker)
    lock = 1 if store.engine.dialect.name == "postgresql" else 0
    assert len([s for s in ran if not s.startswith(("BEGIN", "COMMIT"))]) == 3 + lock
    said = [t for t in stored_texts(database_url, "cache-7") if t]
    assert said == ["first", "answer to first", "second", "answer to second"]


async def test_each_conversation_s_stamp_is_its_own(database_url):
    """The stamp's query is built once and bound to each sender: a
    conversation's turn, or another's deletion, changes only its own."""
    from db.tombstones import record_deletion

    store = store_for(database_url)
    for sender, turns in (("stamp-a", 1), ("stamp-b", 2)):
        tracker = new_conversation(sender)
        for number in range(turns):
            turn(tracker, f"q{number}")
        await store.save(tracker)
    with store.engine.connect() as connection:
        a, b = store._stamp(connection, "stamp-a"), store._stamp(connection, "stamp-b")
    assert (a[0], b[0]) == (3 + 4, 3 + 8) and a[1] < b[1]
    assert a[2] is None and b[2] is None
    with store.session_scope() as session:
        record_deletion(session, ["stamp-b"], at=1234.5)
        session.commit()
    with store.engine.connect() as connection:
        assert store._stamp(connection, "stamp-a") == a
        assert store._stamp(connection, "stamp-b") == (b[0], b[1], 1234.5)
    assert await store.retrieve("stamp-a") is not None


def slot_domain():
    from rasa.shared.core.domain import Domain

    return Domain.from_dict(
        {
            "slots": {
                "topic": {
                    "type": "text",
                    "influence_conversation": False,
                    "mappings": [{"type": "custom"}],
                }
            }
        }
    )


def replicas(url: str):
    """Two replicas' stores, with a domain that has a slot."""
    domain = slot_domain()
    return (
        ResilientSQLTrackerStore(domain=domain, host=url),
        ResilientSQLTrackerStore(domain=domain, host=url),
    )


def slot_turn(tracker, text: str) -> None:
    from rasa.shared.core.events import SlotSet

    turn(tracker, text)
    tracker.update(SlotSet("topic", text))


def held(tracker):
    """What a tracker holds, comparable with == between two trackers: its
    events from the session's start (Rasa's read of a session leaves out
    the `action_session_start` before it, which the tracker that began the
    session holds), its slots and its state after them all."""
    from rasa.shared.core.events import SessionStarted
    from rasa.shared.core.trackers import EventVerbosity

    events = [event.as_dict() for event in tracker.events]
    starts = [i for i, e in enumerate(tracker.events) if isinstance(e, SessionStarted)]
    state = tracker.current_state(EventVerbosity.AFTER_RESTART)
    state.pop("events")
    return events[starts[-1] if starts else 0 :], tracker.current_slot_values(), state


def texts(tracker):
    return [getattr(event, "text", None) for event in tracker.events]


async def full_read(url: str, sender: str):
    """The conversation as a process that kept nothing reads it."""
    store = ResilientSQLTrackerStore(domain=slot_domain(), host=url, cache_size=0)
    try:
        return await store.retrieve(sender)
    finally:
        store.engine.dispose()


async def moved_to_the_other_replica(url: str, sender: str, turns: int = 2):
    """A conversation's first turn on `here`, the next `turns` on `there`:
    `here`'s kept tracker lacks them."""
    here, there = replicas(url)
    tracker = new_conversation(sender, here.domain.slots)
    slot_turn(tracker, "first, here")
    await here.save(tracker)
    elsewhere = await there.retrieve(sender)
    for number in range(turns):
        slot_turn(elsewhere, f"on the other replica {number}")
        await there.save(elsewhere)
        elsewhere = await there.retrieve(sender)
    return here, there, tracker


async def test_rows_another_replica_appended_are_applied_to_the_kept_tracker(
    database_url,
):
    here, _, tracker = await moved_to_the_other_replica(database_url, "catch-1")
    ran = statements_of(here)
    caught_up = await here.retrieve("catch-1")
    assert caught_up is tracker  # kept and caught up, not read and replayed
    assert len(ran) == 2, ran  # the stamp, then the rows after the kept newest
    assert held(caught_up) == held(await full_read(database_url, "catch-1"))
    assert caught_up.get_slot("topic") == "on the other replica 1"
    # the next turn here is written once, after the other replica's
    slot_turn(caught_up, "back here")
    await here.save(caught_up)
    said = [t for t in stored_texts(database_url, "catch-1") if t]
    assert said[-4:] == [
        "on the other replica 1",
        "answer to on the other replica 1",
        "back here",
        "answer to back here",
    ]
    assert said == [t for t in texts(caught_up) if t]
    assert await here.retrieve("catch-1") is caught_up


async def test_a_deletion_then_new_rows_read_the_session_again(database_url):
    from db.tombstones import record_deletion

    here, there, tracker = await moved_to_the_other_replica(database_url, "catch-2")
    with there.session_scope() as session:
        record_deletion(session, ["catch-2"], at=1.0)  # the kept session began later
        session.commit()
    again = await here.retrieve("catch-2")
    assert again is not tracker
    assert held(again) == held(await full_read(database_url, "catch-2"))


async def test_rows_deleted_among_the_new_ones_read_the_session_again(database_url):
    here, _, tracker = await moved_to_the_other_replica(database_url, "catch-3")
    engine = create_engine(database_url, future=True)
    with engine.begin() as connection:  # one of the kept rows goes, untold
        connection.execute(
            text(
                "DELETE FROM events WHERE id = (SELECT MIN(id) FROM events "
                "WHERE sender_id = 'catch-3' AND type_name = 'bot')"
            )
        )
    engine.dispose()
    again = await here.retrieve("catch-3")
    assert again is not tracker
    assert held(again) == held(await full_read(database_url, "catch-3"))
    assert "answer to first, here" not in texts(again)


async def test_a_new_session_among_the_new_rows_reads_it_alone(database_url):
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    here, there = replicas(database_url)
    tracker = new_conversation("catch-4", here.domain.slots)
    slot_turn(tracker, "yesterday")
    await here.save(tracker)
    elsewhere = await there.retrieve("catch-4")
    elsewhere.update(ActionExecuted("action_session_start"))
    elsewhere.update(SessionStarted())
    elsewhere.update(ActionExecuted("action_listen"))
    slot_turn(elsewhere, "today")
    await there.save(elsewhere)
    again = await here.retrieve("catch-4")
    assert again is not tracker
    texts = [getattr(e, "text", None) for e in again.events]
    assert "today" in texts and "yesterday" not in texts
    assert held(again) == held(await full_read(database_url, "catch-4"))


async def test_a_turn_that_failed_here_reads_the_session_again(database_url):
    here, _, tracker = await moved_to_the_other_replica(database_url, "catch-5")
    slot_turn(tracker, "never saved")  # a turn here failed before its save
    again = await here.retrieve("catch-5")
    assert again is not tracker
    assert "never saved" not in [getattr(e, "text", None) for e in again.events]
    assert held(again) == held(await full_read(database_url, "catch-5"))


async def test_a_row_dated_before_the_session_reads_the_session_again(database_url):
    """Rasa's read of a session leaves out rows dated before its start."""
    from rasa.shared.core.events import BotUttered

    here, there, tracker = await moved_to_the_other_replica(database_url, "catch-6")
    elsewhere = await there.retrieve("catch-6")
    elsewhere.update(BotUttered("from the past", timestamp=1.0))
    await there.save(elsewhere)
    again = await here.retrieve("catch-6")
    assert again is not tracker
    assert "from the past" not in [getattr(e, "text", None) for e in again.events]
    assert held(again) == held(await full_read(database_url, "catch-6"))
