"""The production configuration's security, checked on running servers.

- Rasa's HTTP API (model loading, trackers, status) is not reachable without
  authentication: off in what `make run` starts (404), on with a token in
  the scaled set-up (401 without it, 200 with it).
- CORS answers only the configured web origin.
- No configuration file in the repository holds a secret: every password,
  token and key is read from the environment or a Kubernetes Secret.
"""

from __future__ import annotations

import asyncio
import re
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


def test_make_run_has_no_http_api(made_run):
    assert refused(made_run["url"], (404,)) == []


def test_scaled_api_needs_its_token(scaled_run):
    for base in [scaled_run["url"], *scaled_run["replicas"]]:
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
