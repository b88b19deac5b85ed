"""Bad input on every public endpoint of what `make run` starts.

The REST webhook, socket.io (the Engine.IO handshake and `user_uttered`
events), the Twilio webhook and the staff login get empty bodies, wrong
JSON types, oversize messages, invalid UTF-8, control characters and very
long sender ids, from hypothesis and from a list of known troublemakers.
Never a 500, never silence where a person could be waiting, and the
servers keep answering afterwards. Oversize input gets 413 (HTTP) or a
polite reply (socket.io).
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
import uuid
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.socketio_channel import UNREADABLE
from rasa_extensions.channel_guard import MAX_MESSAGE_CHARS, MAX_SENDER_CHARS, TOO_LONG
from tests.stack import Widget, http, say, texts

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)
# Any text, control characters included; long enough to matter, short
# enough to keep the run quick.
TEXT = st.text(max_size=300)


def webhook(stack) -> str:
    return f"{stack['url']}/webhooks/rest/webhook"


def expected_status(body: Any) -> int:
    """What the REST channel must answer to a JSON body."""
    if not isinstance(body, dict):
        return 400
    sender = body.get("sender")
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)
    if (
        not isinstance(sender, str)
        or not 0 < len(sender) <= MAX_SENDER_CHARS
        or sender != sender.strip()
        or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in sender)
    ):
        return 400
    message = body.get("message")
    if not isinstance(message, str):
        return 400
    if len(message) > MAX_MESSAGE_CHARS:
        return 413
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return 400
    return 200


def check_rest(stack, raw: bytes, expected: Optional[int] = None) -> Any:
    status, replies, _ = http(webhook(stack), raw)
    assert status != 500
    if expected is not None:
        assert status == expected, (status, replies)
    if status == 200:
        assert isinstance(replies, list) and replies, "a 200 without a reply"
        assert all(r.get("text") or r.get("buttons") for r in replies)
    return replies


# --- REST webhook -----------------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
def test_rest_any_body_is_refused_or_answered(made_run, raw):
    status, _, _ = http(webhook(made_run), raw)
    assert status in (200, 400, 413)


@FUZZ
@given(
    sender=st.text(max_size=150) | st.integers() | JSON,
    message=TEXT | JSON,
    metadata=st.none() | JSON,
)
def test_rest_fields_of_any_type(made_run, sender, message, metadata):
    body: Dict[str, Any] = {"sender": sender, "message": message}
    if metadata is not None:
        body["metadata"] = metadata
    raw = json.dumps(body).encode()
    check_rest(made_run, raw, expected_status(body))


def as_json(sender: Any, message: Any, **extra: Any) -> bytes:
    return json.dumps({"sender": sender, "message": message, **extra}).encode()


TROUBLEMAKERS = {
    "empty body": (b"", 400),
    "null": (b"null", 400),
    "array": (b"[]", 400),
    "string": (b'"hello"', 400),
    "truncated JSON": (b'{"sender": "a", "message": "hi', 400),
    "invalid UTF-8": (b'{"sender": "a", "message": "caf\xc3\x28 \xff\xfe"}', 400),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, 413),
    "nested under the limit": (b"[" * 30_000 + b"]" * 30_000, 400),
    "message a number": (as_json("fuzz-1", 12), 400),
    "message null": (as_json("fuzz-1", None), 400),
    "sender missing": (json.dumps({"message": "hi"}).encode(), 400),
    "sender an object": (as_json({"id": 1}, "hi"), 400),
    "sender empty": (as_json("", "hi"), 400),
    "sender with NUL": (as_json("fuzz\x00one", "hi"), 400),
    "sender 10,000 characters": (as_json("s" * 10_000, "hi"), 400),
    "sender at the limit": (as_json("s" * MAX_SENDER_CHARS, "hi"), 200),
    "sender a number": (as_json(12345, "hi"), 200),
    "metadata a list": (as_json("fuzz-1", "hi", metadata=[1]), 400),
    "control characters": (as_json("fuzz-2", "\x00\x01\x1b[31mhi\x7f\u202e"), 200),
    "lone surrogate": (as_json("fuzz-3", "IMS \ud800 cost?"), 200),
    "emoji and RTL": (as_json("fuzz-4", "هل IMS مؤلم؟ 🧷💉"), 200),
    "message at the limit": (as_json("fuzz-5", "ims " * (MAX_MESSAGE_CHARS // 4)), 200),
    "message over the limit": (as_json("fuzz-6", "x" * (MAX_MESSAGE_CHARS + 1)), 413),
    "message of 60 KB": (as_json("fuzz-7", "x" * 60_000), 413),
    "message of 1 MB": (as_json("fuzz-8", "x" * 1_000_000), 413),
}


@pytest.mark.parametrize("raw, expected", TROUBLEMAKERS.values(), ids=TROUBLEMAKERS)
def test_rest_troublemakers(made_run, raw, expected):
    check_rest(made_run, raw, expected)


def test_rest_client_cannot_choose_the_channel_name(made_run):
    """The channel recorded with a message decides, e.g., whether the sender
    id is offered as the person's phone number: a client may not pick it."""
    raw = as_json("+16045550177", "I'd like to book an assessment")
    body = json.loads(raw)
    body["input_channel"] = "twilio"
    replies = texts(check_rest(made_run, json.dumps(body).encode(), 200))
    assert "What's your name?" in replies
    name = texts(say(made_run["url"], "+16045550177", "Ana Fuzz"))
    assert "604" not in name  # the web visitor's "sender" is not offered as phone
    say(made_run["url"], "+16045550177", "cancel")


