"""Helpers for the whole-stack tests: HTTP calls that report any status, a
socket.io client speaking the widget's protocol, a TCP plug that can be
pulled, and the run scripts (`make run`, `make run-scaled`) started as
fixtures through `tests.servers.Servers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import socketio

from tests.conftest import ROOT
from tests.servers import Servers, free_port, server_env

__all__ = [
    "ALWAYS_OPEN",
    "CLOSED",
    "ONE_MINUTE_WAIT",
    "TcpPlug",
    "always_open_profile",
    "http",
    "made_run",
    "profile_edited",
    "say",
    "scaled_run",
    "texts",
    "twilio_local_env",
]

# Profile edits for the live-chat tests (#15), as (old, new) for profile_edited:
# chat at any hour; no chat hours at all (always closed); the shortest wait a
# profile allows, a minute.
ALWAYS_OPEN = 'chat_hours: "Mon-Sun 00:00-24:00"'
CLOSED = (ALWAYS_OPEN, "chat_hours: ")
ONE_MINUTE_WAIT = ("chat_wait_minutes: 3", "chat_wait_minutes: 1")


def http(
    url: str,
    body: Any = None,
    *,
    method: Optional[str] = None,
    headers: Optional[Dict[str, str]] = None,
    timeout: float = 120,
) -> Tuple[int, Any, Dict[str, str]]:
    """(status, body as JSON or text, headers) for any status, 4xx/5xx included.

    `body` may be bytes (sent as is) or any JSON value.
    """
    data = body if isinstance(body, bytes) or body is None else json.dumps(body)
    if isinstance(data, str):
        data = data.encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), error.headers
    text = raw.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    return status, parsed, dict(got.items())


def say(base_url: str, sender: str, message: str, timeout: float = 120) -> List[dict]:
    """One turn over the REST channel; fails on any status but 200."""
    status, replies, _ = http(
        f"{base_url}/webhooks/rest/webhook",
        {"sender": sender, "message": message},
        timeout=timeout,
    )
    assert status == 200, (status, replies)
    assert isinstance(replies, list), replies
    return replies


def texts(replies: List[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def widget_conversation(token: str) -> str:
    """The conversation a widget session token names: `web:<key>` for
    `<key>.<signature>`."""
    return "web:" + token.split(".")[0]


def always_open_profile(folder: Path) -> Path:
    """The sample clinic's profile, open for live chat at any hour (a test
    may run at night), written into `folder`; returns its path."""
    text = (ROOT / "clinic_profile.yml").read_text(encoding="utf-8")
    opened = re.sub(r'chat_hours: ".*"', ALWAYS_OPEN, text)
    assert opened != text
    path = folder / "clinic_profile.yml"
    path.write_text(opened, encoding="utf-8")
    return path


@contextlib.contextmanager
def profile_edited(path: Path, old: str, new: str) -> Iterator[None]:
    """The clinic's profile at `path` with `old` replaced by `new`, as a
    clinic edits it (the actions read it again when it changes); put back
    afterwards."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(text, encoding="utf-8")


# The Twilio channel in local mode (no TWILIO_ACCOUNT_SID): requests signed
# with this token are accepted, replies are written to the outbox file
# <TWILIO_LOCAL_DIR>/twilio-outbox.jsonl instead of being sent.
TWILIO_TOKEN = "e2e-auth-token"
TWILIO_PUBLIC_URL = "https://assistant.clinic.example.org"  # as behind a proxy
CLINIC_SMS, CLINIC_WHATSAPP = "+16045550100", "+16045550199"


def twilio_local_env(env: Dict[str, str], folder: Path) -> Dict[str, str]:
    """`env` (assistant_env's) with the Twilio channel in local mode, its
    outbox in `folder`."""
    local = {k: v for k, v in env.items() if k != "TWILIO_ACCOUNT_SID"}
    local.update(
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TWILIO_PUBLIC_URL=TWILIO_PUBLIC_URL,
        TWILIO_NUMBER=CLINIC_SMS,
        TWILIO_WHATSAPP_NUMBER=f"whatsapp:{CLINIC_WHATSAPP}",
        TWILIO_LOCAL_DIR=str(folder),
    )
    return local


