"""What live chat costs an ordinary FAQ turn (`make bench`, part `handoff`,
#15).

The same FAQ questions (the `turns` part's five, in turn) are asked in two
kinds of conversation, handled in this process by one Rasa `Agent` as the
`turns` part sets it up (turns.py's `load_agent` and `TurnClock`: the
project's tracker store, kept between turns, and its action endpoint):

- "never": conversations that never touched live chat; each opens with as
  many messages of its own as an "after" one had before its questions;
- "after": conversations where a live chat happened first, as it happens
  in `rasa run`: the person asks for a person (`/request_human`, the
  button's payload, so `action_request_handoff` runs on the action server
  and stores the request), a staff member takes the chat (db/handoff.py's
  `take`, then the events the staff app appends through Rasa's HTTP API:
  clinic/rasa_api.py's builders, applied as Rasa's `append_events` route
  applies them, side effects included), three messages go each way, and
  the staff member ends the chat (the same, with `end`).

The database holds, besides, a few other chats waiting or held and one
staff member who is signed in and available, as a clinic's would. The two
kinds' turns are interleaved (one of each by turns, the order alternating),
so load from other processes on the machine falls on both alike. Each FAQ
turn records its wall time, this process's CPU time and the CPU time outside
NLU parsing, the SQL statements it sent (all, and those on the live-chat
tables), and the calls to the action endpoint (every action the endpoint
was asked to run, and those that went on to the action server). The action
server runs in this process too (rasa_sdk's executor with the `actions`
package, as `rasa run actions` has it), so the chat request is stored; its
calls are counted, not timed.

Run on a throwaway SQLite file, and a throwaway PostgreSQL database when the
server answers (as the `turns` part). The clinic profile is the sample one
with chat hours all day, so the chat can be requested at any hour.

    python -m scripts.bench.handoff --model models/ims-assistant.tar.gz
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import os
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from scripts.bench import turns

ROUNDS = 50  # FAQ questions per conversation
CONVERSATIONS = 4  # of each kind
QUICK_ROUNDS = 5
# The person's side of the live chat, and the staff member's (nothing
# personal, no red flag: the bot stays silent while the chat is held).
PERSON = (
    "I had a question about my next appointment",
    "is it still on Thursday afternoon?",
    "great, thank you",
)
STAFF = (
    "Hi, I can help with that. One moment while I look it up.",
    "Yes, Thursday at 3 pm is still booked for you.",
    "You're welcome. I'll hand you back to the assistant now.",
)
OPENING = ("hello",)  # then the first question, before the chat
REQUEST = "/request_human"  # the "Talk to a person" button's payload
STAFF_NAME = "bench-front-desk"
# Not an argon2 hash: no password signs in as the bench's staff member.
NO_PASSWORD = "!"  # noqa: S105
OTHER_CHATS = {"waiting": 3, "held": 1}  # other people's open requests
LIVE_CHAT_TABLES = re.compile(
    r"\b(handoff_chats|staff_availability|staff_sessions|staff_users)\b",
    re.IGNORECASE,
)
KINDS = ("never", "after")


@dataclass
class Counts:
    """What one turn sent: SQL statements, and action endpoint calls."""

    sql: int = 0
    live_chat_sql: int = 0
    actions: int = 0
    action_server: int = 0
    action_names: List[str] = field(default_factory=list)

    def reset(self) -> None:
        self.sql = self.live_chat_sql = self.actions = self.action_server = 0
        self.action_names = []


def counting_endpoint(counts: Counts) -> Any:
    """The project's action endpoint (ActionServerFallback: the FAQ path's
    actions run in Rasa's process), counting every action it is asked to
    run, with the action server in this process behind it (rasa_sdk's
    executor holding the `actions` package), counting what reaches it."""
    from rasa.utils.endpoints import EndpointConfig
    from rasa_sdk.executor import ActionExecutor

    from rasa_extensions.action_fallback import ActionServerFallback

    executor = ActionExecutor()
    executor.register_package("actions")

    class ActionServer(EndpointConfig):
        async def request(self, *args: Any, **kwargs: Any) -> Any:
            counts.action_server += 1
            return await executor.run(kwargs["json"])

    class Counting(ActionServerFallback, ActionServer):
        # ActionServerFallback's own remote call (super().request) reaches
        # ActionServer, next in this class's method resolution order.
        async def request(self, *args: Any, **kwargs: Any) -> Any:
            body = kwargs.get("json")
            if isinstance(body, dict) and body.get("next_action"):
                counts.actions += 1
                counts.action_names.append(body["next_action"])
            return await super().request(*args, **kwargs)

    return Counting(url="http://127.0.0.1:9/webhook")


@contextlib.contextmanager
def counting_sql(counts: Counts) -> Iterator[None]:
    """Counts every SQL statement any engine in this process sends."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def before(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        counts.sql += 1
        if LIVE_CHAT_TABLES.search(statement):
            counts.live_chat_sql += 1

    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", before)


