"""Failed sign-ins are throttled by client address and by user name, with a
backoff that grows and is capped, never a lock an attacker controls (#14).
The clock is the test's: no sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from db.models import utcnow
from db.staff_models import LoginThrottle
from tests.webapp.staff.conftest import PASSWORD, add_user, login
from webapp import create_app
from webapp.security import client_address
from webapp.staff import auth, devices

WRONG = "guess guess guess"


class Clock:
    """The time the throttle reads; moved on by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(auth, "clock", clock)
    return clock


def attempt(client, address: str, username: str = "ana", password: str = WRONG):
    """A sign-in from `address` (the connection's remote address)."""
    client.environ_base["REMOTE_ADDR"] = address
    return login(client, username=username, password=password)


def retry_after(response) -> Optional[int]:
    value = response.headers.get("Retry-After")
    return int(value) if value else None


# ---- by user name, across addresses ----------------------------------------


def test_an_account_waits_after_five_failures_from_anywhere(client, staff_user, clock):
    for n in range(auth.ACCOUNT.free):
        assert attempt(client, f"10.0.0.{n}").status_code == 401
    refused = attempt(client, "192.0.2.7", password=PASSWORD)
    assert refused.status_code == 429
    assert retry_after(refused) == 1
    assert "Wait 1 second and try again" in refused.get_data(as_text=True)
    clock.advance(1)
    # the real user, on another address, is in once the short wait is over
    assert attempt(client, "192.0.2.7", password=PASSWORD).status_code == 303


def test_the_account_wait_doubles_and_is_capped_at_a_minute(client, staff_user, clock):
    waits = []
    for n in range(auth.ACCOUNT.free + 9):  # a new address each time
        response = attempt(client, f"10.1.{n}.1")
        if response.status_code == 429:  # waiting: try again when told
            waits.append(retry_after(response))
            clock.advance(retry_after(response))
            response = attempt(client, f"10.1.{n}.1")
        assert response.status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert auth.ACCOUNT.cap == timedelta(seconds=60)
    # The real user waits at most a minute, even with the attacker at the cap.
    refused = attempt(client, "192.0.2.7", password=PASSWORD)
    assert retry_after(refused) == 60
    clock.advance(60)
    assert attempt(client, "192.0.2.7", password=PASSWORD).status_code == 303


def test_attempts_during_a_wait_do_not_extend_it(client, staff_user, clock, db_session):
    for n in range(auth.ACCOUNT.free + 2):  # the last one waits 4 s
        clock.advance(4)
        assert attempt(client, f"10.2.0.{n}").status_code == 401
    until = db_session.get(LoginThrottle, auth.throttle_key("ana")).locked_until
    for n in range(20):  # hammering while it waits: refused unchecked
        assert attempt(client, f"10.3.0.{n}").status_code == 429
    db_session.expire_all()
    row = db_session.get(LoginThrottle, auth.throttle_key("ana"))
    assert (row.locked_until, row.failures) == (until, auth.ACCOUNT.free + 2)
    clock.advance(4)
    assert attempt(client, "192.0.2.7", password=PASSWORD).status_code == 303


def test_unknown_names_wait_too_and_others_are_unaffected(client, staff_user, clock):
    for n in range(auth.ACCOUNT.free):
        attempt(client, f"10.4.0.{n}", username="mallory")
    assert attempt(client, "10.4.1.1", username="mallory").status_code == 429
    assert attempt(client, "10.4.1.1", password=PASSWORD).status_code == 303


def test_a_success_forgives_the_account_failures(client, staff_user, clock):
    for n in range(auth.ACCOUNT.free - 1):
        assert attempt(client, f"10.5.0.{n}").status_code == 401
    assert attempt(client, "10.5.1.1", password=PASSWORD).status_code == 303
    client.delete_cookie("clinic_staff", path="/staff")
    for n in range(auth.ACCOUNT.free - 1):
        assert attempt(client, f"10.5.2.{n}").status_code == 401
    assert attempt(client, "10.5.1.1", password=PASSWORD).status_code == 303


def test_failures_are_forgotten_after_a_quiet_hour(client, staff_user, clock):
    for n in range(auth.ACCOUNT.free):
        attempt(client, f"10.6.0.{n}")
    clock.advance(auth.ACCOUNT.cap.total_seconds())
    assert attempt(client, "10.6.1.1").status_code == 401  # 6th failure: 2 s
    clock.advance(auth.FORGET_AFTER.total_seconds() + 1)
    for n in range(auth.ACCOUNT.free - 1):  # counted from zero again
        assert attempt(client, f"10.6.2.{n}").status_code == 401
    assert attempt(client, "10.6.3.1", password=PASSWORD).status_code == 303


def test_unlock_clears_an_account_wait(client, staff_user, clock, db_session):
    for n in range(auth.ACCOUNT.free):
        attempt(client, f"10.7.0.{n}")
    assert attempt(client, "10.7.1.1", password=PASSWORD).status_code == 429
    assert auth.unlock(db_session, "ana") is True
    db_session.commit()
    assert attempt(client, "10.7.1.1", password=PASSWORD).status_code == 303


# ---- by address, across user names -----------------------------------------


def test_an_address_trying_many_names_waits_up_to_15_minutes(client, staff_user, clock):
    waits = []
    for n in range(auth.ADDRESS.free + 12):  # never the same name twice
        response = attempt(client, "203.0.113.9", username=f"guess{n}")
        if response.status_code == 429:
            waits.append(retry_after(response))
            clock.advance(retry_after(response))
            response = attempt(client, "203.0.113.9", username=f"guess{n}")
        assert response.status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    # Even the right password waits from that address...
    refused = attempt(client, "203.0.113.9", password=PASSWORD)
    assert refused.status_code == 429 and retry_after(refused) == 900
    # ...while the account itself was never guessed, so elsewhere it is in.
    assert attempt(client, "198.51.100.4", password=PASSWORD).status_code == 303


