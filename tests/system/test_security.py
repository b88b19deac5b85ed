"""The production configuration's security, checked on running servers.

- Rasa's HTTP API (model loading, trackers, status) is not reachable without
  authentication: on with a token drawn for the run in what `make run`
  starts, for the staff app's live chat (401 without it; #15), and in the
  scaled set-up (401 without it, 200 with it) on nginx's API listener only:
  the public one answers 404.
- CORS answers only the configured web origin.
- REST and socket.io cannot reach an SMS/WhatsApp conversation (#14).
- No configuration file in the repository holds a secret: every password,
  token and key is read from the environment or a Kubernetes Secret.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any, Iterator, List, Tuple

import pytest
import yaml

from tests.conftest import ROOT
from tests.stack import http

pytestmark = pytest.mark.slow

# (method, path, body) of every Rasa API route that reads or changes state.
API = [
    ("GET", "/status", None),
    ("GET", "/domain", None),
    ("GET", "/conversations/someone/tracker", None),
    ("POST", "/conversations/someone/messages", {"text": "hi", "sender": "user"}),
    ("POST", "/conversations/someone/trigger_intent", {"name": "greet"}),
    ("POST", "/conversations/someone/predict", None),
    ("PUT", "/conversations/someone/tracker/events", []),
    ("POST", "/model/parse", {"text": "hi"}),
    ("PUT", "/model", {"model_file": "/etc/passwd"}),
    ("DELETE", "/model", None),
    ("POST", "/model/train", {}),
    ("POST", "/model/test/intents", {}),
]
EVIL = "http://evil.example"


def refused(base: str, expected: Tuple[int, ...], **headers: str) -> List[str]:
    """Routes of API that did not answer one of `expected` statuses."""
    wrong = []
    for method, path, body in API:
        status, _, _ = http(base + path, body, method=method, headers=headers)
        if status not in expected:
            wrong.append(f"{method} {path}: {status}")
    return wrong


def allowed_origin(url: str, origin: str, method: str = "OPTIONS") -> str:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    _, _, got = http(url, None, method=method, headers=headers)
    return {k.lower(): v for k, v in got.items()}.get("access-control-allow-origin", "")


def test_make_run_api_needs_its_token(made_run):
    """On for the staff app's live chat only (#15), with a token the run
    drew: nobody else can use it."""
    assert refused(made_run["url"], (401,)) == []
    assert refused(made_run["url"], (401,), Authorization="Bearer not-a-jwt") == []
    status, _, _ = http(f"{made_run['url']}/status?token=guessed")
    assert status == 401


def test_scaled_api_is_not_published_and_needs_its_token(scaled_run):
    """nginx's public listener has the channels only (404 for the API, even
    with the token); its API listener and the replicas need the token."""
    for path in ("/status", "/webhooks/../status", "/socket.io/../status"):
        status, _, _ = http(f"{scaled_run['url']}{path}?token={scaled_run['token']}")
        assert status == 404, path
    assert refused(scaled_run["url"], (404,)) == []
    for base in [scaled_run["api"], *scaled_run["replicas"]]:
        assert refused(base, (401,)) == [], base
        assert refused(base, (401,), Authorization="Bearer not-a-jwt") == [], base
        status, _, _ = http(f"{base}/status?token=wrong-{scaled_run['token']}")
        assert status == 401
        status, body, _ = http(f"{base}/status?token={scaled_run['token']}")
        assert status == 200 and "model_file" in body, base


@pytest.mark.parametrize("stack", ["made_run", "scaled_run"])
def test_cors_answers_only_the_web_origin(stack, request):
    running = request.getfixturevalue(stack)
    web_origin = running["web"].replace("127.0.0.1", "localhost")
    for path in ("/webhooks/rest/webhook", "/socket.io/?EIO=4&transport=polling"):
        url = running["url"] + path
        assert allowed_origin(url, web_origin) == web_origin, path
        assert allowed_origin(url, EVIL) in ("", None), path
    _, _, got = http(
        running["url"] + "/webhooks/rest/webhook",
        {"sender": "cors-check", "message": "hi"},
        headers={"Origin": EVIL},
    )
    assert EVIL not in str(got)


def socketio_connect_reply(base: str, origin: str) -> str:
    """The Socket.IO answer to a connect over a raw WebSocket from `origin`."""
    import aiohttp

    url = base.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"

    async def talk() -> str:
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(url, headers={"Origin": origin}) as ws,
        ):
            while True:
                frame = await asyncio.wait_for(ws.receive_str(), 30)
                if frame.startswith("0{"):  # Engine.IO open: ask to connect
                    await ws.send_str("40")
                elif frame.startswith("4"):  # Socket.IO connect or error
                    return frame

    return asyncio.run(talk())


def test_websockets_only_from_the_configured_origins(made_run):
    # Rasa alone accepts a WebSocket from any page; --cors covers polling only.
    web_origin = made_run["web"].replace("127.0.0.1", "localhost")
    assert socketio_connect_reply(made_run["url"], web_origin).startswith("40")
    assert socketio_connect_reply(made_run["url"], EVIL).startswith("44")


# --- who can address a conversation (#14) -------------------------------------

# A number no other test of the shared make run stack texts from
# (test_fuzz.py texts from ...0188 and ...0189): the texter's conversation must
# hold only this test's two messages.
VICTIM = "+16045550173"
VICTIM_NAME = "Jane Mariner"


def text_the_assistant(stack, body: str, expect: str) -> str:
    """A signed SMS from VICTIM (local mode's token); the replies, once one
    contains `expect`."""
    import urllib.parse

    from twilio.request_validator import RequestValidator

    from channels.senders import read_outbox
    from channels.twilio_channel import TwilioSettings

    settings = TwilioSettings(local_dir=stack["twilio_dir"])
    path = "/webhooks/twilio/webhook"
    form = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": "AC" + "0" * 32,
        "From": VICTIM,
        "To": "+16045550100",
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(settings.signing_token()).compute_signature(
        settings.webhook_url(path), form
    )
    outbox = settings.outbox_path
    since = len(read_outbox(outbox))
    status, _, _ = http(
        stack["url"] + path,
        urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert status == 200
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        replies = [r["body"] for r in read_outbox(outbox)[since:] if r["to"] == VICTIM]
        if any(expect in reply for reply in replies):
            return "\n".join(replies)
        time.sleep(0.2)
    raise AssertionError(f"no reply with {expect!r}")


def test_the_attack_from_the_issue_sees_nothing_of_an_sms_conversation(made_run):
    """Issue #14, item 1: a texter starts the booking form; REST and socket.io
    naming the number (bare or as its conversation id) get a conversation of
    their own, and the texter's is untouched."""
    from tests.conversation import tracker_events
    from tests.stack import Widget, say, texts

    text_the_assistant(made_run, "I'd like to book an assessment", "name")
    offer = text_the_assistant(made_run, VICTIM_NAME, "best number")
    assert "604-555-0173" in offer  # mid-form, the number on offer

    def leaked(reply: str) -> bool:
        return VICTIM_NAME in reply or "555-0173" in reply or "Jane" in reply

    for sender in (VICTIM, f"tel:{VICTIM}"):
        for message in ("skip", "yes"):
            reply = texts(say(made_run["url"], sender, message))
            assert not leaked(reply), (sender, message, reply)

    async def widget_attempts() -> List[str]:
        replies = []
        for requested in (VICTIM, f"tel:{VICTIM}"):
            widget = Widget(made_run["url"])
            try:
                await widget.connect(requested)
                assert widget.session_id not in (requested, f"tel:{VICTIM}")
                replies.append(await widget.ask("skip"))
                replies.append(await widget.ask("yes"))
            finally:
                await widget.close()
        return replies

    for reply in asyncio.run(widget_attempts()):
        assert not leaked(reply), reply

    said = [
        data["text"]
        for kind, data in tracker_events(made_run["db"], f"tel:{VICTIM}")
        if kind == "user"
    ]
    assert said == ["I'd like to book an assessment", VICTIM_NAME]
    assert tracker_events(made_run["db"], VICTIM) == []


# --- secrets ---------------------------------------------------------------

SECRET_KEY = re.compile(r"(password|secret|token|api_?key|auth|sid)$", re.I)
REFERENCE = re.compile(r"^(\$\{[A-Z0-9_]+\}|env:[A-Z0-9_]+)$")
CONFIG_FILES = [
    "credentials.yml",
    "endpoints.yml",
    "deploy/endpoints.scaled.yml",
    "deploy/helm/values.yml",
]


def secret_values(node: Any, path: str = "") -> Iterator[Tuple[str, Any]]:
    """(path, value) of every scalar whose key names a secret."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if isinstance(value, (dict, list)):
                yield from secret_values(value, where)
            elif SECRET_KEY.search(str(key)):
                yield where, value
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from secret_values(value, f"{path}[{index}]")


def inline_env_secrets(node: Any) -> Iterator[str]:
    """Kubernetes env entries with a secret-looking name and a literal value."""
    if isinstance(node, dict):
        name = str(node.get("name", ""))
        if "value" in node and re.search(r"PASSWORD|SECRET|TOKEN|_URL$", name):
            if name.endswith("_URL") and "@" not in str(node["value"]):
                pass  # a URL without credentials is not a secret
            else:
                yield name
        for value in node.values():
            yield from inline_env_secrets(value)
    elif isinstance(node, list):
        for value in node:
            yield from inline_env_secrets(value)


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_configuration_files_hold_no_secrets(name):
    data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    literal = [
        (where, value)
        for where, value in secret_values(data)
        if value not in (None, "", False) and not REFERENCE.match(str(value))
    ]
    assert literal == []
    assert list(inline_env_secrets(data)) == []