# --- socket.io --------------------------------------------------------------


def engineio(stack, query: str, body: Optional[bytes] = None):
    return http(f"{stack['url']}/socket.io/?{query}", body, headers={})


def test_socketio_handshake_and_bad_polling_requests(made_run):
    status, opened, _ = engineio(made_run, "EIO=4&transport=polling")
    assert status == 200 and opened.startswith("0{")
    sid = json.loads(opened[1:])["sid"]
    for query, body in [
        ("EIO=3&transport=polling", None),
        ("EIO=4&transport=carrier-pigeon", None),
        ("EIO=4&transport=polling&sid=nosuchsession", None),
        ("EIO=4&transport=polling&sid=" + "x" * 5000, None),
        (f"EIO=4&transport=polling&sid={sid}", b"\xff\xfe\x00garbage"),
        (f"EIO=4&transport=polling&sid={sid}", b"4" + b"[" * 50_000),
        (f"EIO=4&transport=polling&sid={sid}", b'42["user_uttered", 5]'),
        ("EIO=4&transport=polling&" + urllib.parse.quote("\x00\u202e"), None),
    ]:
        status, _, _ = engineio(made_run, query, body)
        assert status in (200, 400, 404, 413), (query, status)
    status, opened, _ = engineio(made_run, "EIO=4&transport=polling")
    assert status == 200 and opened.startswith("0{")


def test_socketio_conversation_gets_its_replies(made_run):
    """With session persistence on, replies go to the session's room: the
    client must have joined it (Rasa 3.6 forgot to await enter_room)."""

    async def talk() -> str:
        widget = Widget(made_run["url"])
        await widget.connect(f"fuzz-{uuid.uuid4().hex}")
        try:
            return await widget.ask("how often do I need IMS?")
        finally:
            await widget.close()

    assert "week" in asyncio.run(talk())


def socket_payloads(session_id: str):
    good = st.fixed_dictionaries(
        {"message": TEXT, "session_id": st.just(session_id)},
        optional={"metadata": JSON | st.text(max_size=30)},
    )
    bad = JSON | st.fixed_dictionaries(
        {"message": JSON, "session_id": st.just(session_id) | JSON}
    )
    return st.lists(good | bad, min_size=3, max_size=8)


@settings(FUZZ, max_examples=6)
@given(data=st.data())
def test_socketio_any_payload_gets_a_reply(made_run, data):
    session_id = f"fuzz-{uuid.uuid4().hex}"
    payloads = data.draw(socket_payloads(session_id))

    async def run() -> List[Dict[str, Any]]:
        widget = Widget(made_run["url"])
        await widget.connect(session_id)
        token = widget.session_id  # the server's signed id replaces ours (#14)
        try:
            for payload in payloads:
                if (
                    isinstance(payload, dict)
                    and payload.get("session_id") == session_id
                ):
                    payload = {**payload, "session_id": token}
                await widget.send(payload)
            await widget.wait_for(len(payloads))  # no payload goes unanswered
            return widget.replies
        finally:
            await widget.close()

    replies = asyncio.run(run())
    unreadable = [
        p
        for p in payloads
        if not isinstance(p, dict)
        or not isinstance(p.get("message"), str)
        or p.get("session_id") != session_id
    ]
    said = [r.get("text") for r in replies]
    assert said.count(UNREADABLE) >= len(unreadable)


def test_socketio_bad_session_ids_and_oversize_messages(made_run):
    async def run() -> Dict[str, str]:
        results = {}
        for name, session_id in [("long", "x" * 5000), ("object", {"a": 1})]:
            widget = Widget(made_run["url"])
            await widget.connect(session_id)  # replaced by a fresh id
            results[name] = widget.session_id
            await widget.close()
        widget = Widget(made_run["url"])
        await widget.connect(f"fuzz-{uuid.uuid4().hex}")
        try:
            results["10 KB"] = await widget.ask("x" * 10_000)
            results["after"] = await widget.ask("how often do I need IMS?")
        finally:
            await widget.close()
        # 1 MB is over Engine.IO's frame limit: the server drops the socket.
        widget = Widget(made_run["url"])
        await widget.connect(f"fuzz-{uuid.uuid4().hex}")
        await widget.send({"message": "x" * 1_000_000, "session_id": widget.session_id})
        await asyncio.sleep(2)
        await widget.close()
        widget = Widget(made_run["url"])
        await widget.connect(f"fuzz-{uuid.uuid4().hex}")
        try:
            results["after 1 MB"] = await widget.ask("how often do I need IMS?")
        finally:
            await widget.close()
        return results

    results = asyncio.run(run())
    for name in ("long", "object"):  # a new token the server signed (#14)
        assert re.fullmatch(r"[0-9a-f]{32}\.[0-9a-f]{32}", results[name])
    assert results["10 KB"] == TOO_LONG
    assert "week" in results["after"] and "week" in results["after 1 MB"]


