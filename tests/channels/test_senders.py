"""Sending: Twilio's REST API (against a local stand-in for Twilio, over
real HTTP) with retries and backoff, and local mode's recorder."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Dict, List

import pytest
from aiohttp import web

from channels.senders import LocalOutbox, Outgoing, TwilioRestSender, read_outbox
from scripts.ports import free_port

SID, TOKEN = "AC" + "a" * 32, "test-token"
MESSAGE = Outgoing(to="+16045550123", from_="+16045550100", body="Hello", medium="sms")


class FakeTwilio:
    """Answers each POST with the next of `answers` (status, json, headers)."""

    def __init__(self, answers: List[Any]) -> None:
        self.answers = list(answers)
        self.requests: List[Dict[str, Any]] = []

    async def messages(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append(
            {
                "path": request.path,
                "auth": request.headers.get("Authorization", ""),
                "form": dict(form),
            }
        )
        status, body, headers = self.answers.pop(0)
        return web.json_response(body, status=status, headers=headers)


@pytest.fixture
async def twilio_api():
    servers = []

    async def serve(answers):
        fake = FakeTwilio(answers)
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", fake.messages)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        servers.append(runner)
        return fake, f"http://127.0.0.1:{port}"

    yield serve
    for runner in servers:
        await runner.cleanup()


def make_sender(base: str, slept: List[float], attempts: int = 5) -> TwilioRestSender:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return TwilioRestSender(SID, TOKEN, api_base=base, attempts=attempts, sleep=sleep)


async def test_a_message_is_posted_to_twilios_messages_api(twilio_api):
    fake, base = await twilio_api([(201, {"sid": "SM123"}, {})])
    sender = make_sender(base, [])
    result = await sender.send(MESSAGE)
    await sender.close()
    assert result.ok and result.sid == "SM123"
    (request,) = fake.requests
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["form"] == {
        "To": "+16045550123",
        "From": "+16045550100",
        "Body": "Hello",
    }
    expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request["auth"] == f"Basic {expected}"


async def test_server_errors_and_throttling_are_retried_with_backoff(twilio_api):
    fake, base = await twilio_api(
        [
            (500, {"code": 20500}, {}),
            (503, {}, {}),
            (429, {"code": 20429}, {"Retry-After": "7"}),
            (201, {"sid": "SM9"}, {}),
        ]
    )
    slept: List[float] = []
    sender = make_sender(base, slept)
    result = await sender.send(MESSAGE)
    await sender.close()
    assert result.ok and result.sid == "SM9"
    assert len(fake.requests) == 4
    assert slept == [1.0, 2.0, 7.0]  # doubling, or Twilio's Retry-After if longer


async def test_sending_gives_up_after_the_last_attempt(twilio_api):
    fake, base = await twilio_api([(500, {}, {})] * 3)
    slept: List[float] = []
    sender = make_sender(base, slept, attempts=3)
    result = await sender.send(MESSAGE)
    await sender.close()
    assert not result.ok and len(fake.requests) == 3 and slept == [1.0, 2.0]


async def test_a_refusal_is_not_retried(twilio_api):
    fake, base = await twilio_api(
        [(400, {"code": 21610, "message": "unsubscribed"}, {})]
    )
    sender = make_sender(base, [])
    result = await sender.send(MESSAGE)
    await sender.close()
    assert (result.ok, result.error_code, len(fake.requests)) == (False, 21610, 1)


async def test_network_errors_are_retried():
    slept: List[float] = []
    sender = make_sender(f"http://127.0.0.1:{free_port()}", slept, attempts=2)
    result = await sender.send(MESSAGE)  # nothing listens there
    await sender.close()
    assert not result.ok and slept == [1.0]


async def test_sending_does_not_block_the_event_loop():
    """While Twilio is slow to answer, the loop keeps serving other work (the
    stand-in for Twilio runs on the same loop: a blocking client would hang)."""
    gate = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await gate.wait()
        return web.json_response({"sid": "SM1"}, status=201)

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sender = make_sender(f"http://127.0.0.1:{port}", [])
    sending = asyncio.create_task(sender.send(MESSAGE))
    await asyncio.sleep(0.05)
    assert not sending.done()  # waiting on Twilio ...
    gate.set()  # ... while this coroutine runs and releases it
    assert (await asyncio.wait_for(sending, 30)).ok
    await sender.close()
    await runner.cleanup()


async def test_local_mode_records_messages_in_memory_and_as_json_lines(tmp_path):
    outbox = LocalOutbox(tmp_path / "var" / "outbox.jsonl")
    await outbox.send(MESSAGE)
    await outbox.send(
        Outgoing("whatsapp:+16045550123", "whatsapp:+1", "Hi ✓", "whatsapp")
    )
    records = read_outbox(tmp_path / "var" / "outbox.jsonl")
    assert [r["body"] for r in records] == ["Hello", "Hi ✓"]
    assert [r["to"] for r in records] == ["+16045550123", "whatsapp:+16045550123"]
    assert records == outbox.sent
    assert read_outbox(tmp_path / "missing.jsonl") == []