class Widget:
    """A socket.io client speaking the widget's protocol."""

    def __init__(self, url: str):
        self.url = url
        self.client = socketio.AsyncClient(reconnection=False)
        self.replies: List[Dict[str, Any]] = []
        self.session_id = ""
        self._confirmed = asyncio.Event()
        self.client.on("bot_uttered", self._bot_uttered)
        self.client.on("session_confirm", self._session_confirm)

    async def _bot_uttered(self, data: Any) -> None:
        self.replies.append(data if isinstance(data, dict) else {"raw": data})

    async def _session_confirm(self, data: Any) -> None:
        self.session_id = data
        self._confirmed.set()

    @property
    def conversation(self) -> str:
        """The conversation id of the token the server confirmed (`web:<key>`,
        clinic/conversation_ids.py)."""
        return widget_conversation(self.session_id)

    async def connect(self, session_id: Any = None) -> None:
        # Polling: python-engineio's WebSocket client needs a newer aiohttp
        # than Rasa 3.6 allows.
        await self.client.connect(self.url, transports=["polling"])
        await self.client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(self._confirmed.wait(), 30)

    async def close(self) -> None:
        # Without abort, the client waits for its pending long poll (25 s).
        await self.client.eio.disconnect(abort=True)

    async def send(self, payload: Any) -> None:
        await self.client.emit("user_uttered", payload)

    async def wait_for(self, count: int, timeout: float = 30) -> None:
        async def enough() -> None:
            while len(self.replies) < count:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(enough(), timeout)

    async def ask(self, text: str) -> str:
        before = len(self.replies)
        await self.send({"message": text, "session_id": self.session_id})
        await self.wait_for(before + 1)
        await asyncio.sleep(0.5)  # a reply may come in several messages
        return "\n".join(r.get("text") or "" for r in self.replies[before:])


class TcpPlug:
    """A TCP forwarder to `target` on a free port, which can be pulled out.

    `cut()` closes the listening socket and every open connection (a stopped
    database server looks the same to a client); `restore()` listens again
    on the same port.
    """

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: List[socket.socket] = []
        self._server: Optional[socket.socket] = None
        self.restore()

    def restore(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            sockets, self._sockets = self._sockets, []
        for sock in [server, *sockets]:
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._server is not server:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


# What the Makefile exports for `make run`; a stack on free ports sets its own.
_INHERITED = (
    "ACTION_ENDPOINT_URL",
    "RASA_URL",
    "PUBLIC_BASE_URL",
    "SANIC_REQUEST_MAX_SIZE",
    "RASA_AUTH_TOKEN",
    "RASA_JWT_SECRET",
)


def clean_env(database_url: str, **extra: str) -> Dict[str, str]:
    env = {k: v for k, v in server_env(database_url).items() if k not in _INHERITED}
    return {**env, **extra}


@pytest.fixture(scope="session")
def made_run(trained_model, tmp_path_factory) -> Iterator[Dict[str, Any]]:
    """`scripts/run.sh` (what `make run` starts) on free ports and a new database.

    Yields the Rasa and web URLs, the Twilio local-mode folder, the database
    URL and the `Servers` holding the script (its log is `servers.log("run")`).
    """
    tmp = tmp_path_factory.mktemp("made-run")
    rasa, actions, web = free_port(), free_port(), free_port()
    database_url = f"sqlite:///{tmp / 'clinic.db'}"
    env = clean_env(
        database_url,
        RASA_PORT=str(rasa),
        ACTION_PORT=str(actions),
        WEB_PORT=str(web),
        TWILIO_LOCAL_DIR=str(tmp / "twilio"),
    )
    servers = Servers(tmp)
    try:
        servers.start("run", ["bash", "scripts/run.sh"], env)
        servers.wait("run", f"http://127.0.0.1:{web}/healthz")
        servers.wait("run", f"http://127.0.0.1:{rasa}/")
        servers.wait("run", f"http://127.0.0.1:{actions}/health")
        yield {
            "url": f"http://127.0.0.1:{rasa}",
            "web": f"http://127.0.0.1:{web}",
            "twilio_dir": tmp / "twilio",
            "db": database_url,
            "servers": servers,
        }
    finally:
        servers.stop_all()


def _redis_available(host: str, port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host=host, port=port, socket_timeout=3).ping())
    except redis.RedisError:
        return False


