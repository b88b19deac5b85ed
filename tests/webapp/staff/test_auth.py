"""Signing in and out: hashing, sessions, cookies, safe redirects (the
throttling of failed sign-ins: test_sign_in_throttle.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from clinic.settings import StaffSettings
from db.models import utcnow
from db.staff_models import StaffSession, StaffUser
from tests.webapp.staff.conftest import (
    APP_HASHER,
    PASSWORD,
    add_user,
    csrf_from,
    enter_code,
    login,
    post_form,
)
from webapp import create_app
from webapp.staff import auth


def test_no_account_exists_until_one_is_created(db_session):
    assert db_session.execute(select(func.count(StaffUser.id))).scalar_one() == 0


def test_passwords_are_stored_as_argon2id_hashes(staff_user, db_session):
    user = db_session.scalars(select(StaffUser)).one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_the_app_hashes_with_a_slow_argon2id():
    from argon2 import Type

    assert APP_HASHER.type is Type.ID
    assert APP_HASHER.memory_cost >= 65536 and APP_HASHER.time_cost >= 3


@pytest.mark.parametrize(
    "username, password, problem",
    [
        ("ana", "short", "at least 12"),
        ("a", PASSWORD, "2-64 characters"),
        ("ana smith", PASSWORD, "2-64 characters"),
        ("<b>x</b>", PASSWORD, "2-64 characters"),
    ],
)
def test_bad_accounts_are_refused(db_session, username, password, problem):
    with pytest.raises(auth.AccountError, match=problem):
        auth.create_user(db_session, username, password)


def test_a_taken_name_is_refused(staff_user, db_session):
    with pytest.raises(auth.AccountError, match="exists"):
        auth.create_user(db_session, "ANA", PASSWORD)


def test_sign_in_and_out(client, staff_user):
    assert client.get("/staff/leads").status_code == 302
    response = login(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/leads"
    page = client.get("/staff/leads")
    assert page.status_code == 200 and "Sign out" in page.get_data(as_text=True)

    out = post_form(client, "/staff/leads", "/staff/logout", {})
    assert out.status_code == 303 and out.headers["Location"] == "/staff/login"
    after = client.get("/staff/leads")
    assert after.status_code == 302
    assert after.headers["Location"].startswith("/staff/login")


def test_a_logged_out_cookie_cannot_be_replayed(client, staff_user):
    login(client)
    cookie = client.get_cookie("clinic_staff", path="/staff").value
    post_form(client, "/staff/leads", "/staff/logout", {})
    client.set_cookie("clinic_staff", cookie, path="/staff")
    assert client.get("/staff/leads").status_code == 302


def test_wrong_password_is_refused(client, staff_user):
    response = login(client, password="not the password at all")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)
    assert client.get("/staff/leads").status_code == 302


def test_unknown_user_gets_the_same_answer(client, staff_user):
    response = login(client, username="nobody")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)


def test_a_disabled_account_cannot_sign_in(client, staff_user, db_session):
    db_session.execute(update(StaffUser).values(disabled_at=utcnow()))
    db_session.commit()
    assert login(client).status_code == 401


def test_sessions_end_when_idle(signed_in, db_session):
    db_session.execute(
        update(StaffSession).values(last_seen_at=utcnow() - timedelta(minutes=61))
    )
    db_session.commit()
    assert signed_in.get("/staff/leads").status_code == 302


def test_sessions_end_at_their_absolute_expiry(signed_in, db_session):
    db_session.execute(
        update(StaffSession).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db_session.commit()
    assert signed_in.get("/staff/leads").status_code == 302


def test_a_password_change_ends_every_session(signed_in, database_url, db_session):
    auth.set_password(db_session, "ana", "a brand new long password")
    db_session.commit()
    assert signed_in.get("/staff/leads").status_code == 302


def session_cookie(response) -> str:
    [cookie] = [
        c
        for c in response.headers.getlist("Set-Cookie")
        if c.startswith("clinic_staff=")
    ]
    return cookie


def test_session_cookie_flags(client, staff_user):
    response = login(client)
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/staff" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # plain http locally


def test_cookies_are_secure_when_the_site_is_https(monkeypatch, database_url):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://clinic.example.org")
    add_user(database_url)
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = login(app.test_client(), base_url="https://localhost")
    assert response.status_code == 303
    assert all("Secure" in c for c in response.headers.getlist("Set-Cookie"))
    assert session_cookie(response)


def test_without_a_secret_key_each_process_draws_one(monkeypatch, database_url):
    monkeypatch.delenv("STAFF_SECRET_KEY", raising=False)
    app = create_app({"DATABASE_URL": database_url})
    assert len(app.config["SECRET_KEY"]) >= 32
    monkeypatch.setenv("STAFF_SECRET_KEY", "from-the-environment")
    assert create_app({}).config["SECRET_KEY"] == "from-the-environment"


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/staff/leads?status=new", "/staff/leads?status=new"),
        ("/staff/leads/IMS-ABCDEF", "/staff/leads/IMS-ABCDEF"),
        ("https://evil.example.org/staff/leads", "/staff/leads"),
        ("//evil.example.org/staff/leads", "/staff/leads"),
        ("/\\evil.example.org", "/staff/leads"),
        ("/staff/login", "/staff/leads"),
        ("javascript:alert(1)", "/staff/leads"),
        ("/demo", "/staff/leads"),
    ],
)
def test_sign_in_returns_only_to_staff_pages(client, staff_user, target, expected):
    response = login(client, next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def test_a_lead_link_from_an_email_opens_after_sign_in(client, staff_user):
    first = client.get("/staff/leads/IMS-ABCDEF")
    assert first.status_code == 302
    form = client.get(first.headers["Location"]).get_data(as_text=True)
    assert 'value="/staff/leads/IMS-ABCDEF"' in form
    response = client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_from(form),
            "username": "ana",
            "password": PASSWORD,
            "next": "/staff/leads/IMS-ABCDEF",
        },
    )
    assert response.headers["Location"] == "/staff/login/code"  # an admin's
    response = enter_code(client)
    assert response.headers["Location"] == "/staff/leads/IMS-ABCDEF"


def test_sign_in_needs_the_csrf_token(client, staff_user):
    client.get("/staff/login")
    response = client.post(
        "/staff/login", data={"username": "ana", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert client.get("/staff/leads").status_code == 302


def test_sign_in_with_missing_fields_is_a_400(client, staff_user):
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    response = client.post("/staff/login", data={"csrf_token": token})
    assert response.status_code == 400


def test_settings_refuse_bad_values(monkeypatch):
    monkeypatch.setenv("STAFF_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="STAFF_TIMEZONE"):
        StaffSettings.from_env()
    monkeypatch.setenv("STAFF_TIMEZONE", "America/Vancouver")
    monkeypatch.setenv("RETENTION_DAYS", "soon")
    with pytest.raises(ValueError, match="RETENTION_DAYS"):
        StaffSettings.from_env()
    monkeypatch.setenv("RETENTION_DAYS", "30")
    assert StaffSettings.from_env().retention_days == 30