def test_a_shared_office_address_has_room_for_typos(client, database_url, clock):
    for name in ("bea", "cai", "dev"):
        add_user(database_url, name)
    for name in ("bea", "cai", "dev"):
        for _ in range(3):  # everyone mistypes three times
            assert attempt(client, "192.0.2.50", username=name).status_code == 401
        response = attempt(client, "192.0.2.50", name, PASSWORD)
        assert response.status_code == 303
        client.delete_cookie("clinic_staff", path="/staff")


def test_the_throttle_is_shared_by_every_process(app, staff_user, clock):
    """Two app instances (as two processes would) share the counters."""
    first, second = app.test_client(), create_app(app.config).test_client()
    for n in range(auth.ACCOUNT.free):
        attempt(first, f"10.8.0.{n}")
    assert attempt(second, "10.8.1.1", password=PASSWORD).status_code == 429


# ---- the client's address ----------------------------------------------------


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(
    client, staff_user, clock
):
    """Without WEB_TRUSTED_PROXIES a client writing its own X-Forwarded-For
    is still one address."""
    for n in range(auth.ADDRESS.free):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.9.0.{n}"
        attempt(client, "203.0.113.10", username=f"guess{n}")
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "10.9.1.1"
    assert attempt(client, "203.0.113.10", username="other").status_code == 429


def test_behind_a_trusted_proxy_its_x_forwarded_for_entry_is_the_client(
    app, staff_user, clock
):
    app.config["WEB_TRUSTED_PROXIES"] = 1
    client = app.test_client()
    for n in range(auth.ADDRESS.free):
        # the client's own (left) entry changes; the proxy's stays the same
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.10.0.{n}, 203.0.113.11"
        attempt(client, "127.0.0.1", username=f"guess{n}")
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.11"
    assert attempt(client, "127.0.0.1", username="other").status_code == 429
    # another client behind the same proxy is not held up
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.20"
    assert attempt(client, "127.0.0.1", password=PASSWORD).status_code == 303


def request_from(remote: str, forwarded: Optional[str] = None) -> Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    builder = EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": remote})
    return Request(builder.get_environ())


@pytest.mark.parametrize(
    "remote, forwarded, proxies, expected",
    [
        ("192.0.2.1", None, 0, "192.0.2.1"),
        ("192.0.2.1", "10.0.0.1", 0, "192.0.2.1"),
        ("127.0.0.1", "10.0.0.1", 1, "10.0.0.1"),
        ("127.0.0.1", "6.6.6.6, 10.0.0.1", 1, "10.0.0.1"),
        ("127.0.0.1", "6.6.6.6, 10.0.0.1, 172.16.0.2", 2, "10.0.0.1"),
        ("127.0.0.1", "not-an-address", 1, "127.0.0.1"),
        ("127.0.0.1", None, 1, "127.0.0.1"),  # not through the proxy
        # one subscriber gets a whole IPv6 /64: it counts as one address
        ("2001:db8:1:2:3:4:5:6", None, 0, "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.9", None, 0, "192.0.2.9"),
        ("", None, 0, "unknown"),
    ],
)
def test_client_address(remote, forwarded, proxies, expected):
    assert client_address(request_from(remote, forwarded), proxies) == expected


# ---- a browser that signed in before --------------------------------------


def _keep_name_waiting(attacker, clock) -> None:
    """Guesses 'ana' from new addresses until the wait is at its cap."""
    for n in range(auth.ACCOUNT.free + 7):
        response = attempt(attacker, f"10.11.{n}.1")
        if response.status_code == 429:
            clock.advance(retry_after(response))
            attempt(attacker, f"10.11.{n}.1")
    assert retry_after(attempt(attacker, "10.11.99.1")) == 60


def test_the_real_users_browser_is_not_held_up_by_the_name(app, staff_user, clock):
    """However often an attacker renews the name's wait, a browser where ana
    signed in before (its signed cookie names her) is let through."""
    ana, attacker = app.test_client(), app.test_client()
    assert attempt(ana, "192.0.2.7", password=PASSWORD).status_code == 303
    cookie = ana.get_cookie(devices.COOKIE, path="/staff/login")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    ana.delete_cookie("clinic_staff", path="/staff")  # signed out
    _keep_name_waiting(attacker, clock)
    assert attempt(ana, "192.0.2.7", password=PASSWORD).status_code == 303
    assert attempt(attacker, "10.11.99.2", password=PASSWORD).status_code == 429


def test_a_forged_or_foreign_device_cookie_does_not_help(
    app, database_url, staff_user, clock
):
    add_user(database_url, "mallory")
    attacker = app.test_client()
    assert attempt(attacker, "10.12.0.1", "mallory", PASSWORD).status_code == 303
    attacker.delete_cookie("clinic_staff", path="/staff")
    _keep_name_waiting(attacker, clock)  # mallory's own cookie names mallory
    assert attempt(attacker, "10.12.0.2", password=PASSWORD).status_code == 429
    attacker.set_cookie(devices.COOKIE, "forged.value.here", path="/staff/login")
    assert attempt(attacker, "10.12.0.3", password=PASSWORD).status_code == 429


def test_a_known_browser_still_waits_for_its_address(app, staff_user, clock):
    ana = app.test_client()
    assert attempt(ana, "192.0.2.8", password=PASSWORD).status_code == 303
    ana.delete_cookie("clinic_staff", path="/staff")
    for n in range(auth.ADDRESS.free):
        attempt(ana, "192.0.2.8", username=f"guess{n}")
    assert attempt(ana, "192.0.2.8", password=PASSWORD).status_code == 429
