"""Fixtures for conversation tests: the trained model, a running action
server on a throwaway database, and a Rasa agent to chat with in process.

These exercise NLU, dialogue, custom actions and the database together,
which `rasa test` stories cannot (they do not execute custom actions).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from sqlalchemy import create_engine, text

from db.migrate import upgrade
from scripts.ports import free_port
from tests.conftest import ROOT

MODEL = ROOT / "models" / "ims-assistant.tar.gz"


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} ({url})")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


def start(command: List[str], env: Dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def server_env(database_url: str) -> Dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }


def assistant_env(database_url: str, actions_port: int, **extra: str) -> Dict[str, str]:
    """`server_env` for an action server on `actions_port` and the Rasa that
    calls it, plus `extra` variables."""
    return {
        **server_env(database_url),
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{actions_port}/webhook",
        **extra,
    }


def actions_command(port: int) -> List[str]:
    """The action server (rasa-sdk, the project's actions) on `port`."""
    python = sys.executable
    return [python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]


def rasa_command(
    model: Path,
    port: int,
    *extra: str,
    endpoints: str = "endpoints.yml",
    credentials: str = "credentials.yml",
) -> List[str]:
    """`rasa run`, as every entry point starts it (with the start-up hook of
    rasa_extensions), with `model` on loopback `port`; `extra` arguments last."""
    return (
        [sys.executable, "-m", "rasa_extensions", "run", "--model", str(model)]
        + ["--endpoints", endpoints, "--credentials", credentials]
        + ["--port", str(port), "--interface", "127.0.0.1", *extra]
    )


@contextmanager
def assistant_with_web_app(
    model: Path,
    env: Dict[str, str],
    ports: Tuple[int, int, int],
    logs: List[Path],
    rasa_args: Tuple[str, ...] = (),
) -> Iterator[None]:
    """The action server, `rasa run` and the web app on `ports` (actions,
    Rasa, web; `logs` in that order), up until the block ends."""
    actions_port, rasa_port, web_port = ports
    processes = [
        start(actions_command(actions_port), env, logs[0]),
        start(rasa_command(model, rasa_port, *rasa_args), env, logs[1]),
        start([sys.executable, "-m", "webapp", "--port", str(web_port)], env, logs[2]),
    ]
    try:
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", processes[0])
        wait_until_up(f"http://127.0.0.1:{web_port}/healthz", processes[2])
        wait_until_up(f"http://127.0.0.1:{rasa_port}/", processes[1], timeout=300)
        yield
    finally:
        for process in reversed(processes):
            stop(process)


def booking_messages(name: str, phone: str, concern: str) -> List[str]:
    """What a person types to book an assessment, from asking to book to
    sending the request; only the name, phone and concern vary."""
    return [
        "I'd like to book an assessment",
        name,
        phone,
        "phone call",
        "Mornings",
        concern,
        "3 to 12 months",
        "no",
        "yes",
        "yes, send it",
    ]


def tracker_events(database_url: str, sender: str) -> List[Tuple[str, dict]]:
    """(type_name, data) of `sender`'s events in Rasa's SQL tracker store, in
    order."""
    engine = create_engine(database_url, future=True)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
            {"s": sender},
        ).all()
    engine.dispose()
    return [(kind, json.loads(data)) for kind, data in rows]


@pytest.fixture(scope="session")
def trained_model() -> Path:
    if not MODEL.exists():
        message = "no trained model: run `make train` (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return MODEL


@pytest.fixture(scope="session")
def conversation_db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('conversations') / 'clinic.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def action_server(conversation_db, tmp_path_factory) -> Iterator[str]:
    """URL of a running action server that stores leads in conversation_db."""
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "actions.log"
    process = start(actions_command(port), server_env(conversation_db), log)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        stop(process)


@pytest.fixture(scope="session")
def agent(trained_model, action_server):
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    return Agent.load(
        str(trained_model), action_endpoint=EndpointConfig(url=action_server)
    )


class Chat:
    """One person talking to the assistant."""

    def __init__(self, agent, channel: str = "rest", sender: Optional[str] = None):
        self.agent = agent
        self.channel = channel
        self.sender = sender or f"test-{uuid.uuid4().hex[:10]}"
        self.replies: List[Dict[str, Any]] = []

    async def say(self, text: str) -> str:
        """Sends `text`; returns the bot's replies joined into one string."""
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        output = CollectingOutputChannel()
        message = UserMessage(text, output, self.sender, input_channel=self.channel)
        await self.agent.handle_message(message)
        self.replies = output.messages
        return "\n".join(m.get("text") or "" for m in output.messages)

    @property
    def buttons(self) -> List[str]:
        return [b["title"] for m in self.replies for b in m.get("buttons") or []]

    async def slot(self, name: str) -> Any:
        tracker = await self.agent.tracker_store.retrieve(self.sender)
        return tracker.get_slot(name)

    async def active_loop(self) -> Optional[str]:
        tracker = await self.agent.tracker_store.retrieve(self.sender)
        return tracker.active_loop_name