# --- Twilio webhook -----------------------------------------------------------

TWILIO_HOOK = "/webhooks/twilio/webhook"


def twilio_post(stack, raw: bytes, signature: Optional[str] = None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return http(f"{stack['url']}{TWILIO_HOOK}", raw, headers=headers)


def signer(stack):
    """Signs a form as Twilio would, with the stack's local-mode token."""
    from twilio.request_validator import RequestValidator

    from channels.twilio_channel import TwilioSettings

    settings = TwilioSettings(local_dir=stack["twilio_dir"])
    validator = RequestValidator(settings.signing_token())
    url = settings.webhook_url(TWILIO_HOOK)
    return lambda form: validator.compute_signature(url, form)


FORM = st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=6)


@FUZZ
@given(
    raw=st.binary(max_size=400)
    | FORM.map(lambda form: urllib.parse.urlencode(form).encode()),
    signature=st.none()
    | st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40),
)
def test_twilio_unsigned_or_forged_requests_are_refused(made_run, raw, signature):
    status, _, _ = twilio_post(made_run, raw, signature)
    assert status in (400, 403, 413), status


@FUZZ
@given(
    sender=st.sampled_from(["+16045550188", "whatsapp:+16045550189"])
    | st.text(max_size=40),
    body=TEXT | st.text(min_size=1500, max_size=3000),
    extra=FORM,
)
def test_twilio_signed_messages_of_any_content(made_run, sender, body, extra):
    form = {
        **extra,
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+16045550100",
        "Body": body,
        "NumMedia": "0",
    }
    raw = urllib.parse.urlencode(form).encode()
    status, answer, _ = twilio_post(made_run, raw, signer(made_run)(form))
    assert status == 200, (status, answer)
    assert "<Response" in answer


def test_twilio_oversize_and_undecodable_bodies(made_run):
    sign = signer(made_run)
    big = {"From": "+16045550188", "Body": "x" * 1_000_000}
    status, _, _ = twilio_post(
        made_run, urllib.parse.urlencode(big).encode(), sign(big)
    )
    assert status == 413
    status, _, _ = twilio_post(made_run, b"From=%2B16045550188&Body=caf%C3%28%FF", "x")
    assert status in (400, 403)


# --- staff login (the web app) --------------------------------------------------
# tests/webapp/staff/test_bad_input.py fuzzes every staff page through Flask's test
# client; here the running web app gets raw bodies over HTTP.


@FUZZ
@given(
    raw=st.binary(max_size=400)
    | FORM.map(lambda form: urllib.parse.urlencode(form).encode()),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]
    ),
)
def test_staff_login_never_fails(made_run, raw, content_type):
    status, _, _ = http(
        f"{made_run['web']}/staff/login", raw, headers={"Content-Type": content_type}
    )
    assert status < 500, status


def test_staff_login_oversize_and_odd_bodies(made_run):
    url = f"{made_run['web']}/staff/login"
    form = "application/x-www-form-urlencoded"
    for raw in [
        b"",
        b"username=%FF%FE&password=%00",
        b"username=" + b"a" * 1_000_000 + b"&password=x",
        b"&" * 100_000,
    ]:
        status, _, _ = http(url, raw, headers={"Content-Type": form})
        assert status < 500, (raw[:40], status)
    status, page, _ = http(url)
    assert status == 200 and "password" in page.lower()


# --- afterwards ---------------------------------------------------------------


def test_servers_still_answer_after_the_fuzzing(made_run):
    """Runs last in this module: nothing above broke the servers."""
    assert "week" in texts(
        say(made_run["url"], "fuzz-last", "how often do I need IMS?")
    )
    for name, process in made_run["servers"].processes.items():
        assert process.poll() is None, name
    # A traceback means an error nobody handled; python-engineio logs the
    # ones it handled itself (bad polling bodies, answered 400) with theirs.
    blocks = made_run["servers"].log("run").split("Traceback (most recent call")
    unhandled = [
        block
        for before, block in zip(blocks, blocks[1:], strict=False)
        if not before.rstrip().endswith("post request handler error")
    ]
    assert not unhandled, unhandled[0][:2000]
