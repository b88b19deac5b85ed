"""Faults: the action server or the database goes away while people talk.

Real Rasa and action servers (the project's endpoints.yml and
credentials.yml) on a throwaway PostgreSQL database, reached through a TCP
plug the test can pull (`tests.stack.TcpPlug`): to both servers that looks
like a stopped database server. Nothing is restarted when a service returns.
"""

from __future__ import annotations

import os
import signal
from typing import Dict, Iterator, List

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from clinic.conversation_ids import rest_conversation_id
from clinic.profile import current_profile
from db.migrate import upgrade
from db.models import Lead
from rasa_extensions.action_fallback import unavailable_message
from tests.conversation import booking_messages, tracker_events
from tests.db_fixtures import create_postgres_database
from tests.servers import (
    Servers,
    actions_command,
    assistant_env,
    free_port,
    rasa_command,
    rasa_env,
)
from tests.stack import TcpPlug, say, texts

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BOOKING = booking_messages(
    "Quentin Zamora", "604 555 0166", "stiff upper back after a fall"
)


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory) -> Iterator[Dict[str, object]]:
    databases = create_postgres_database()
    database_url = next(databases)
    upgrade(database_url)
    parsed = make_url(database_url)
    plug = TcpPlug(parsed.host or "127.0.0.1", parsed.port or 5432)
    plugged = parsed.set(port=plug.port, query={"connect_timeout": "5"})
    plugged_url = plugged.render_as_string(hide_password=False)
    actions_port, rasa_port = free_port(), free_port()
    env = assistant_env(plugged_url, actions_port)
    servers = Servers(tmp_path_factory.mktemp("faults"))
    try:
        servers.start("actions", actions_command(actions_port), env)
        servers.start("rasa", rasa_command(trained_model, rasa_port), rasa_env(env))
        servers.wait("actions", f"http://127.0.0.1:{actions_port}/health")
        servers.wait("rasa", f"http://127.0.0.1:{rasa_port}/")
        yield {
            "url": f"http://127.0.0.1:{rasa_port}",
            "actions_port": actions_port,
            "env": env,
            "servers": servers,
            "plug": plug,
            "db": database_url,
        }
    finally:
        servers.stop_all()
        plug.cut()
        next(databases, None)  # drops the database


def transcript(database_url: str, sender: str) -> List[str]:
    """What the person said, in the order the tracker store holds it."""
    events = tracker_events(database_url, rest_conversation_id(sender))
    return [data["text"] for kind, data in events if kind == "user"]


def leads_of(database_url: str, sender: str) -> List[Lead]:
    engine = create_engine(database_url, future=True)
    with engine.connect() as conn:
        leads = conn.execute(
            select(Lead).where(Lead.sender_id == rest_conversation_id(sender))
        ).all()
    engine.dispose()
    return leads


def test_action_server_down_gets_a_polite_reply_then_recovers(stack):
    url, servers = stack["url"], stack["servers"]
    rasa_pid = servers.processes["rasa"].pid
    phone = current_profile().phone
    assert "week" in texts(say(url, "fault-a1", "how often do I need IMS?"))

    servers.stop("actions")
    try:
        booking = texts(say(url, "fault-a1", "I'd like to book an assessment"))
        assert booking == unavailable_message()
        assert phone in booking and "Traceback" not in booking

        # What needs no action server still works, for someone new too:
        # FAQ answers (session start and slot mappings run in Rasa) ...
        faq = texts(say(url, "fault-a2", "does IMS help with sciatica?"))
        assert "sciatica" in faq.lower() and "not responding" not in faq
        # ... and the urgent-care reply, with the conversation marked.
        urgent = texts(say(url, "fault-a3", "I have crushing chest pain right now"))
        assert "911" in urgent and "not responding" not in urgent
        assert "marked this conversation" in urgent
    finally:
        servers.start("actions", actions_command(stack["actions_port"]), stack["env"])
        servers.wait("actions", f"http://127.0.0.1:{stack['actions_port']}/health")

    # The next turn works, and the lead form runs from the start.
    assert "week" in texts(say(url, "fault-a1", "how often do I need IMS?"))
    started = texts(say(url, "fault-a1", "I'd like to book an assessment"))
    assert "What's your name?" in started
    assert servers.processes["rasa"].pid == rasa_pid
    assert servers.processes["rasa"].poll() is None


def test_a_hung_action_server_never_holds_up_the_chat(stack):
    """The action server accepts connections but never answers (stopped
    with SIGSTOP): FAQ and red-flag turns do not call it at all, a lead-form
    turn gets the clinic-phone reply once ACTION_TIMEOUT_SECONDS (8 s by
    default) has passed, and the next turn after it wakes up works."""
    url, servers = stack["url"], stack["servers"]
    group = os.getpgid(servers.processes["actions"].pid)
    assert "week" in texts(say(url, "fault-h1", "how often do I need IMS?"))
    os.killpg(group, signal.SIGSTOP)
    try:
        # Far below the action timeout: these turns never wait on the server.
        faq = texts(say(url, "fault-h2", "does IMS help with sciatica?", timeout=6))
        assert "sciatica" in faq.lower() and "not responding" not in faq
        urgent = texts(say(url, "fault-h3", "I have crushing chest pain", timeout=6))
        assert "911" in urgent and "not responding" not in urgent
        booking = texts(say(url, "fault-h1", "I'd like to book an assessment", 40))
        assert booking == unavailable_message()
    finally:
        os.killpg(group, signal.SIGCONT)
    started = texts(say(url, "fault-h1", "I'd like to book an assessment"))
    assert "What's your name?" in started


def test_database_down_faqs_answered_lead_fails_honestly_then_recovers(stack):
    url, plug, db = stack["url"], stack["plug"], stack["db"]
    servers = stack["servers"]
    pids = {name: p.pid for name, p in servers.processes.items()}
    assert "week" in texts(say(url, "fault-d0", "how often do I need IMS?"))

    plug.cut()
    try:
        faq = texts(say(url, "fault-d1", "how often do I need IMS?"))
        assert "week" in faq
        replies = [texts(say(url, "fault-d2", message)) for message in BOOKING]
        assert "What's your name?" in replies[0]
        final = replies[-1]
        assert "couldn't save your details" in final, "\n".join(replies)
        assert "Your reference is" not in final
        assert current_profile().phone in final
    finally:
        plug.restore()

    # No restart: the same servers save the lead on "try again" ...
    saved = texts(say(url, "fault-d2", "/affirm"))
    assert "Your reference is IMS-" in saved
    leads = leads_of(db, "fault-d2")
    assert len(leads) == 1 and leads[0].reference in saved
    # ... and write back the turns they held while the database was away.
    assert transcript(db, "fault-d2") == [*BOOKING, "/affirm"]
    assert transcript(db, "fault-d1") == ["how often do I need IMS?"]
    assert {name: p.pid for name, p in servers.processes.items()} == pids
