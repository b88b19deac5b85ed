"""The socket.io channel's session ids: named by replica when REPLICA_NAME is
set, so the load balancer can keep a polling session on its replica."""

from __future__ import annotations

import re

from channels.socketio_channel import SocketIOInput


async def _ignore(message) -> None:  # noqa: ANN001 - a UserMessage
    return None


def _session_id(monkeypatch, replica: str) -> str:
    if replica:
        monkeypatch.setenv("REPLICA_NAME", replica)
    else:
        monkeypatch.delenv("REPLICA_NAME", raising=False)
    channel = SocketIOInput(session_persistence=True)
    channel.blueprint(_ignore)
    return channel.sio.eio.generate_id()


def test_a_named_replica_puts_its_name_before_each_session_id(monkeypatch):
    first = _session_id(monkeypatch, "r5005")
    assert re.fullmatch(r"r5005\.[A-Za-z0-9_-]{20}", first), first
    assert _session_id(monkeypatch, "r5005") != first


def test_a_single_process_keeps_engineio_s_own_ids(monkeypatch):
    assert "." not in _session_id(monkeypatch, "")
