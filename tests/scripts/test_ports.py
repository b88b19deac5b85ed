"""Ports for the servers tests start (scripts/ports.py)."""

from __future__ import annotations

import socket

from scripts import ports


def test_ports_are_never_handed_out_twice_and_are_free():
    picked = [ports.free_port() for _ in range(200)]
    assert len(set(picked)) == len(picked)
    low = ports._ephemeral_low()
    for port in picked[:20]:
        assert port < low  # port-0 binds can never take it
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_someone_listens_on_is_skipped(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        given = iter([taken, taken, 20001])
        monkeypatch.setattr(ports._random, "randint", lambda low, high: next(given))
        monkeypatch.setattr(ports, "_ephemeral_low", lambda: 65536)
        monkeypatch.setattr(ports, "_handed_out", set())
        assert ports.free_port() == 20001
