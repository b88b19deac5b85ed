"""Fixtures for the staff app: an app on a throwaway database (SQLite and
PostgreSQL), a signed-in test client, leads stored the way the assistant
stores them, and conversations written by Rasa's own SQL tracker store."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any, Dict, Iterator, List, Optional

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from clinic.settings import StaffSettings
from db.engine import session_factory
from db.leads import save_lead
from db.models import utcnow
from tests.factories import NOTIFY, lead_input
from webapp import create_app
from webapp.staff import auth, roles

PASSWORD = "correct horse battery staple"
# Every test admin's two-factor secret (login() below makes its codes).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
APP_HASHER = auth._hasher  # before any test swaps it for a cheaper one
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch):
    """Cheap argon2 parameters in tests only (the app uses argon2-cffi's
    defaults: 64 MiB, 3 passes; test_auth checks that)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    monkeypatch.setattr(auth, "_DUMMY_HASH", auth._hasher.hash("dummy"))


@pytest.fixture
def app(database_url) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-only-secret",
            "STAFF_SETTINGS": StaffSettings(timezone="UTC"),
        }
    )
    yield app


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db_session(database_url):
    session = session_factory(database_url)()
    yield session
    session.close()


def add_user(
    database_url: str,
    username: str = "ana",
    password: str = PASSWORD,
    role: str = roles.ADMIN,
    totp: Optional[bool] = None,
):
    """An account, by default an admin with two-factor sign-in set up
    (`totp`: default for admins only), which login() signs in with codes."""
    session = session_factory(database_url)()
    try:
        user = auth.create_user(session, username, password, role=role)
        if totp if totp is not None else role == roles.ADMIN:
            user.totp_secret = TOTP_SECRET
            user.totp_enabled_at = utcnow()
        session.commit()
        return user
    finally:
        session.close()


@pytest.fixture
def staff_user(database_url):
    return add_user(database_url)


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(
    client: FlaskClient,
    username: str = "ana",
    password: str = PASSWORD,
    base_url: str = "http://localhost",
    code_step: bool = True,
    **extra: str,
):
    """Signs in through the form, as a browser at `base_url` would. When the
    password leads to the code step, enters the current code too (unless
    `code_step` is False) and returns that step's response."""
    page = client.get("/staff/login", base_url=base_url)
    token = csrf_from(page.get_data(as_text=True))
    data = {"csrf_token": token, "username": username, "password": password, **extra}
    referrer = {"Referer": f"{base_url}/staff/login"}  # Flask-WTF checks it on https
    response = client.post(
        "/staff/login", data=data, base_url=base_url, headers=referrer
    )
    if not code_step or response.headers.get("Location") != "/staff/login/code":
        return response
    return enter_code(client, username, base_url=base_url)


def enter_code(
    client: FlaskClient,
    username: str = "ana",
    code: Optional[str] = None,
    base_url: str = "http://localhost",
):
    """The sign-in code step. Without `code`: the current one, after the
    account's last used step is forgotten (a test signs in many times in
    one 30-second step; the reuse check has tests of its own)."""
    if code is None:
        session = session_factory(client.application.config["DATABASE_URL"])()
        try:
            found = auth.find_user(session, username)
            assert found is not None
            found.totp_last_step = None
            session.commit()
        finally:
            session.close()
        code = pyotp.TOTP(TOTP_SECRET).now()
    page = client.get("/staff/login/code", base_url=base_url)
    token = csrf_from(page.get_data(as_text=True))
    referrer = {"Referer": f"{base_url}/staff/login/code"}
    return client.post(
        "/staff/login/code",
        data={"csrf_token": token, "code": code},
        base_url=base_url,
        headers=referrer,
    )


@pytest.fixture
def signed_in(client, staff_user) -> FlaskClient:
    response = login(client)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def post_form(client: FlaskClient, page: str, action: str, data: Dict[str, str]):
    """Posts `data` to `action` with the CSRF token of `page` (as a browser)."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data})


def export_csv(client: FlaskClient, query: str = ""):
    """Exports as the queue page's button does: a POST of the filters in
    `query` with the page's CSRF token."""
    from urllib.parse import parse_qsl

    token = csrf_from(client.get("/staff/leads").get_data(as_text=True))
    data = {"csrf_token": token, **dict(parse_qsl(query))}
    return client.post("/staff/leads/export.csv", data=data)


def add_lead(database_url: str, **values: Any) -> str:
    """Stores a lead through db.leads.save_lead; returns its reference."""
    result = save_lead(session_factory(database_url), lead_input(**values), NOTIFY)
    return result.reference


# ---- conversations, written by Rasa's SQL tracker store ----------------------


def ts(day: datetime, minutes: int = 0) -> float:
    return (day + timedelta(minutes=minutes)).timestamp()


def user(
    text: str,
    intent: str,
    at: float,
    channel: str = "rest",
    topic: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    metadata: Optional[Dict[str, Any]] = None,
):
    from rasa.shared.core.events import UserUttered

    parse_data: Dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.93},
        "entities": entities or [],
        "intent_ranking": [{"name": intent, "confidence": 0.93}],
    }
    if intent == "faq":
        parse_data["response_selector"] = {
            "all_retrieval_intents": ["faq"],
            "faq": {
                "response": {
                    "responses": [{"text": "..."}],
                    "confidence": 0.9,
                    "intent_response_key": f"faq/{topic}",
                    "utter_action": f"utter_faq/{topic}",
                },
                "ranking": [],
            },
        }
    return UserUttered(
        text,
        intent=parse_data["intent"],
        entities=parse_data["entities"],
        parse_data=parse_data,
        timestamp=at,
        input_channel=channel,
        metadata=metadata,
    )


def bot(text: str, at: float, buttons: Optional[List[Dict[str, str]]] = None):
    from rasa.shared.core.events import BotUttered

    return BotUttered(text, data={"buttons": buttons} if buttons else {}, timestamp=at)


def action(name: str, at: float):
    from rasa.shared.core.events import ActionExecuted

    return ActionExecuted(name, timestamp=at)


def slot(name: str, value: Any, at: float):
    from rasa.shared.core.events import SlotSet

    return SlotSet(name, value, timestamp=at)


def session_start(at: float) -> list:
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    return [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]


def write_conversation(database_url: str, sender_id: str, events: list) -> None:
    """Saves a conversation exactly as `rasa run` does (endpoints.yml's
    tracker store, which adds the reporting indexes to Rasa's table)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    from rasa_extensions.tracker_store import ResilientSQLTrackerStore

    store = ResilientSQLTrackerStore(host=database_url)
    try:
        tracker = DialogueStateTracker.from_events(sender_id, events)
        asyncio.run(store.save(tracker))
    finally:
        store.engine.dispose()


def faq_chat(start: datetime, channel: str = "rest") -> list:
    """Greets, asks one FAQ question (with buttons in the greeting)."""
    return [
        *session_start(ts(start)),
        user("hi", "greet", ts(start, 1), channel),
        bot(
            "Hi! I'm the automated assistant.",
            ts(start, 1),
            buttons=[
                {"title": "What is IMS?", "payload": "What is IMS?"},
                {"title": "Talk to the clinic", "payload": "/request_human"},
            ],
        ),
        user("how often do I need IMS?", "faq", ts(start, 2), channel, "frequency"),
        bot("Usually once a week at first.", ts(start, 2)),
    ]
