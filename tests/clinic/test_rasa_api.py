"""The staff app's calls to Rasa's HTTP API (clinic/rasa_api.py),
against a stand-in server that records them."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
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
            self._answer(b"{}")

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            received.append(
                {"method": "GET", "path": parts.path, "query": parse_qs(parts.query)}
            )
            self._answer(state.get("tracker", b"{}"))

        def _answer(self, body: bytes) -> None:
            time.sleep(state.get("delay", 0))
            self.send_response(state["status"])
            if state.get("cut_short"):  # promises more than it sends
                self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
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


@pytest.mark.parametrize(
    "error",
    [http.client.IncompleteRead(b"{"), http.client.LineTooLong("header line")],
)
def test_a_broken_answer_is_rasa_unavailable_that_may_have_applied(monkeypatch, error):
    def urlopen(request, timeout):
        raise error

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(rasa_api.RasaUnavailable) as raised:
        rasa_api.trigger_intent("http://rasa", "t", "web:abc", "EXTERNAL_x")
    assert raised.value.maybe_applied


def test_an_answer_cut_short_is_rasa_unavailable(rasa):
    rasa["cut_short"] = True
    with pytest.raises(rasa_api.RasaUnavailable) as raised:
        rasa_api.append_events(rasa["url"], "t", "web:abc", [])
    assert raised.value.maybe_applied


def test_no_answer_within_the_calls_timeout_may_have_applied(rasa):
    rasa["delay"] = 2.0
    started = time.monotonic()
    with pytest.raises(rasa_api.RasaUnavailable) as raised:
        rasa_api.trigger_intent(rasa["url"], "t", "web:abc", "EXTERNAL_x", timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert raised.value.maybe_applied
    assert len(rasa["received"]) == 1  # it did reach Rasa


@pytest.mark.parametrize(
    ("status", "maybe"),
    [(400, False), (401, False), (500, True), (502, False), (503, False), (504, True)],
)
def test_a_refusal_did_not_apply_and_a_server_error_may_have(rasa, status, maybe):
    rasa["status"] = status
    with pytest.raises(rasa_api.RasaUnavailable) as raised:
        rasa_api.append_events(rasa["url"], "t", "web:abc", [])
    assert raised.value.maybe_applied is maybe


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("http://127.0.0.1:9", "t"),  # refused
        ("http://rasa.invalid", "t"),  # no such host
        ("http://127.0.0.1:x", "t"),  # http.client.InvalidURL
        ("http://127.0.0.1:{port}", ""),  # no token
    ],
)
def test_never_sent_is_not_maybe_applied(rasa, url, token):
    url = url.format(port=rasa["url"].rsplit(":", 1)[1])
    with pytest.raises(rasa_api.RasaUnavailable) as raised:
        rasa_api.append_events(url, token, "web:abc", [])
    assert not raised.value.maybe_applied
    assert rasa["received"] == []


def test_a_slot_is_read_from_the_tracker(rasa):
    rasa["tracker"] = json.dumps({"slots": {"handoff": "held"}}).encode()
    assert rasa_api.slot_value(rasa["url"], "s3cret", "web:abc", "handoff") == "held"
    [call] = rasa["received"]
    assert call["method"] == "GET"
    assert call["path"] == "/conversations/web:abc/tracker"
    assert call["query"] == {"include_events": ["NONE"], "token": ["s3cret"]}
    rasa["tracker"] = json.dumps({"slots": {}}).encode()
    assert rasa_api.slot_value(rasa["url"], "s3cret", "web:abc", "handoff") is None


@pytest.mark.parametrize("answer", [b"<html>", b"[]", b'{"slots": []}', b"{}"])
def test_an_unreadable_tracker_is_rasa_unavailable(rasa, answer):
    rasa["tracker"] = answer
    with pytest.raises(rasa_api.RasaUnavailable):
        rasa_api.slot_value(rasa["url"], "s3cret", "web:abc", "handoff")
