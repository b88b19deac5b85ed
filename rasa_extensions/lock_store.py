"""Rasa's Redis lock store, with every change to a lock made atomically.

Rasa serialises the turns of one conversation with a ticket lock: a message
takes a ticket and waits until it is served. `RedisLockStore` (Rasa 3.6)
changes a lock by reading it, changing it in Python and writing it back.
Two replicas that take a ticket for the same conversation at the same
moment both read "no lock", both write a lock holding only their own ticket
number 1, and both go ahead: the two turns run at once and one of them is
lost from the tracker store (tests/system/test_scaled.py shows it). Likewise a
clean-up can delete a lock another replica has just added its ticket to.

`AtomicRedisLockStore` makes each of those read-change-write steps one Redis
transaction (WATCH / MULTI / EXEC, retried when another replica changed the
lock in between). Same keys, same format, same settings as `type: redis`.

Upstream: https://github.com/RasaHQ/rasa/issues/9213 (the race between two
servers); a concurrent lock store was added in
https://github.com/RasaHQ/rasa/pull/11256 and reverted in
https://github.com/RasaHQ/rasa/pull/11428. It overrides `RedisLockStore`'s
lock methods and reads its `red` and `key_prefix`.

Enabled in deploy/endpoints.scaled.yml as
`type: rasa_extensions.lock_store.AtomicRedisLockStore`.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, Text, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# What a change returns: the lock to store (None: delete it) and a result.
Change = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], Any]]


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose lock changes are Redis transactions."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _change(self, conversation_id: Text, change: Change) -> Any:
        key = self.key_prefix + conversation_id

        def attempt(pipe: Any) -> Any:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            lock, result = change(lock)
            pipe.multi()
            if lock is None:
                pipe.delete(key)
            else:
                pipe.set(key, lock.dumps())
            return result

        return self.red.transaction(attempt, key, value_from_callable=True)

    def issue_ticket(
        self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME
    ) -> int:
        def take(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, take)
        except Exception as error:  # as RedisLockStore does
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        def expire(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, expire)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def finish(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Removes the ticket, and the lock with it if nobody else waits."""

        def finish(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, finish)