@contextlib.contextmanager
def clinic_environment(database_url: str, workdir: Path) -> Iterator[None]:
    """DATABASE_URL (the action server's database) and a clinic profile open
    for chat all day (CLINIC_PROFILE), for the run; then as they were."""
    from clinic.settings import PROJECT_ROOT

    text = (PROJECT_ROOT / "clinic_profile.yml").read_text(encoding="utf-8")
    profile = workdir / "clinic_profile.yml"
    profile.write_text(
        re.sub(r'chat_hours: ".*"', 'chat_hours: "Mon-Sun 00:00-24:00"', text),
        encoding="utf-8",
    )
    wanted = {"DATABASE_URL": database_url, "CLINIC_PROFILE": str(profile)}
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def staff_and_other_chats(database_url: str) -> int:
    """One staff member, signed in and available, and OTHER_CHATS' requests
    of other people; the staff member's id. Nobody can sign in as them (no
    password hash matches)."""
    from db import handoff
    from db.engine import session_factory
    from db.models import utcnow
    from db.staff_models import (
        HandoffChat,
        StaffAvailability,
        StaffSession,
        StaffUser,
    )

    now = utcnow()
    with session_factory(database_url)() as session:
        user = StaffUser(
            username=STAFF_NAME,
            password_hash=NO_PASSWORD,
            role="front_desk",
        )
        session.add(user)
        session.flush()
        session.add(StaffAvailability(user_id=user.id, available=True))
        session.add(
            StaffSession(
                id=hashlib.sha256(b"bench-session").hexdigest(),
                user_id=user.id,
                last_seen_at=now,
                expires_at=now + timedelta(hours=8),
            )
        )
        number = 0
        for status, many in OTHER_CHATS.items():
            for _ in range(many):
                number += 1
                session.add(
                    HandoffChat(
                        sender_id=f"bench-handoff-other-{number}",
                        channel="socketio",
                        status=status,
                        requested_at=now,
                        wait_until=now + timedelta(minutes=3),
                        taken_by=user.id if status == handoff.HELD else None,
                        taken_at=now if status == handoff.HELD else None,
                    )
                )
        session.commit()
        return user.id


async def append_staff_events(
    agent: Any, sender: str, events: List[Dict[str, Any]]
) -> List[Any]:
    """`events` appended as Rasa's `POST /conversations/<id>/tracker/events
    ?execute_side_effects=true&output_channel=latest` does (rasa/server.py's
    `append_events`): under the conversation's lock, side effects (bot
    messages, reminders) executed, the tracker saved. The messages sent."""
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.server import update_conversation_with_events
    from rasa.shared.core.events import Event

    output = CollectingOutputChannel()
    async with agent.lock_store.lock(sender):
        parsed = [e for e in (Event.from_parameters(x) for x in events) if e]
        tracker = await update_conversation_with_events(
            sender, agent.processor, agent.domain, parsed
        )
        await agent.processor.execute_side_effects(parsed, tracker, output)
        await agent.tracker_store.save(tracker)
    return output.messages


