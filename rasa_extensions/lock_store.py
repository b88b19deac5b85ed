"""Rasa's Redis lock store, with every change to a lock made atomically, in
one round trip.

Rasa serialises the turns of one conversation with a ticket lock: a message
takes a ticket and waits until it is served. `RedisLockStore` (Rasa 3.6)
changes a lock by reading it, changing it in Python and writing it back.
Two replicas that take a ticket for the same conversation at the same
moment both read "no lock", both write a lock holding only their own ticket
number 1, and both go ahead: the two turns run at once and one of them is
lost from the tracker store (tests/system/test_scaled.py shows it). Likewise a
clean-up can delete a lock another replica has just added its ticket to.

`AtomicRedisLockStore` makes each of those read-change-write steps one Lua
script that Redis runs atomically (`ISSUE`, `RELEASE`): nothing else runs
on the server between its read and its write. A script is also one round
trip, where a WATCH / GET / MULTI / SET / EXEC transaction was three and
Rasa's own steps two to four; and a ticket that is served as soon as it is
issued (a conversation's usual turn: nobody else is waiting) is not read
back. A turn now costs two Redis commands (issue, release) where it cost
ten in seven round trips, each of them blocking the replica's event loop
(redis-py is synchronous) and costing CPU in redis-py and in Redis: about
8% of a busy replica's samples under py-spy in `make bench`'s capacity
run, which a single process (in-memory locks) does not spend.

The scripts change the lock exactly as Rasa's `TicketLock` does (expired
tickets dropped, the next number after the last ticket kept, the first
ticket served), with the time taken on the Rasa side as Rasa takes it, and
store it in Rasa's format, so a stock `RedisLockStore` reads what they
write and the other way round (tests/rasa_extensions/test_lock_store.py).
Same keys, same settings as `type: redis`.

Upstream: https://github.com/RasaHQ/rasa/issues/9213 (the race between two
servers); a concurrent lock store was added in
https://github.com/RasaHQ/rasa/pull/11256 and reverted in
https://github.com/RasaHQ/rasa/pull/11428. It overrides `RedisLockStore`'s
lock methods and `lock()`, reads its `red` and `key_prefix`, and calls
`LockStore._acquire_lock` (rasa 3.6.21) for a ticket that has to wait.

Enabled in deploy/endpoints.scaled.yml as
`type: rasa_extensions.lock_store.AtomicRedisLockStore`.
"""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from typing import AsyncGenerator, Optional, Text, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# The lock's tickets that have not expired, as TicketLock keeps them: each
# one still the JSON text Rasa stored (TicketLock.dumps), read with
# cjson; `now` is ARGV[1], the Rasa side's time.time() (Ticket.has_expired).
_KEPT = """
local now = tonumber(ARGV[1])
local lock = nil
local kept, numbers = {}, {}
local raw = redis.call('GET', KEYS[1])
if raw then
  lock = cjson.decode(raw)
  for _, text in ipairs(lock['tickets'] or {}) do
    local ticket = cjson.decode(text)
    if not (now > ticket['expires']) then
      table.insert(kept, text)
      table.insert(numbers, ticket['number'])
    end
  end
end
local function store(conversation_id)
  local tickets = {}
  for i, text in ipairs(kept) do tickets[i] = cjson.encode(text) end
  local text = '{"conversation_id": ' .. cjson.encode(conversation_id)
    .. ', "tickets": [' .. table.concat(tickets, ', ') .. ']}'
  redis.call('SET', KEYS[1], text)
  return text
end
"""

# TicketLock.issue_ticket, then whether the new ticket is served now.
# ARGV: now, lifetime, conversation id. Returns {number, served (0 / 1),
# the lock as stored}.
ISSUE = (
    _KEPT
    + """
local number = (numbers[#numbers] or -1) + 1
table.insert(kept, string.format('{"number": %d, "expires": %.17g}',
  number, now + tonumber(ARGV[2])))
table.insert(numbers, number)
local text = store(lock and lock['conversation_id'] or ARGV[3])
return {number, numbers[1] == number and 1 or 0, text}
"""
)

# TicketLock.remove_ticket_for (ARGV[2]; '' for none: remove_expired_tickets
# alone), then the lock saved, or deleted when nobody is left waiting and
# ARGV[3] is '1' (LockStore.cleanup). No lock: nothing. Returns 0.
RELEASE = (
    _KEPT
    + """
if not lock then return 0 end
local ticket = tonumber(ARGV[2])
for i, number in ipairs(numbers) do
  if number == ticket then
    table.remove(kept, i)
    table.remove(numbers, i)
    break
  end
end
if #kept == 0 and ARGV[3] == '1' then
  redis.call('DEL', KEYS[1])
else
  store(lock['conversation_id'])
end
return 0
"""
)


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose lock changes are atomic Redis scripts."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)
        # EVALSHA, and EVAL again should Redis have lost the script (restart)
        self._issue_script = self.red.register_script(ISSUE)
        self._release_script = self.red.register_script(RELEASE)

    def _issue(
        self, conversation_id: Text, lock_lifetime: float
    ) -> Tuple[int, Optional[TicketLock]]:
        """The new ticket's number, and the lock as stored if it is served."""
        try:
            number, served, text = self._issue_script(
                keys=[self.key_prefix + conversation_id],
                args=[repr(time.time()), repr(float(lock_lifetime)), conversation_id],
            )
        except Exception as error:  # as RedisLockStore does
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        held = TicketLock.from_dict(json.loads(text)) if served else None
        return int(number), held

    def _release(
        self, conversation_id: Text, ticket_number: Optional[int], delete: bool
    ) -> None:
        self._release_script(
            keys=[self.key_prefix + conversation_id],
            args=[
                repr(time.time()),
                "" if ticket_number is None else str(int(ticket_number)),
                "1" if delete else "0",
            ],
        )

    def issue_ticket(
        self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME
    ) -> int:
        return self._issue(conversation_id, lock_lifetime)[0]

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's `LockStore.lock`, without reading the lock back when the
        ticket was served as it was issued."""
        ticket, held = self._issue(conversation_id, lock_lifetime)
        try:
            if held is not None:
                yield held
            else:
                yield await self._acquire_lock(
                    conversation_id, ticket, wait_time_in_seconds
                )
        finally:
            self.cleanup(conversation_id, ticket)

    def update_lock(self, conversation_id: Text) -> None:
        self._release(conversation_id, None, delete=False)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._release(conversation_id, ticket_number, delete=False)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Removes the ticket, and the lock with it if nobody else waits."""
        self._release(conversation_id, ticket_number, delete=True)
