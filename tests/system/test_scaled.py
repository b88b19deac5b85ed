"""The scaled-out set-up (`make run-scaled`): two Rasa replicas and two action
servers behind the proxy, Redis locks, the SQL tracker store and leads on a
throwaway PostgreSQL database.

Turns of several conversations go alternately and concurrently to both
replicas, directly and through the proxy, some at the very same moment to
both: every transcript must be complete, in order, without lost or doubled
turns, and a lead submitted on both replicas at once is stored once.
Then a load run: 16 conversations at once for 60 seconds, after which the
tracker store holds every turn that was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle
from typing import Dict, List, Sequence, Tuple

import pytest
from sqlalchemy import create_engine, select

from clinic.conversation_ids import rest_conversation_id
from db.models import Lead
from tests.conversation import tracker_events
from tests.stack import Widget, http, say, texts
from tests.webapp.staff.conftest import csrf_from

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FAQS = [
    "how often do I need IMS?",
    "does IMS hurt?",
    "what is IMS?",
    "how long does a session take?",
    "will I be sore after IMS?",
    "who performs IMS?",
    "is IMS the same as acupuncture?",
    "what should I do after IMS?",
]
BOOKING = [
    "I'd like to book an assessment",
    "Rowan Scaled",
    "604 555 0142",
    "phone call",
    "Afternoons",
    "yes",  # consent, before any health detail
    "tight calves from running",
    "about 2 months",
    "no",
]


def said(events: Sequence[Tuple[str, dict]]) -> List[str]:
    return [data["text"] for kind, data in events if kind == "user"]


def assert_well_formed(events: Sequence[Tuple[str, dict]]) -> None:
    """One session; every turn answered and closed before the next begins."""
    kinds = [kind for kind, _ in events]
    assert kinds.count("session_started") == 1, kinds
    turn: List[str] = []
    for kind, data in events[kinds.index("session_started") :]:
        if kind == "user":
            assert not turn or turn[-1] == "action_listen", turn
            turn = []
        elif kind == "bot":
            turn.append("bot")
        elif kind == "action":
            turn.append(data.get("name"))
    listens = [d for k, d in events if k == "action" and d["name"] == "action_listen"]
    assert len(listens) == kinds.count("user") + 1  # + the one after session start


def converse(urls: Sequence[str], sender: str, messages: Sequence[str]) -> List[str]:
    """Sends the turns in order, each to the next URL in turn."""
    replies = []
    for url, message in zip(cycle(urls), messages):
        answer = texts(say(url, sender, message))
        assert answer, (sender, message)
        replies.append(answer)
    return replies


def at_once(calls: Sequence[Tuple[str, str, str]]) -> List[str]:
    """Sends (url, sender, message) calls at the same moment."""
    start = threading.Barrier(len(calls))

    def call(url: str, sender: str, message: str) -> str:
        start.wait()
        return texts(say(url, sender, message))

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda c: call(*c), calls))


def test_conversations_across_replicas_keep_every_turn(scaled_run):
    a, b = scaled_run["replicas"]
    proxy = scaled_run["url"]
    run = uuid.uuid4().hex[:6]
    plans: Dict[str, Tuple[Sequence[str], List[str]]] = {}
    for i in range(6):
        urls = [proxy] if i >= 4 else ([a, b] if i % 2 else [b, a])
        messages = [FAQS[(i + k) % len(FAQS)] for k in range(6)]
        plans[f"scaled-{run}-{i}"] = (urls, messages)

    def burst(sender: str) -> List[str]:
        # New conversation, then pairs of messages at once, one per replica.
        sent = []
        for k in range(3):
            pair = [FAQS[k], FAQS[k + 3]]
            at_once([(a, sender, pair[0]), (b, sender, pair[1])])
            sent += pair
        return sent

    burst_sender = f"scaled-{run}-burst"
    with ThreadPoolExecutor(len(plans) + 1) as pool:
        jobs = {s: pool.submit(converse, u, s, m) for s, (u, m) in plans.items()}
        burst_job = pool.submit(burst, burst_sender)
        for job in [*jobs.values(), burst_job]:
            job.result()

    db = scaled_run["db"]
    for sender, (_, messages) in plans.items():
        events = tracker_events(db, rest_conversation_id(sender))
        assert said(events) == list(messages), sender
        assert_well_formed(events)
    events = tracker_events(db, rest_conversation_id(burst_sender))
    assert sorted(said(events)) == sorted(burst_job.result())
    assert_well_formed(events)


def test_a_lead_submitted_on_both_replicas_at_once_is_stored_once(scaled_run):
    a, b = scaled_run["replicas"]
    sender = f"scaled-lead-{uuid.uuid4().hex[:6]}"
    replies = converse([a, b], sender, BOOKING)
    assert "Rowan Scaled" in replies[-1]  # the summary to confirm
    finals = at_once([(a, sender, "yes, send it"), (b, sender, "yes, send it")])
    engine = create_engine(scaled_run["db"], future=True)
    with engine.connect() as conn:
        leads = conn.execute(
            select(Lead).where(Lead.sender_id == rest_conversation_id(sender))
        ).all()
    engine.dispose()
    assert len(leads) == 1
    assert sum(leads[0].reference in final for final in finals) == 1
    events = tracker_events(scaled_run["db"], rest_conversation_id(sender))
    assert said(events) == [*BOOKING, "yes, send it", "yes, send it"]
    assert_well_formed(events)


def test_socketio_sessions_stay_on_their_replica_through_the_proxy(scaled_run):
    """Engine.IO polling needs every request of a session on one replica."""

    async def talk(question: str) -> str:
        widget = Widget(scaled_run["url"])
        await widget.connect(f"scaled-{uuid.uuid4().hex}")
        try:
            first = await widget.ask(question)
            second = await widget.ask("how often do I need IMS?")
            return first + "\n" + second
        finally:
            await widget.close()

    async def many() -> List[str]:
        return await asyncio.gather(*(talk(q) for q in FAQS[:4]))

    for answer in asyncio.run(many()):
        assert "week" in answer


def test_socketio_over_websocket_through_the_proxy(scaled_run):
    """Engine.IO v4 spoken over a raw WebSocket: the proxy relays frames both
    ways (python-engineio's own WebSocket client needs a newer aiohttp)."""
    import aiohttp

    session_id = f"ws-{uuid.uuid4().hex}"
    url = scaled_run["url"].replace("http", "ws", 1)

    async def talk() -> List[str]:
        frames: List[str] = []
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket") as ws,
        ):

            async def until(predicate) -> str:  # noqa: ANN001
                while True:
                    frame = await asyncio.wait_for(ws.receive_str(), 60)
                    frames.append(frame)
                    if frame == "2":  # Engine.IO ping
                        await ws.send_str("3")
                    elif predicate(frame):
                        return frame

            await until(lambda f: f.startswith("0{"))
            await ws.send_str("40")
            await until(lambda f: f.startswith("40"))
            request = {"session_id": session_id}
            await ws.send_str("42" + json.dumps(["session_request", request]))
            confirm = await until(lambda f: "session_confirm" in f)
            token = json.loads(confirm[2:])[1]  # the server's id, not ours (#14)
            message = {"message": "how often do I need IMS?", "session_id": token}
            await ws.send_str("42" + json.dumps(["user_uttered", message]))
            await until(lambda f: "bot_uttered" in f)
        return frames

    frames = asyncio.run(talk())
    assert any("session_confirm" in f for f in frames)
    assert not any("session_confirm" in f and session_id in f for f in frames)
    assert any("bot_uttered" in f and "week" in f for f in frames)


