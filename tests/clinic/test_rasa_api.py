"""The staff app's calls to Rasa's HTTP API (clinic/rasa_api.py),
against a stand-in server that records them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Iterator, List
from urllib.parse import parse_qs, urlsplit

import pytest

from clinic import rasa_api


@pytest.fixture
def rasa() -> Iterator[dict]:
    received: List[dict] = []
    state = {"status": 200, "received": received}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers["Content-Length"])
            parts = urlsplit(self.path)
            received.append(
                {
                    "path": parts.path,
                    "query": parse_qs(parts.query),
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(state["status"])
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()


def test_events_go_to_the_conversation_for_its_latest_channel(rasa):
    events = [rasa_api.slot("handoff", "held"), rasa_api.staff_message("Hi", 3, "fay")]
    rasa_api.append_events(rasa["url"], "s3cret", "tel:+16045550100", events)
    [call] = rasa["received"]
    assert call["path"] == "/conversations/tel:+16045550100/tracker/events"
    assert call["query"] == {
        "execute_side_effects": ["true"],
        "output_channel": ["latest"],
        "include_events": ["NONE"],
        "token": ["s3cret"],
    }
    assert call["body"] == events
    assert events[1]["metadata"] == {"handoff": {"staff_id": 3, "staff": "fay"}}


@pytest.mark.parametrize(
    ("token", "sender"),
    [("", "web:abc"), ("t", "rest:a b"), ("t", "rest:x?token=y"), ("t", "rest:%41")],
)
def test_nothing_is_sent_without_a_token_or_to_an_id_the_path_would_change(
    rasa, token, sender
):
    with pytest.raises(rasa_api.RasaUnavailable):
        rasa_api.append_events(rasa["url"], token, sender, [])
    assert rasa["received"] == []


def test_a_refusal_or_no_server_is_rasa_unavailable(rasa):
    rasa["status"] = 401
    with pytest.raises(rasa_api.RasaUnavailable):
        rasa_api.append_events(rasa["url"], "wrong", "web:abc", [])
    with pytest.raises(rasa_api.RasaUnavailable):
        rasa_api.append_events("http://127.0.0.1:9", "t", "web:abc", [])
    with pytest.raises(rasa_api.RasaUnavailable):
        rasa_api.append_events("file:///etc/passwd", "t", "web:abc", [])


def test_a_timeout_is_triggered_as_an_intent_for_the_latest_channel(rasa):
    rasa_api.trigger_intent(
        rasa["url"], "s3cret", "web:abc", "EXTERNAL_handoff_timeout"
    )
    [call] = rasa["received"]
    assert call["path"] == "/conversations/web:abc/trigger_intent"
    assert call["query"]["output_channel"] == ["latest"]
    assert call["query"]["token"] == ["s3cret"]
    assert call["body"] == {"name": "EXTERNAL_handoff_timeout"}