async def live_chat(
    agent: Any, clock: turns.TurnClock, sender: str, user_id: int, url: str
) -> Dict[str, Any]:
    """A live chat in conversation `sender`, as a person and the staff app
    have one: requested, taken, three messages each way, ended."""
    from clinic import rasa_api
    from db import handoff
    from db.engine import session_factory
    from webapp.staff.chats import ENDED, JOINED, REMINDER, SLOT, display_name

    await clock.turn(turns.message(REQUEST, sender))
    with session_factory(url)() as session:
        chat = handoff.open_chat(session, sender)
        if chat is None:
            raise RuntimeError(f"{REQUEST} stored no chat request")
        chat_id = chat.id
        if not handoff.take(session, chat_id, user_id):
            raise RuntimeError("the staff member could not take the chat")
    joined = JOINED.format(name=display_name(STAFF_NAME))
    await append_staff_events(
        agent,
        sender,
        [
            rasa_api.cancel_reminder(REMINDER),
            rasa_api.slot(SLOT, handoff.HELD),
            rasa_api.staff_message(joined, user_id, STAFF_NAME),
        ],
    )
    bot_replies = 0
    for said, answer in zip(PERSON, STAFF, strict=True):
        person = turns.message(said, sender)
        await clock.turn(person)
        bot_replies += len(person.output_channel.messages)
        await append_staff_events(
            agent, sender, [rasa_api.staff_message(answer, user_id, STAFF_NAME)]
        )
    await append_staff_events(
        agent,
        sender,
        [rasa_api.slot(SLOT, None), rasa_api.staff_message(ENDED, user_id, STAFF_NAME)],
    )
    with session_factory(url)() as session:
        ended = handoff.end(session, chat_id, user_id)
    if bot_replies or not ended:
        raise RuntimeError(
            f"the live chat went wrong: {bot_replies} bot replies while held, "
            f"ended {ended}"
        )
    return {"messages_each_way": len(PERSON)}


def ordinary_opening() -> List[str]:
    """A "never" conversation's messages before its questions: the same
    opening, then FAQ questions, as many as an "after" one had with its
    live chat."""
    before = len(OPENING) + 1 + 1 + len(PERSON)  # a question, the request
    questions = [
        turns.QUESTIONS[n % len(turns.QUESTIONS)] for n in range(before - len(OPENING))
    ]
    return [*OPENING, *questions]


def median(values: List[float]) -> Optional[float]:
    return round(statistics.median(values), 2) if values else None


def mean(values: List[float]) -> Optional[float]:
    return round(statistics.fmean(values), 3) if values else None