def test_load_16_conversations_for_60_seconds(scaled_run):
    """Every acknowledged turn is in the tracker store afterwards, in order."""
    proxy, db = scaled_run["url"], scaled_run["db"]
    run = uuid.uuid4().hex[:6]
    deadline = time.monotonic() + 60
    errors: List[str] = []

    def conversation(n: int) -> Tuple[str, List[str]]:
        sender, acknowledged = f"load-{run}-{n}", []
        for message in cycle(FAQS[n % 3 :] + FAQS[: n % 3]):
            if time.monotonic() > deadline:
                break
            status, replies, _ = http(
                f"{proxy}/webhooks/rest/webhook",
                {"sender": sender, "message": message},
            )
            if status == 200 and replies:
                acknowledged.append(message)
            else:
                errors.append(f"{status}: {replies!r:.200}")
        return sender, acknowledged

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(conversation, range(16)))
    turns = sum(len(acknowledged) for _, acknowledged in results)
    print(f"load run: {turns} turns acknowledged, {len(errors)} errors")
    assert not errors, errors[:5]
    for sender, acknowledged in results:
        assert acknowledged, sender
        events = tracker_events(db, rest_conversation_id(sender))
        assert said(events) == acknowledged, sender
        assert_well_formed(events)


def test_a_staff_message_sent_through_the_other_replica_reaches_the_widget(
    scaled_run,
):
    """Live chat (#15): the staff app appends its message through the API of
    whichever replica it reaches, not always the one holding the widget's
    socket.io connection; the emit must still reach the widget (through
    Redis, channels/socketio_channel.py)."""
    from clinic.rasa_api import append_events, staff_message

    by_name = {"r" + url.rsplit(":", 1)[1]: url for url in scaled_run["replicas"]}

    async def talk() -> Tuple[str, List[dict]]:
        widget = Widget(scaled_run["url"])
        await widget.connect()
        try:
            # The person's latest message came from the widget: the API's
            # output_channel=latest is then the socket.io channel.
            assert "week" in await widget.ask("how often do I need IMS?")
            holder = widget.client.eio.sid.split(".", 1)[0]
            other = next(url for name, url in by_name.items() if name != holder)
            before = len(widget.replies)
            message = staff_message("Hello, Ana from the clinic here.", 1, "ana")
            await asyncio.to_thread(
                append_events,
                other,
                scaled_run["token"],
                widget.conversation,
                [message],
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await widget.wait_for(before + 1)  # asserted below, with what came
            return holder, widget.replies[before:]
        finally:
            await widget.close()

    holder, received = asyncio.run(talk())
    assert holder in by_name  # the session id names its replica
    assert [r.get("text") for r in received] == ["Hello, Ana from the clinic here."], (
        received
    )


def test_live_chat_through_the_staff_app_on_the_scaled_set_up(scaled_run):
    """Live chat end to end on `make run-scaled` (#15): a patient in the
    widget through the proxy, a front-desk member in the web app that
    run_scaled.sh started. The web app reaches Rasa through the API listener,
    which keeps a conversation on one replica, not necessarily the one
    holding the widget's socket; its messages reach the widget, and the
    transcript, in the order they were sent."""
    import requests

    from tests.webapp.staff.conftest import PASSWORD, add_user
    from webapp.staff import roles

    web, db = scaled_run["web"], scaled_run["db"]
    add_user(db, "sam", role=roles.FRONT_DESK)
    staff = requests.Session()

    def post(page: str, action: str, **data: str) -> None:
        html = staff.get(f"{web}{page}", timeout=30).text
        token = csrf_from(html)
        answer = staff.post(
            f"{web}{action}",
            data={"csrf_token": token, **data},
            headers={"Referer": f"{web}{page}"},
            allow_redirects=False,
            timeout=60,
        )
        assert answer.status_code == 303, (action, answer.status_code)

    post("/staff/login", "/staff/login", username="sam", password=PASSWORD)
    post("/staff/chats", "/staff/chats/availability", available="on")

    async def talk() -> Tuple[str, List[str]]:
        widget = Widget(scaled_run["url"])
        await widget.connect()
        try:
            seen = len(widget.replies)

            async def told(predicate, timeout: float = 60) -> str:
                nonlocal seen
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    for reply in widget.replies[seen:]:
                        seen += 1
                        if predicate(reply.get("text") or ""):
                            return reply["text"]
                    await asyncio.sleep(0.05)
                raise AssertionError(f"not told; got {widget.replies[-5:]}")

            await widget.send(
                {"message": "/request_human", "session_id": widget.session_id}
            )
            await told(lambda t: "asking the front desk to join" in t)
            chat_id = await asyncio.to_thread(open_chat_id, db, widget.conversation)
            page = f"/staff/chats/{chat_id}"
            await asyncio.to_thread(post, page, f"{page}/take")
            await told(lambda t: t.startswith("Sam from the clinic has joined"))
            for turn in range(1, 4):
                await asyncio.to_thread(
                    post, page, f"{page}/reply", text=f"Staff {turn}"
                )
                await told(lambda t, n=turn: t == f"Staff {n}")
                await widget.send(
                    {"message": f"Person {turn}", "session_id": widget.session_id}
                )
            await asyncio.sleep(2)  # the bot stays silent to the person's messages
            assert all(
                (r.get("text") or "").startswith("Staff") for r in widget.replies[seen:]
            ), widget.replies[seen:]
            await asyncio.to_thread(post, page, f"{page}/end")
            await told(lambda t: t == "You're back with the automated assistant.")
            answer = await widget.ask("how often do I need IMS?")
            return widget.conversation, [answer]
        finally:
            await widget.close()

    conversation, [answer] = asyncio.run(talk())
    assert "week" in answer
    events = tracker_events(db, conversation)
    lines = [
        data.get("text")
        for kind, data in events
        if kind in ("user", "bot")
        and (data.get("text") or "").startswith(("Staff ", "Person "))
    ]
    assert lines == [f"{who} {n}" for n in (1, 2, 3) for who in ("Staff", "Person")]


def open_chat_id(database_url: str, conversation: str) -> int:
    """The id of the conversation's open live-chat request, once it exists."""
    from db import handoff
    from db.engine import session_factory

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with session_factory(database_url)() as session:
            chat = handoff.open_chat(session, conversation)
            if chat is not None:
                return chat.id
        time.sleep(0.2)
    raise AssertionError("no open chat request")
