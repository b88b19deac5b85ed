"""The action endpoint Rasa uses (rasa_extensions/action_fallback.py), in
process, against a server that accepts connections and never answers."""

from __future__ import annotations

import asyncio

import pytest

from rasa_extensions.action_fallback import ActionServerFallback, unavailable_message
from tests.conftest import ROOT, read_yaml


def call(action, events=(), active_loop=None):
    tracker = {
        "sender_id": "test-hung",
        "slots": {},
        "latest_message": {"intent": {"name": "faq"}, "entities": []},
        "events": list(events),
        "paused": False,
        "followup_action": None,
        "active_loop": active_loop or {},
        "latest_action_name": None,
    }
    domain = read_yaml(ROOT / "domain.yml")
    return {
        "next_action": action,
        "sender_id": "test-hung",
        "tracker": tracker,
        "domain": domain,
        "version": "3.6.2",
    }


@pytest.fixture
async def hung_server():
    """A TCP server that accepts every connection and never answers."""
    held = []

    async def hold(reader, writer):
        held.append(writer)
        await asyncio.sleep(3600)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield ActionServerFallback(url=f"http://127.0.0.1:{port}/webhook")
    server.close()
    for writer in held:
        writer.close()


async def test_pure_actions_run_in_rasa_without_calling_the_server(hung_server):
    reply = await asyncio.wait_for(
        hung_server.request(json=call("action_session_start"), method="post"), 5
    )
    names = [e.get("name") for e in reply["events"] if e.get("event") == "slot"]
    assert "clinic_name" in names and "clinic_phone" in names


async def test_a_hung_server_gets_the_stand_in_after_the_timeout(
    hung_server, monkeypatch
):
    monkeypatch.setenv("ACTION_TIMEOUT_SECONDS", "1")
    body = call("action_start_lead", active_loop={"name": "lead_form"})
    reply = await asyncio.wait_for(hung_server.request(json=body, method="post"), 10)
    assert reply["responses"] == [{"text": unavailable_message()}]
    assert {"event": "active_loop", "name": None} in reply["events"]


async def test_after_the_stand_in_the_turn_stays_quiet(hung_server):
    # The "did you mean" fallback says something whenever it runs.
    spoke = await hung_server.request(json=call("action_faq_fallback"))
    assert spoke["responses"]
    said = [
        {"event": "user", "text": "book"},
        {"event": "bot", "text": unavailable_message()},
    ]
    reply = await hung_server.request(json=call("action_faq_fallback", said))
    assert reply["responses"] == []


async def test_red_flag_marking_needs_no_clinic_profile(hung_server, monkeypatch):
    monkeypatch.setenv("CLINIC_PROFILE", "/nonexistent/profile.yml")
    said = [{"event": "user", "text": "chest pain"}, {"event": "bot", "text": "911"}]
    reply = await hung_server.request(json=call("action_flag_red_flag", said))
    assert any(e.get("name") == "red_flag" for e in reply["events"])
