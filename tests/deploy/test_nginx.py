"""nginx as `make run-scaled` configures it (deploy/nginx/scaled.conf), in
front of two small stand-in servers: a conversation's messages (REST, Twilio,
Rasa's API) kept on one replica and others spread over both, a socket.io
session kept on the replica its sid names, the body limit, the forwarded
headers, a server that is down skipped, and Rasa's HTTP API served only on
its own listener, never on the public one."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from deploy.nginx.render import main as render_main
from deploy.nginx.render import render
from scripts.ports import free_port
from tests.stack import nginx_binary


def test_the_config_names_every_replica_and_its_sticky_route():
    text = render(
        "127.0.0.1:8080",
        [("r5005", "127.0.0.1:5005"), ("r5006", "127.0.0.1:5006")],
        "127.0.0.1:5050",
        ["127.0.0.1:5055"],
        "127.0.0.1:5004",
    )
    assert not re.search(r"@[A-Z_]+@", text)
    assert "~^r5005[.] replica_r5005;" in text
    assert "upstream replica_r5005 {\n        server 127.0.0.1:5005;" in text
    assert "server 127.0.0.1:5006 max_fails=1 fail_timeout=5s;" in text
    assert "listen 127.0.0.1:8080;" in text and "listen 127.0.0.1:5050;" in text
    assert "listen 127.0.0.1:5004;" in text


@pytest.mark.parametrize(
    "replica, action_server",
    [
        (("r1;", "127.0.0.1:1"), "127.0.0.1:2"),
        (("r1", "x y:1"), "127.0.0.1:2"),
        (("r1", "127.0.0.1:1"), "127.0.0.1:2; evil"),
    ],
)
def test_a_value_that_would_break_the_config_is_refused(replica, action_server):
    with pytest.raises(ValueError):
        render("8080", [replica], "5050", [action_server], "5004")


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str):
        self.name = name
        super().__init__(("127.0.0.1", free_port()), Handler)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Upstream
    protocol_version = "HTTP/1.1"  # keeps a connection open, as Sanic does

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps(
            {
                "server": self.server.name,
                "forwarded_for": self.headers.get("X-Forwarded-For"),
                "forwarded_proto": self.headers.get("X-Forwarded-Proto"),
                # nginx's end of the connection the request came on
                "connection": self.client_address[1],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def nginx(tmp_path_factory) -> Iterator[Dict[str, object]]:
    binary = nginx_binary()
    upstreams = [Upstream("a"), Upstream("b"), Upstream("actions")]
    for upstream in upstreams:
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
    a, b, actions = upstreams
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    prefix: Path = tmp_path_factory.mktemp("nginx")
    port, actions_port, api_port = free_port(), free_port(), free_port()
    render_main(
        [
            "--out",
            str(prefix / "nginx.conf"),
            "--listen",
            f"127.0.0.1:{port}",
            "--replica",
            f"ra={a.address}",
            "--replica",
            f"rb={b.address}",
            "--actions-listen",
            f"127.0.0.1:{actions_port}",
            "--action-server",
            down,
            "--action-server",
            actions.address,
            "--api-listen",
            f"127.0.0.1:{api_port}",
        ]
    )
    process = subprocess.Popen(
        [
            binary,
            "-p",
            str(prefix),
            "-e",
            "stderr",
            "-c",
            "nginx.conf",
            "-g",
            "daemon off;",
        ],
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if process.poll() is not None:
                pytest.fail(f"nginx stopped: {process.stderr.read().decode()}")
            try:
                urllib.request.urlopen(url + "/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        yield {
            "url": url,
            "actions": f"http://127.0.0.1:{actions_port}",
            "api": f"http://127.0.0.1:{api_port}",
        }
    finally:
        process.terminate()
        process.wait(10)
        for upstream in upstreams:
            upstream.shutdown()
            upstream.server_close()


def get(
    url: str, data: Optional[bytes] = None, method: Optional[str] = None
) -> Tuple[int, Dict[str, object]]:
    method = method or ("POST" if data else "GET")
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


def served_by(urls: List[str]) -> List[object]:
    return [get(url)[1].get("server") for url in urls]


def post(url: str, body: bytes, content_type: str) -> object:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["server"]


def test_requests_of_no_conversation_go_to_either_replica(nginx):
    # Each has a key of its own ($request_id): 20 on one replica by chance
    # is one run in half a million.
    servers = served_by([f"{nginx['url']}/socket.io/?EIO=4&transport=polling"] * 20)
    assert set(servers) == {"a", "b"}
    rest = f"{nginx['url']}/webhooks/rest/webhook"
    servers = [post(rest, b"{}", "application/json") for _ in range(20)]
    assert set(servers) == {"a", "b"}


def test_a_conversation_s_messages_stay_on_one_replica(nginx):
    """By the REST channel's sender and Twilio's From, so the replica's kept
    tracker is never stale; different conversations use both replicas."""
    rest = f"{nginx['url']}/webhooks/rest/webhook"
    twilio = f"{nginx['url']}/webhooks/twilio/webhook"
    where = {}
    for n in range(16):
        sender = f"bench-{n}"
        texts = ["hi", 'my "sender": "someone-else"', "how long is a session?"]
        where[sender] = {
            post(
                rest,
                json.dumps({"message": t, "sender": sender}).encode(),
                "application/json",
            )
            for t in texts
        }
        number = f"whatsapp%3A%2B1604555{n:04d}"
        where[number] = {
            post(
                twilio,
                f"Body={t}&From={number}&To=%2B1604".encode(),
                "application/x-www-form-urlencoded",
            )
            for t in ("hi", "From=x", "thanks")
        }
    assert all(len(servers) == 1 for servers in where.values()), where
    assert set().union(*where.values()) == {"a", "b"}


def test_rasa_s_api_keeps_a_conversation_on_one_replica(nginx):
    where = {
        conversation: {
            get(f"{nginx['api']}/conversations/{conversation}/{path}", b"{}")[1][
                "server"
            ]
            for path in ("tracker/events", "trigger_intent", "tracker/events")
        }
        for conversation in (f"web:{n}" for n in range(16))
    }
    assert all(len(servers) == 1 for servers in where.values()), where
    assert set().union(*where.values()) == {"a", "b"}


def test_a_session_s_requests_stay_on_the_replica_its_sid_names(nginx):
    polls = [
        f"{nginx['url']}/socket.io/?EIO=4&transport=polling&t={n}&sid=rb.Xy-_9"
        for n in range(6)
    ]
    assert served_by(polls) == ["b"] * 6
    assert served_by([f"{nginx['url']}/socket.io/?EIO=4&sid=ra.Q1"] * 3) == ["a"] * 3


def test_a_body_over_64_kb_is_refused_before_rasa(nginx):
    status, _ = get(f"{nginx['url']}/webhooks/rest/webhook", b"x" * (65 * 1024))
    assert status == 413
    status, body = get(f"{nginx['url']}/webhooks/rest/webhook", b"x" * (60 * 1024))
    assert status == 200 and body["server"] in {"a", "b"}


@pytest.mark.parametrize(
    "listener, path",
    [
        ("url", "/webhooks/rest/webhook"),
        ("url", "/socket.io/?EIO=4&transport=polling&sid=ra.Q1"),
        ("api", "/conversations/web:x/tracker/events"),
        ("actions", "/webhook"),
    ],
)
def test_connections_to_the_servers_are_reused(nginx, listener, path):
    # Without upstream keepalive nginx opened a connection per request,
    # which cost the replicas and nginx CPU that one process does not spend.
    answers = [get(f"{nginx[listener]}{path}", b"{}")[1] for _ in range(12)]
    servers = {answer["server"] for answer in answers}
    connections = {(a["server"], a["connection"]) for a in answers}
    assert len(connections) <= 2 * len(servers) < len(answers)


def test_the_forwarded_headers_are_set(nginx):
    _, body = get(f"{nginx['url']}/")
    assert body["forwarded_for"] == "127.0.0.1"
    assert body["forwarded_proto"] == "http"


def test_an_action_server_that_is_down_is_skipped(nginx):
    tracker = b"{" + b'"events": [],' * 20_000 + b'"x": 1}'  # over 64 KB
    for _ in range(4):
        status, body = get(f"{nginx['actions']}/webhook", tracker)
        assert (status, body["server"]) == (200, "actions")


# Rasa's HTTP API routes (rasa/server.py), and ways of writing them that a
# proxy matching raw paths would let through.
API_PATHS = [
    ("GET", "/status"),
    ("GET", "/version"),
    ("GET", "/domain"),
    ("GET", "/conversations/web:x/tracker"),
    ("POST", "/conversations/web:x/tracker/events?output_channel=latest"),
    ("PUT", "/conversations/web:x/tracker/events"),
    ("POST", "/conversations/web:x/trigger_intent"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
    ("POST", "/model/train"),
    ("GET", "/webhooks/../status"),
    ("GET", "/socket.io/../conversations/web:x/tracker"),
    ("GET", "/webhooks/%2e%2e/status"),
    ("GET", "//status"),
    ("GET", "/STATUS"),
    ("GET", "/socket.io"),  # the prefix without its slash
]


@pytest.mark.parametrize("method, path", API_PATHS)
def test_rasa_s_api_is_not_published(nginx, method, path):
    status, body = get(
        f"{nginx['url']}{path}", b"{}" if method != "GET" else None, method
    )
    assert status == 404 and "server" not in body


@pytest.mark.parametrize("method, path", API_PATHS[:11])
def test_rasa_s_api_is_served_on_its_own_listener(nginx, method, path):
    status, body = get(
        f"{nginx['api']}{path}", b"{}" if method != "GET" else None, method
    )
    assert status == 200 and body["server"] in {"a", "b"}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/socket.io/?EIO=4&transport=polling",
        "/webhooks/rest/webhook",
        "/webhooks/twilio/webhook",
    ],
)
def test_the_channels_are_published(nginx, path):
    status, body = get(f"{nginx['url']}{path}")
    assert status == 200 and body["server"] in {"a", "b"}
