"""rasa_extensions/lock_store.py on a real Redis (skipped without one; CI
has it): a conversation's turns one at a time across two stores (two
replicas), no ticket issued twice when replicas race, Rasa's own lock format
both ways, and a turn's cost in Redis commands."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
import time
from collections import deque
from typing import Iterator, List

import pytest
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from rasa_extensions.lock_store import AtomicRedisLockStore

HOST, PORT, DB = "127.0.0.1", 6379, 1


@pytest.fixture
def prefix() -> Iterator[str]:
    import redis

    client = redis.Redis(host=HOST, port=PORT, db=DB, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable")
        pytest.skip(f"Redis is not reachable at {HOST}:{PORT}")
    name = "test" + secrets.token_hex(4)
    yield name
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


def atomic(prefix: str) -> AtomicRedisLockStore:
    config = EndpointConfig(url=HOST, port=PORT, db=DB, key_prefix=prefix)
    return AtomicRedisLockStore(config)


def stock(prefix: str) -> RedisLockStore:
    return RedisLockStore(host=HOST, port=PORT, db=DB, key_prefix=prefix)


async def test_a_conversation_s_turns_run_one_at_a_time_across_replicas(prefix):
    replicas = [atomic(prefix), atomic(prefix)]
    inside: List[int] = []
    order: List[int] = []
    overlaps = 0

    async def turn(number: int) -> None:
        nonlocal overlaps
        store = replicas[number % 2]
        async with store.lock("c1", wait_time_in_seconds=0.01):
            inside.append(number)
            overlaps += len(inside) > 1
            await asyncio.sleep(0.005)
            order.append(number)
            inside.remove(number)

    await asyncio.gather(*(turn(n) for n in range(12)))
    assert overlaps == 0 and sorted(order) == list(range(12))
    assert replicas[0].get_lock("c1") is None  # nobody waits: deleted


def test_replicas_racing_for_tickets_never_get_the_same_one(prefix):
    stores = [atomic(prefix) for _ in range(4)]
    issued: List[int] = []
    start = threading.Barrier(len(stores))

    def take(store: AtomicRedisLockStore) -> None:
        start.wait()
        for _ in range(25):
            issued.append(store.issue_ticket("race"))

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(issued) == list(range(100))
    lock = stock(prefix).get_lock("race")
    assert lock is not None and [t.number for t in lock.tickets] == list(range(100))


def test_rasa_s_own_store_reads_the_lock_and_the_other_way_round(prefix):
    ours, theirs = atomic(prefix), stock(prefix)
    assert ours.issue_ticket("c", 30) == 0
    assert theirs.issue_ticket("c", 30) == 1  # Rasa reads ours, adds its own
    assert ours.issue_ticket("c", 30) == 2  # we read Rasa's
    lock = theirs.get_lock("c")
    assert lock is not None and lock.conversation_id == "c"
    assert [t.number for t in lock.tickets] == [0, 1, 2]
    assert all(time.time() + 29 < t.expires <= time.time() + 30 for t in lock.tickets)
    ours.finish_serving("c", 0)
    assert theirs.get_lock("c").now_serving == 1
    ours.cleanup("c", 1)
    assert [t.number for t in theirs.get_lock("c").tickets] == [2]
    ours.cleanup("c", 2)
    assert theirs.get_lock("c") is None


def test_expired_tickets_are_dropped_as_rasa_drops_them(prefix):
    ours, theirs = atomic(prefix), stock(prefix)
    now = time.time()
    expired = TicketLock("c", deque([Ticket(0, now - 1), Ticket(1, now + 60)]))
    theirs.save_lock(expired)
    assert ours.issue_ticket("c", 60) == 2
    assert [t.number for t in theirs.get_lock("c").tickets] == [1, 2]
    theirs.save_lock(TicketLock.from_dict(json.loads(expired.dumps())))
    ours.update_lock("c")
    assert [t.number for t in theirs.get_lock("c").tickets] == [1]
    ours.cleanup("c", 1)  # removes it, and the lock with nobody left
    assert theirs.get_lock("c") is None
    ours.cleanup("c", 1)  # no lock: nothing happens
    assert theirs.get_lock("c") is None


async def test_a_waiting_turn_is_served_once_the_one_before_it_ends(prefix):
    first, second = atomic(prefix), atomic(prefix)
    ended = asyncio.Event()

    async def waits() -> float:
        async with second.lock("c", wait_time_in_seconds=0.01):
            assert ended.is_set()
            return time.monotonic()

    async with first.lock("c") as held:
        assert held.now_serving == 0
        waiting = asyncio.create_task(waits())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        ended.set()
    await waiting
    assert first.get_lock("c") is None


async def test_a_turn_costs_two_round_trips_to_redis(prefix, monkeypatch):
    # Rasa's RedisLockStore and the WATCH / MULTI / EXEC version before this
    # one spent seven round trips (ten commands) a turn, each blocking the
    # replica's event loop.
    import redis.connection

    store = atomic(prefix)
    async with store.lock("warm-up"):  # connects, loads the scripts
        pass
    sent: List[bytes] = []
    send = redis.connection.Connection.send_packed_command

    def counted(self, command, *args, **kwargs):
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        return send(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    for _ in range(10):
        async with store.lock("c"):
            pass
    assert len(sent) == 20 and all(b"EVALSHA" in command for command in sent)
