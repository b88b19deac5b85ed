"""The socket.io channel: session ids named by replica when REPLICA_NAME is
set, so the load balancer can keep a polling session on its replica; urgent
replies marked for the widget, and plain text on REST and SMS."""

from __future__ import annotations

import json
import os
import re
import secrets
from typing import Any, Dict, List, Tuple

import pytest
from rasa.core.actions.action import ActionBotResponse
from rasa.core.channels import socketio
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from socketio import AsyncRedisManager
from socketio.async_pubsub_manager import AsyncPubSubManager

from channels.socketio_channel import SocketIOInput, WidgetOutput
from channels.twilio_channel import TwilioOutput
from rasa_extensions.urgent_reminder import UrgentReminderNLG
from tests.conftest import assistant_domain


async def _ignore(message) -> None:  # noqa: ANN001 - a UserMessage
    return None


def _session_id(monkeypatch, replica: str) -> str:
    if replica:
        monkeypatch.setenv("REPLICA_NAME", replica)
    else:
        monkeypatch.delenv("REPLICA_NAME", raising=False)
    channel = SocketIOInput(session_persistence=True)
    channel.blueprint(_ignore)
    return channel.sio.eio.generate_id()


def test_a_named_replica_puts_its_name_before_each_session_id(monkeypatch):
    first = _session_id(monkeypatch, "r5005")
    assert re.fullmatch(r"r5005\.[A-Za-z0-9_-]{20}", first), first
    assert _session_id(monkeypatch, "r5005") != first


def test_a_single_process_keeps_engineio_s_own_ids(monkeypatch):
    assert "." not in _session_id(monkeypatch, "")


# ---- several replicas: emits through Redis (#15) ------------------------------


def test_a_single_process_keeps_the_in_process_manager(monkeypatch):
    monkeypatch.delenv("REDIS_HOST", raising=False)
    channel = SocketIOInput(session_persistence=True)
    channel.blueprint(_ignore)
    assert not isinstance(channel.sio.manager, AsyncPubSubManager)


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=3).ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable at 127.0.0.1:6379")
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")


async def test_with_redis_the_api_s_output_reaches_every_replica(monkeypatch):
    """Rasa's HTTP API sends through get_output_channel(); its emit to the
    conversation's room is published for the replica holding the socket."""
    from redis import asyncio as aioredis

    _redis_or_skip()
    prefix = "t" + secrets.token_hex(6)
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("REDIS_PORT", "6379")
    monkeypatch.setenv("REDIS_DB", "1")
    monkeypatch.setenv("LOCK_KEY_PREFIX", prefix)
    channel = SocketIOInput(session_persistence=True)
    channel.blueprint(_ignore)
    assert isinstance(channel.sio.manager, AsyncRedisManager)
    listener = aioredis.Redis.from_url("redis://127.0.0.1:6379/1")
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(f"{prefix}:socketio")
    try:
        output = channel.get_output_channel()
        await output.send_text_message("web:abc", "Hello, Ana here.")
        message = None
        while message is None:  # a subscription's first read may be empty
            message = await pubsub.get_message(timeout=10)
    finally:
        await pubsub.close()
        await listener.close()
        await channel.sio.manager.redis.close()
    published = json.loads(message["data"])
    assert published["method"] == "emit"
    assert (published["event"], published["room"]) == ("bot_uttered", "web:abc")
    assert published["data"] == [{"text": "Hello, Ana here."}]


# ---- urgent replies: marked for the widget, plain text elsewhere -------------

PROFILE_SLOTS = {
    "clinic_name": "Harbour Physio",
    "clinic_emergency_number": "911",
    "clinic_crisis_line": "988",
    "clinic_crisis_line_name": "Suicide Crisis Helpline",
}


class Emits:
    """Stands in for python-socketio's server: keeps what is emitted."""

    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []

    async def emit(self, event: str, data: Any, room: str) -> None:
        assert (event, room) == ("bot_uttered", "visitor")
        self.sent.append(data)


@pytest.fixture(scope="module")
def domain() -> Any:
    return assistant_domain()


