"""No channel can reach another's conversation (#14, item 1), in process.

One Sanic server with the three project channels (Twilio, REST, socket.io)
and a stand-in agent whose every reply repeats what the conversation said
before, so any reply from someone else's conversation shows. The same attack
on the whole stack with the real model is in tests/system/test_security.py.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, List, Optional

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.rest_channel import RestInput
from channels.socketio_channel import UNREADABLE, SocketIOInput
from channels.twilio_channel import TwilioChannel, TwilioSettings
from scripts.ports import free_port
from tests.channels.test_twilio_webhook import (
    CLINIC_SMS,
    CLINIC_WHATSAPP,
    PUBLIC,
    TOKEN,
    Webhook,
    known_store,
    shut,
)
from tests.stack import Widget

VICTIM = "+16045550123"  # known_store's number: no first-contact notice
SECRET_TEXT = "My name is Jane Doe, phone 604 555 0123, my back hurts"


class EchoAgent:
    """Answers every message with what its conversation said before."""

    def __init__(self) -> None:
        self.said: Dict[str, List[str]] = {}

    async def handle_message(self, message: UserMessage) -> None:
        before = self.said.setdefault(message.sender_id, [])
        reply = "Earlier: " + (" | ".join(before) or "nothing")
        before.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, reply)


async def serve(agent: EchoAgent, twilio: TwilioChannel) -> tuple:
    Sanic.test_mode = True
    app = Sanic(f"isolation_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    handler = agent.handle_message
    app.blueprint(twilio.blueprint(handler), url_prefix="/webhooks/twilio")
    app.blueprint(RestInput().blueprint(handler), url_prefix="/webhooks/rest")
    app.blueprint(SocketIOInput(session_persistence=True).blueprint(handler))
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture
async def stack(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CHAT_SESSION_SECRET", "isolation-test-secret")
    monkeypatch.setenv("REST_CHANNEL", "open")
    monkeypatch.delenv("REST_CHANNEL_TOKEN", raising=False)
    settings = TwilioSettings(
        auth_token=TOKEN,
        public_url=PUBLIC,
        sms_number=CLINIC_SMS,
        whatsapp_number=CLINIC_WHATSAPP,
        local_dir=tmp_path,
    )
    twilio = TwilioChannel(settings, store=known_store(database_url))
    agent = EchoAgent()
    server, base = await serve(agent, twilio)
    try:
        yield {
            "base": base,
            "agent": agent,
            "phone": Webhook(base, twilio, agent, database_url),
        }
    finally:
        await shut(server)


async def rest(base: str, body: Any, headers: Optional[Dict[str, str]] = None) -> tuple:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/webhooks/rest/webhook", json=body, headers=headers or {}
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_the_attack_from_the_issue_sees_nothing_of_the_sms_conversation(
    stack,
):
    # A signed SMS starts the conversation of the number ...
    assert await stack["phone"].say(SECRET_TEXT, sender=VICTIM) == ["Earlier: nothing"]
    assert stack["agent"].said == {f"tel:{VICTIM}": [SECRET_TEXT]}
    # ... REST naming the number, bare or as its conversation id, sees none of it
    for sender in (VICTIM, f"tel:{VICTIM}", "16045550123"):
        status, replies = await rest(
            stack["base"], {"sender": sender, "message": "skip"}
        )
        assert status == 200
        assert [r["text"] for r in replies] == ["Earlier: nothing"], sender
        assert replies[0]["recipient_id"] == f"rest:{sender}"
    # ... nor does socket.io asking for those ids
    for requested in (VICTIM, f"tel:{VICTIM}"):
        widget = Widget(stack["base"])
        try:
            await widget.connect(requested)
            assert widget.session_id not in (requested, f"tel:{VICTIM}")
            assert await widget.ask("skip") == "Earlier: nothing"
        finally:
            await widget.close()
    # and the number's own conversation was never touched
    assert stack["agent"].said[f"tel:{VICTIM}"] == [SECRET_TEXT]
    assert all(
        key.startswith(("rest:", "web:")) or key == f"tel:{VICTIM}"
        for key in stack["agent"].said
    )


async def test_socketio_reconnects_with_its_signed_token_only(stack):
    first = Widget(stack["base"])
    try:
        await first.connect(None)
        token = first.session_id
        assert await first.ask("hello") == "Earlier: nothing"
    finally:
        await first.close()
    again = Widget(stack["base"])  # the widget after a reload: same token
    try:
        await again.connect(token)
        assert again.session_id == token
        assert await again.ask("and again") == "Earlier: hello"
    finally:
        await again.close()
    key, signature = token.split(".")
    forged = f"{key}.{'0' * len(signature)}"
    other = Widget(stack["base"])  # the key without the server's signature
    try:
        await other.connect(forged)
        assert other.session_id not in (token, forged)
        assert await other.ask("who?") == "Earlier: nothing"
    finally:
        await other.close()


async def test_a_message_for_an_unsigned_session_is_not_taken(stack):
    widget = Widget(stack["base"])
    try:
        await widget.connect(None)
        before = len(widget.replies)
        await widget.send({"message": "hi", "session_id": f"tel:{VICTIM}"})
        await widget.wait_for(before + 1)
        assert widget.replies[-1]["text"] == UNREADABLE
    finally:
        await widget.close()
    assert not any(key.startswith("web:") for key in stack["agent"].said)
