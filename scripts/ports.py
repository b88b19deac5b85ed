"""Loopback ports for the servers the tests and `make bench` start."""

from __future__ import annotations

import random
import socket
from pathlib import Path
from typing import Set

_handed_out: Set[int] = set()
_random = random.SystemRandom()


def _ephemeral_low(default: int = 32768) -> int:
    """The first port the kernel hands out for binds to port 0."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return default


def free_port() -> int:
    """A loopback port nothing listens on, never the same one twice per process.

    A server binds its port only once it has started (Rasa: after loading the
    model), so a port is handed out well before it is taken. Binding port 0
    and closing the socket could hand out the same port again meanwhile (a
    stack picks up to seven), or give it to another bind to port 0. So the
    port is drawn from below the kernel's ephemeral range, checked to be
    free, and remembered.
    """
    high = min(_ephemeral_low(), 65536) - 1
    low = max(1024, min(20000, high - 5000))
    for _ in range(1000):
        port = _random.randint(low, high)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {low}-{high}")