def summary(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One kind's FAQ turns: each figure per turn, and their medians."""
    keys = (
        "latency_ms",
        "cpu_ms",
        "cpu_outside_nlu_ms",
        "sql_statements",
        "live_chat_sql_statements",
        "actions",
        "action_server_calls",
    )
    per_turn = {key: [row[key] for row in rows] for key in keys}
    return {
        "faq_turns": len(rows),
        **per_turn,
        "median": {key: median(per_turn[key]) for key in keys[:3]},
        "per_turn_mean": {key: mean(per_turn[key]) for key in keys[3:]},
    }


def compare(never: Dict[str, Any], after: Dict[str, Any]) -> Dict[str, Any]:
    """After over never: the ratios of the medians, and the extra calls and
    statements per FAQ turn (mean after less mean never)."""

    def ratio(key: str) -> Optional[float]:
        low, high = never["median"][key], after["median"][key]
        return round(high / low, 3) if low else None

    return {
        "cpu_ratio": ratio("cpu_ms"),
        "latency_ratio": ratio("latency_ms"),
        "cpu_outside_nlu_ratio": ratio("cpu_outside_nlu_ms"),
        "extra_per_faq_turn": {
            key: round(after["per_turn_mean"][key] - never["per_turn_mean"][key], 3)
            for key in never["per_turn_mean"]
        },
    }


async def _run(
    model: Path, database_url: str, rounds: int, conversations: int
) -> Dict[str, Any]:
    from rasa.core import jobs

    counts = Counts()
    agent, store = turns.load_agent(
        model, database_url, kept=True, action_endpoint=counting_endpoint(counts)
    )
    clock = turns.TurnClock(agent)
    user_id = staff_and_other_chats(database_url)
    senders = {
        kind: [f"bench-handoff-{kind}-{n}" for n in range(conversations)]
        for kind in KINDS
    }
    first_question = (turns.QUESTIONS[0],)
    try:
        for n in range(conversations):
            # As many messages before the questions in both kinds.
            for text in OPENING + first_question:
                await clock.turn(turns.message(text, senders["after"][n]))
            await live_chat(agent, clock, senders["after"][n], user_id, database_url)
            for text in ordinary_opening():
                await clock.turn(turns.message(text, senders["never"][n]))
        rows: Dict[str, List[Dict[str, Any]]] = {kind: [] for kind in KINDS}
        called: Dict[str, set] = {kind: set() for kind in KINDS}
        differing = 0
        for number in range(rounds):
            question = turns.QUESTIONS[number % len(turns.QUESTIONS)]
            for n in range(conversations):
                order = KINDS if (number + n) % 2 == 0 else KINDS[::-1]
                replies: Dict[str, List[Any]] = {}
                for kind in order:
                    asked = turns.message(question, senders[kind][n])
                    counts.reset()
                    with counting_sql(counts):
                        wall, cpu, outside = await clock.turn(asked)
                    said = asked.output_channel.messages
                    replies[kind] = [m.get("text") for m in said]
                    called[kind].update(counts.action_names)
                    rows[kind].append(
                        {
                            "latency_ms": round(wall, 2),
                            "cpu_ms": round(cpu, 2),
                            "cpu_outside_nlu_ms": round(outside, 2),
                            "sql_statements": counts.sql,
                            "live_chat_sql_statements": counts.live_chat_sql,
                            "actions": counts.actions,
                            "action_server_calls": counts.action_server,
                        }
                    )
                differing += replies["never"] != replies["after"]
        events = {}
        for kind in KINDS:
            tracker = await store.retrieve(senders[kind][0])
            events[kind] = len(tracker.events)
    finally:
        jobs.kill_scheduler()
        store.engine.dispose()
    never, after = summary(rows["never"]), summary(rows["after"])
    return {
        "conversations": conversations,
        "faq_turns_per_conversation": rounds,
        "other_open_chats": sum(OTHER_CHATS.values()),
        "available_staff": 1,
        "events_at_end": events,
        "faq_turns_with_other_replies": differing,
        "never": {**never, "actions_run": sorted(called["never"])},
        "after": {**after, "actions_run": sorted(called["after"])},
        **compare(never, after),
    }


def measure(
    model: Path,
    rounds: int = ROUNDS,
    conversations: int = CONVERSATIONS,
    databases: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """{"sqlite": {...}, "postgresql": {...}} (the second when the server
    answers; see the module docstring)."""
    from rasa.utils.log_utils import configure_structlog

    from db.engine import get_engine
    from scripts.bench.load import throwaway_database

    configure_structlog(logging.WARNING)
    logging.getLogger("rasa").setLevel(logging.ERROR)
    if databases is None:
        databases = ["sqlite"] + (["postgresql"] if turns.postgres_reachable() else [])
    figures: Dict[str, Any] = {}
    for kind in databases:
        with (
            tempfile.TemporaryDirectory(prefix="ims-bench-handoff-") as tmp,
            throwaway_database(kind, Path(tmp)) as url,
            clinic_environment(url, Path(tmp)),
        ):
            try:
                run = asyncio.run(_run(model, url, rounds, conversations))
            finally:
                get_engine(url).dispose()  # the action server's connections
        figures[kind] = {**run, "database": kind}
    return figures


def print_figures(figures: Dict[str, Any]) -> None:
    """Each database's medians, ratios and extra calls, one line each."""
    for kind, run in figures.items():
        never, after = run["never"]["median"], run["after"]["median"]
        extra = run["extra_per_faq_turn"]
        print(
            f"  {kind}: {run['never']['faq_turns']} FAQ turns of each kind; "
            f"CPU p50 {never['cpu_ms']} ms never, {after['cpu_ms']} ms after a "
            f"live chat ({run['cpu_ratio']} x); latency p50 {never['latency_ms']} "
            f"ms, {after['latency_ms']} ms ({run['latency_ratio']} x); extra per "
            f"FAQ turn: {extra['sql_statements']:g} SQL statements "
            f"({extra['live_chat_sql_statements']:g} on the live-chat tables), "
            f"{extra['action_server_calls']:g} action-server calls",
            flush=True,
        )


def main(argv: Optional[List[str]] = None) -> int:
    from scripts.bench import report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, default=Path("models/ims-assistant.tar.gz")
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--conversations", type=int, default=CONVERSATIONS)
    parser.add_argument("--database", action="append", choices=("sqlite", "postgresql"))
    args = parser.parse_args(argv)
    figures = measure(args.model, args.rounds, args.conversations, args.database)
    print_figures(figures)
    for t in report.handoff_targets({"handoff": figures}):
        print(report.target_line(t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
