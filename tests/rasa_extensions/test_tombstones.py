"""A deleted conversation stays deleted (db/tombstones.py): a message in
flight when staff delete the conversation writes none of it back, and the
next message starts a new conversation with only what came after."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time

from sqlalchemy import create_engine, text

from db.engine import session_factory
from db.models import ConversationTombstone
from db.tombstones import TOMBSTONE_DAYS, deleted_at, record_deletion, sender_hash
from tests.factories import NOTIFY, lead_input
from tests.rasa_extensions.test_tracker_store import (
    new_conversation,
    store_for,
    stored_texts,
    turn,
)
from webapp.staff.privacy import delete_lead
from webapp.staff.transcript import delete_conversation


def stored(url: str, sender: str):
    """(timestamp, text) of every stored event of `sender`."""
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT timestamp, data FROM events WHERE sender_id = :s"),
                {"s": sender},
            ).all()
    finally:
        engine.dispose()
    return [(row.timestamp, json.loads(row.data).get("text")) for row in rows]


def delete_now(url: str, sender: str) -> float:
    """What the staff app's "Delete conversation" does; when it did it."""
    session = session_factory(url)()
    try:
        delete_conversation(session, [sender])
        session.commit()
        with session_factory(url)() as other:
            return deleted_at(other.connection(), sender)
    finally:
        session.close()


async def test_a_tracker_read_before_the_deletion_writes_nothing(database_url):
    store = store_for(database_url)
    tracker = new_conversation("tomb-1")
    turn(tracker, "my name is Ana, phone 604 555 0188")
    await store.save(tracker)
    in_flight = await store.retrieve("tomb-1")  # a message is being handled
    delete_now(database_url, "tomb-1")
    turn(in_flight, "and my back hurts")
    await store.save(in_flight)
    assert stored_texts(database_url, "tomb-1") == []
    assert await store.retrieve("tomb-1") is None  # the next turn starts anew

    fresh = new_conversation("tomb-1")
    turn(fresh, "hello again")
    await store.save(fresh)
    texts = [t for t in stored_texts(database_url, "tomb-1") if t]
    assert texts == ["hello again", "answer to hello again"]
    again = await store.retrieve("tomb-1")
    assert "my name is Ana, phone 604 555 0188" not in [
        getattr(e, "text", None) for e in again.events
    ]


async def test_a_conversation_held_through_an_outage_is_not_written_back(
    database_url,
):
    """The in-memory copy of an outage's turns is written back later: not
    when the conversation was deleted meanwhile."""
    store = store_for(database_url)
    tracker = new_conversation("tomb-2")
    turn(tracker, "kept in memory")
    store._pending["tomb-2"] = [event.as_dict() for event in tracker.events]
    delete_now(database_url, "tomb-2")
    other = new_conversation("tomb-2-other")
    turn(other, "a save that works: pending ones are written back")
    await store.save(other)
    assert store.pending == []
    assert stored_texts(database_url, "tomb-2") == []


async def test_deleting_a_lead_leaves_a_tombstone(database_url):
    from db.leads import save_lead
    from db.models import Lead

    store = store_for(database_url)
    tracker = new_conversation("tomb-3")
    turn(tracker, "book me in")
    await store.save(tracker)
    in_flight = await store.retrieve("tomb-3")
    factory = session_factory(database_url)
    save_lead(factory, lead_input(sender_id="tomb-3"), NOTIFY)
    with factory() as session:
        lead = session.query(Lead).filter_by(sender_id="tomb-3").one()
        delete_lead(session, lead, actor="staff", reason="test")
        session.commit()
    turn(in_flight, "yes")
    await store.save(in_flight)
    assert stored_texts(database_url, "tomb-3") == []


def test_tombstones_keep_no_conversation_id_and_expire(database_url):
    factory = session_factory(database_url)
    with factory() as session:
        old = time.time() - (TOMBSTONE_DAYS + 1) * 86400
        record_deletion(session, ["tel:+16045550100"], at=old)
        session.commit()
        record_deletion(session, ["tel:+16045550188"])
        record_deletion(session, ["tel:+16045550188"])  # twice: one row
        session.commit()
        rows = session.query(ConversationTombstone).all()
    assert [row.sender_hash for row in rows] == [sender_hash("tel:+16045550188")]
    assert "+1604" not in rows[0].sender_hash


def race_once(url: str, sender: str, seed: int) -> tuple:
    """12 back-to-back messages in one thread, the deletion in another at a
    random moment; returns (tombstone time, events deleted, stored events,
    the next turn's tracker)."""
    rng = random.Random(seed)
    store = store_for(url)
    first = new_conversation(sender)
    turn(first, "before 0")
    asyncio.run(store.save(first))
    deleted = {}

    def messages() -> None:
        async def run() -> None:
            for number in range(12):
                tracker = await store.retrieve(sender) or new_conversation(sender)
                turn(tracker, f"message {number}")
                await asyncio.sleep(rng.random() * 0.004)  # the actions run
                await store.save(tracker)

        asyncio.run(run())

    def staff() -> None:
        time.sleep(rng.random() * 0.05)
        session = session_factory(url)()
        try:
            deleted["rows"] = delete_conversation(session, [sender])
            session.commit()
        finally:
            session.close()

    threads = [threading.Thread(target=messages), threading.Thread(target=staff)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_factory(url)() as session:
        tombstone = deleted_at(session.connection(), sender)
    after = asyncio.run(store.retrieve(sender))
    store.engine.dispose()
    return tombstone, deleted["rows"], stored(url, sender), after


def test_deletion_raced_with_messages_stays_deleted(database_url):
    mid_conversation = 0
    for run in range(25):
        sender = f"race-{run}"
        tombstone, removed, rows, after = race_once(database_url, sender, run)
        assert tombstone is not None
        old = [said for at, said in rows if at <= tombstone]
        assert old == [], f"run {run}: deleted events came back: {old}"
        assert "before 0" not in [said for _, said in rows]
        if after is not None:
            assert all(e.timestamp > tombstone for e in after.events), run
        if removed and rows:  # the deletion fell between the messages
            mid_conversation += 1
    assert mid_conversation >= 5, "the deletion never raced with the messages"
