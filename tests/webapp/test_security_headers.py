"""Security headers on every route of the web app, and no URL built from the
request's Host (#14; webapp/security.py)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Dict, List

import pytest

from webapp import create_app

BASE = "https://assistant.clinic.example.org"
RASA = "https://rasa.clinic.example.org"
EVIL = "evil.example"
PUBLIC_ROUTES = [
    "/",
    "/healthz",
    "/static/demo.css",
    "/static/widget/ims-chat.js",
    "/static/widget/ims-chat.css",
    "/static/widget/socket.io.min.js",
    "/no-such-page",
]
WIDGET_FILES = [r for r in PUBLIC_ROUTES if r.startswith("/static/widget/")]


def make_client(tmp_path, base: str = BASE):
    config = {
        "TESTING": True,
        "PUBLIC_BASE_URL": base,
        "RASA_URL": RASA,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.db'}",  # never var/
    }
    return create_app(config).test_client()


@pytest.fixture()
def client(tmp_path):
    return make_client(tmp_path)


def get(client, path: str, **kwargs):
    response = client.get(path, **kwargs)
    response.close()  # static files are streamed
    return response


@pytest.mark.parametrize("path", PUBLIC_ROUTES)
def test_every_public_route_has_the_headers(client, path):
    response = get(client, path)
    assert response.status_code in (200, 404)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy
    if path in WIDGET_FILES:
        # loaded by the clinic's own pages, on other origins
        assert headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    else:
        assert headers["X-Frame-Options"] == "DENY"


def test_only_the_demo_page_may_run_anything(client):
    for path in PUBLIC_ROUTES[1:]:
        policy = get(client, path).headers["Content-Security-Policy"]
        assert policy.startswith("default-src 'none';") and "script-src" not in policy
    policy = dict(
        part.strip().split(" ", 1)
        for part in get(client, "/").headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert set(policy["script-src"].split()) == {"'self'", BASE}
    assert set(policy["style-src"].split()) == {"'self'", BASE}
    # socket.io to Rasa: polling, then the WebSocket
    assert set(policy["connect-src"].split()) == {
        "'self'",
        RASA,
        "wss://rasa.clinic.example.org",
    }
    assert "'unsafe-inline'" not in str(policy) and "'unsafe-eval'" not in str(policy)
    assert policy["object-src"] == "'none'" and policy["form-action"] == "'none'"


def test_no_hsts_on_plain_http(tmp_path):
    client = make_client(tmp_path, "http://localhost:8000")
    for path in ("/", "/healthz", "/staff/login"):
        assert "Strict-Transport-Security" not in get(client, path).headers


def test_the_staff_app_keeps_its_own_stricter_headers_and_gets_hsts(client):
    response = get(client, "/staff/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src" not in policy


class Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: List[Dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append({k: v or "" for k, v in attrs})


def test_a_forged_host_is_not_written_into_the_page(client):
    response = get(client, "/", headers={"Host": EVIL})
    body = response.get_data(as_text=True)
    assert EVIL not in body
    parser = Scripts()
    parser.feed(body)
    [tag] = parser.scripts
    assert tag["src"] == f"{BASE}/static/widget/ims-chat.js"
    assert f"&lt;script src=&#34;{BASE}/static/widget/ims-chat.js" in body
    assert EVIL not in str(response.headers)


@pytest.mark.parametrize(
    "path", ["/staff", "/staff/", "/staff/leads", "/staff/leads/IMS-AAAAAA"]
)
def test_a_forged_host_is_not_written_into_redirects(client, path):
    response = get(client, path, headers={"Host": EVIL})
    assert response.status_code in (301, 302, 303, 308)
    location = response.headers["Location"]
    assert EVIL not in location
    assert location.startswith("/staff"), location  # relative: this site


def test_headers_cannot_be_made_to_name_the_forged_host(client):
    response = get(
        client,
        "/",
        headers={"Host": EVIL, "X-Forwarded-Host": EVIL, "Forwarded": f"host={EVIL}"},
    )
    assert EVIL not in response.get_data(as_text=True)
    assert EVIL not in str(response.headers)
