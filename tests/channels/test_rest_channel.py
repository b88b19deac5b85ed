"""The REST channel's modes (#14): off by default, open only when
REST_CHANNEL=open, a bearer token required when REST_CHANNEL_TOKEN is set;
and its conversations are always `rest:<sender>`."""

from __future__ import annotations

import uuid
from typing import Dict, List, Optional

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.rest_channel import RestInput
from scripts.ports import free_port
from tests.channels.test_twilio_webhook import shut

BODY = {"sender": "+16045550188", "message": "skip"}


@pytest.fixture
async def webhook():
    received: List[UserMessage] = []

    async def handle(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "ok")

    Sanic.test_mode = True
    app = Sanic(f"rest_{uuid.uuid4().hex}")
    app.blueprint(RestInput().blueprint(handle), url_prefix="/webhooks/rest")
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/rest/webhook", received
    finally:
        await shut(server)


async def post(url: str, headers: Optional[Dict[str, str]] = None, body=BODY):
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers or {}) as response,
    ):
        return response.status, await response.json(content_type=None)


@pytest.fixture
def mode(monkeypatch):
    def set_mode(open_: str = "", token: str = "") -> None:
        for name, value in (("REST_CHANNEL", open_), ("REST_CHANNEL_TOKEN", token)):
            if value:
                monkeypatch.setenv(name, value)
            else:
                monkeypatch.delenv(name, raising=False)

    return set_mode


async def test_off_unless_configured(webhook, mode):
    url, received = webhook
    mode()
    status, body = await post(url)
    assert status == 403 and "REST_CHANNEL_TOKEN" in body["error"]
    assert received == []


async def test_open_for_local_development(webhook, mode):
    url, received = webhook
    mode(open_="open")
    status, body = await post(url)
    assert status == 200 and body == [
        {"recipient_id": "rest:+16045550188", "text": "ok"}
    ]
    (message,) = received
    assert (message.sender_id, message.input_channel) == ("rest:+16045550188", "rest")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Basic c2VjcmV0LXRva2Vu"},
        {"Authorization": "secret-token"},
        {"Authorization": "Bearer secret-token-and-more"},
    ],
)
async def test_the_token_is_required_when_set(webhook, mode, headers):
    url, received = webhook
    mode(open_="open", token="secret-token")  # the token wins over open
    status, body = await post(url, headers)
    assert status == 401 and "token" in body["error"]
    assert received == []


async def test_the_token_lets_a_client_in(webhook, mode):
    url, received = webhook
    mode(token="secret-token")
    status, _ = await post(url, {"Authorization": "Bearer secret-token"})
    assert status == 200 and received[0].sender_id == "rest:+16045550188"


async def test_a_bad_body_is_still_a_400_when_allowed(webhook, mode):
    url, _ = webhook
    mode(token="secret-token")
    status, body = await post(url, {"Authorization": "Bearer secret-token"}, [1])
    assert status == 400 and "object" in body["error"]


def test_a_bad_rest_channel_setting_is_named(monkeypatch):
    from clinic.settings import SettingsError, get_settings

    monkeypatch.setenv("REST_CHANNEL", "yes please")
    with pytest.raises(SettingsError, match="REST_CHANNEL"):
        get_settings()