def tracker(domain: Any, text: str, **slots: Any) -> DialogueStateTracker:
    found = DialogueStateTracker.from_events(
        "visitor", [UserUttered(text, {"name": "faq", "confidence": 0.9})], domain.slots
    )
    for name, value in {**PROFILE_SLOTS, **slots}.items():
        found.update(SlotSet(name, value))
    return found


async def send(domain: Any, response: str, output: Any, **slots: Any) -> None:
    """Runs Rasa's own action for `response` and sends its message to
    `output`, as the message processor does."""
    nlg = UrgentReminderNLG(domain.responses)
    found = tracker(domain, "help", **slots)
    events = await ActionBotResponse(response).run(output, nlg, found, domain)
    for event in events:
        await output.send_response("visitor", event.message())


def socket_output() -> Tuple[WidgetOutput, Emits]:
    sio = Emits()
    return WidgetOutput(sio, "bot_uttered"), sio


@pytest.mark.parametrize(
    "response, slots",
    [
        ("utter_emergency", {"red_flag": "chest_pain"}),
        ("utter_emergency", {"red_flag": "self_harm"}),
        ("utter_emergency_flagged", {"red_flag": "chest_pain"}),
        ("utter_lead_after_urgent_care", {"red_flag": "chest_pain"}),
    ],
)
async def test_the_widget_gets_urgent_replies_marked(domain, response, slots):
    output, sio = socket_output()
    await send(domain, response, output, **slots)
    assert sio.sent and all(m["metadata"] == {"urgent": True} for m in sio.sent)
    assert all(m["text"] and "{" not in m["text"] for m in sio.sent)


async def test_only_the_reminder_before_an_answer_is_marked(domain):
    output, sio = socket_output()
    await send(domain, "utter_out_of_scope", output, red_flag="chest_pain")
    reminder, answer = sio.sent
    assert reminder["text"].startswith("If you haven't yet, please call 911")
    assert reminder["metadata"] == {"urgent": True}
    assert reminder["quick_replies"] == []
    assert answer["text"].startswith("Sorry, I can only help")
    assert "metadata" not in answer
    assert [b["title"] for b in answer["quick_replies"]] == [
        "What is IMS?",
        "Talk to the clinic",
    ]


@pytest.mark.parametrize("response", ["utter_out_of_scope", "utter_greet"])
async def test_other_replies_are_sent_as_rasa_sends_them(domain, response):
    output, sio = socket_output()
    await send(domain, response, output)
    rasa_sio = Emits()
    await send(domain, response, socketio.SocketIOOutput(rasa_sio, "bot_uttered"))
    assert sio.sent == rasa_sio.sent
    assert all("metadata" not in m for m in sio.sent)


@pytest.mark.parametrize(
    "response", ["utter_emergency", "utter_out_of_scope", "utter_urgent_reminder"]
)
async def test_rest_gets_plain_text(domain, response):
    output = CollectingOutputChannel()
    await send(domain, response, output, red_flag="chest_pain")
    assert output.messages
    for message in output.messages:
        assert set(message) <= {"recipient_id", "text", "buttons"}, message
    assert output.messages[0]["text"].startswith(
        ("What you describe", "If you haven't yet")
    )


@pytest.mark.parametrize("response", ["utter_emergency", "utter_out_of_scope"])
async def test_sms_gets_plain_text(domain, response):
    delivered: List[str] = []

    async def deliver(recipient_id: str, text: str, force: bool = False) -> int:
        delivered.append(text)
        return 1

    output = TwilioOutput(channel=None)  # type: ignore[arg-type]
    output.deliver = deliver  # type: ignore[method-assign]
    await send(domain, response, output, red_flag="chest_pain")
    rest = CollectingOutputChannel()
    await send(domain, response, rest, red_flag="chest_pain")
    # One text: the paragraphs the REST channel sends, then numbered buttons.
    [text] = delivered
    assert text.startswith("\n\n".join(m["text"] for m in rest.messages))
    assert "call 911" in text and "metadata" not in text
