"""Fixtures for conversation tests: the trained model, a running action
server on a throwaway database, and a Rasa agent to chat with in process.

These exercise NLU, dialogue, custom actions and the database together,
which `rasa test` stories cannot (they do not execute custom actions).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from sqlalchemy import create_engine, text

from db.migrate import upgrade
from scripts.ports import free_port
from tests.conftest import ROOT
from tests.servers import Servers, actions_command, server_env

MODEL = ROOT / "models" / "ims-assistant.tar.gz"


def booking_messages(name: str, phone: str, concern: str) -> List[str]:
    """What a person types to book an assessment, from asking to book to
    sending the request; only the name, phone and concern vary."""
    return [
        "I'd like to book an assessment",
        name,
        phone,
        "phone call",
        "Mornings",
        "yes",  # consent, before any health detail
        concern,
        "3 to 12 months",
        "no",
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
    with Servers(tmp_path_factory.mktemp("logs")) as servers:
        servers.start("actions", actions_command(port), server_env(conversation_db))
        servers.wait("actions", f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}/webhook"


@pytest.fixture(scope="session")
def agent(trained_model, action_server):
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.log_utils import configure_structlog

    from rasa_extensions import urgent_reminder

    configure_structlog(logging.WARNING)
    agent = Agent.load(
        str(trained_model), action_endpoint=EndpointConfig(url=action_server)
    )
    urgent_reminder.install_on(agent)  # as `rasa run` does (rasa_extensions)
    return agent


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