def nginx_binary() -> str:
    """Debian's nginx, which `make run-scaled` puts in front of the replicas."""
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(found, os.X_OK):
        message = "nginx not found (Debian: apt-get install nginx; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def scaled_run(trained_model, tmp_path_factory) -> Iterator[Dict[str, Any]]:
    """`scripts/run_scaled.sh` (what `make run-scaled` starts) on free ports.

    Two Rasa replicas and two action servers behind nginx, a throwaway
    PostgreSQL database, Redis locks under a key prefix of this run only,
    and the HTTP API on with a random token (`RASA_AUTH_TOKEN`), served by
    nginx on its own listener (`api`), not on the public one (`url`).
    """
    import redis

    from tests.db_fixtures import create_postgres_database

    redis_host, redis_port = "127.0.0.1", 6379
    if not _redis_available(redis_host, redis_port):
        message = f"Redis is not reachable at {redis_host}:{redis_port}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    nginx_binary()  # fails in CI, skips elsewhere, when nginx is missing
    databases = create_postgres_database()
    database_url = next(databases)
    tmp = tmp_path_factory.mktemp("scaled-run")
    replicas = [free_port(), free_port()]
    actions = [free_port(), free_port()]
    proxy, actions_proxy, web = free_port(), free_port(), free_port()
    api_proxy = free_port()
    prefix = "t" + secrets.token_hex(6)
    token = secrets.token_urlsafe(24)
    env = clean_env(
        database_url,
        PORT=str(proxy),
        RASA_PORTS=" ".join(map(str, replicas)),
        ACTION_PORTS=" ".join(map(str, actions)),
        ACTIONS_PROXY_PORT=str(actions_proxy),
        API_PROXY_PORT=str(api_proxy),
        WEB_PORT=str(web),
        REDIS_HOST=redis_host,
        REDIS_PORT=str(redis_port),
        REDIS_DB="1",
        LOCK_KEY_PREFIX=prefix,
        RASA_AUTH_TOKEN=token,
        TWILIO_LOCAL_DIR=str(tmp / "twilio"),
        NGINX_DIR=str(tmp / "nginx"),
        # Live chat at any hour, so the handoff test runs at night too.
        CLINIC_PROFILE=str(always_open_profile(tmp)),
    )
    servers = Servers(tmp)
    try:
        servers.start("scaled", ["bash", "scripts/run_scaled.sh"], env)
        for port in replicas:
            servers.wait("scaled", f"http://127.0.0.1:{port}/", timeout=420)
        servers.wait("scaled", f"http://127.0.0.1:{proxy}/")
        servers.wait("scaled", f"http://127.0.0.1:{web}/healthz")
        yield {
            "url": f"http://127.0.0.1:{proxy}",
            "api": f"http://127.0.0.1:{api_proxy}",  # Rasa's API, unpublished
            "replicas": [f"http://127.0.0.1:{port}" for port in replicas],
            "actions": [f"http://127.0.0.1:{port}" for port in actions],
            "web": f"http://127.0.0.1:{web}",
            "db": database_url,
            "token": token,
            "lock_prefix": prefix,
            "servers": servers,
        }
    finally:
        servers.stop_all()
        client = redis.Redis(host=redis_host, port=redis_port, db=1)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        next(databases, None)
