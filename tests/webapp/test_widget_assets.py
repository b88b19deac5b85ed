"""The website widget's files: the socket.io client pinned by npm and served
beside the widget, axe-core pinned for the browser tests and never served,
the demo page's one-tag embed, and widget code that never inserts HTML. (Its
behaviour in a browser: tests/system/browser/test_widget.py.)"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Dict, List

import pytest

from clinic.profile import current_profile
from tests.conftest import ROOT
from webapp import create_app

WIDGET = ROOT / "widget-vendor"
STATIC = ROOT / "webapp" / "static" / "widget"
RASA_URL = "https://rasa.clinic.example.org"
PUBLIC = "https://assistant.clinic.example.org"  # PUBLIC_BASE_URL


@pytest.fixture()
def client():
    config = {"TESTING": True, "RASA_URL": RASA_URL, "PUBLIC_BASE_URL": PUBLIC}
    return create_app(config).test_client()


def pinned_version() -> str:
    return json.loads((WIDGET / "package.json").read_text())["dependencies"][
        "socket.io-client"
    ]


def test_the_socket_io_client_is_pinned_exactly_by_the_lockfile():
    package = json.loads((WIDGET / "package.json").read_text())
    assert sorted(package["dependencies"]) == ["htmx.org", "socket.io-client"]
    version = pinned_version()
    assert re.fullmatch(r"4\.\d+\.\d+", version), "an exact socket.io v4 version"
    lock = json.loads((WIDGET / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    entry = lock["packages"]["node_modules/socket.io-client"]
    assert entry["version"] == version
    assert entry["integrity"].startswith("sha512-")


def test_htmx_is_pinned_exactly_by_the_lockfile():
    """The staff app's Chats page polls with htmx (webapp/staff/chats.py)."""
    package = json.loads((WIDGET / "package.json").read_text())
    version = package["dependencies"]["htmx.org"]
    assert re.fullmatch(r"2\.\d+\.\d+", version), "an exact htmx v2 version"
    lock = json.loads((WIDGET / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/htmx.org"]
    assert entry["version"] == version
    assert entry["integrity"].startswith("sha512-")
    installed = WIDGET / "node_modules" / "htmx.org" / "package.json"
    assert installed.is_file(), "run `make install` (npm ci --prefix widget-vendor)"
    assert json.loads(installed.read_text())["version"] == version


def test_axe_core_is_pinned_exactly_for_the_tests_only():
    package = json.loads((WIDGET / "package.json").read_text())
    assert list(package["devDependencies"]) == ["axe-core"]
    version = package["devDependencies"]["axe-core"]
    assert re.fullmatch(r"4\.\d+\.\d+", version), "an exact axe-core v4 version"
    lock = json.loads((WIDGET / "package-lock.json").read_text())
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]
    entry = lock["packages"]["node_modules/axe-core"]
    assert entry["version"] == version and entry["dev"] is True
    assert entry["integrity"].startswith("sha512-")
    installed = WIDGET / "node_modules" / "axe-core" / "package.json"
    assert installed.is_file(), "run `make install` (npm ci --prefix widget-vendor)"
    assert json.loads(installed.read_text())["version"] == version


def test_the_web_app_serves_the_installed_client_beside_the_widget(client):
    bundle = WIDGET / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
    assert bundle.is_file(), "run `make install` (npm ci --prefix widget)"
    response = client.get("/static/widget/socket.io.min.js")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == bundle.read_bytes()
    assert f"Socket.IO v{pinned_version()}" in response.get_data(as_text=True)[:200]


@pytest.mark.parametrize(
    "path",
    [
        "/static/widget/socket.io.js",
        "/static/widget/socket.io.esm.min.js",
        "/static/widget/..%2F..%2F..%2Fwidget%2Fpackage.json",
        "/static/widget/node_modules/socket.io-client/package.json",
        "/static/widget/axe.min.js",
        "/static/widget/node_modules/axe-core/axe.min.js",
    ],
)
def test_nothing_else_of_node_modules_is_served(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("name", ["ims-chat.js", "ims-chat.css"])
def test_the_widget_files_are_served(client, name):
    response = client.get(f"/static/widget/{name}")
    assert response.status_code == 200
    assert response.data == (STATIC / name).read_bytes()
    response.close()


class Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: List[Dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append({k: v or "" for k, v in attrs})


def test_the_demo_page_embeds_the_widget_with_one_script_tag(client):
    response = client.get("/")
    assert response.status_code == 200
    parser = Scripts()
    parser.feed(response.get_data(as_text=True))
    [tag] = parser.scripts  # the widget needs nothing else on the page
    profile = current_profile()
    assert tag["src"] == f"{PUBLIC}/static/widget/ims-chat.js"  # never from Host
    assert tag["data-server-url"] == RASA_URL
    assert tag["data-title"] == profile.name
    assert tag["data-clinic-phone"] == profile.phone
    assert tag["data-privacy-url"] == profile.privacy_url
    # The page shows the same tag as the snippet to copy, as text.
    assert f"&lt;script src=&#34;{PUBLIC}/static/widget/ims-chat.js" in (
        response.get_data(as_text=True)
    )


def test_the_widget_code_never_parses_html():
    code = (STATIC / "ims-chat.js").read_text()
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "createContextualFragment",
        "eval(",
        "new Function",
        "DOMParser",
    ):
        assert sink not in code, sink
