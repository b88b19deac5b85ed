"""TOTP two-factor sign-in (#14): required for admins, optional for front
desk; one step of clock drift either way; a code is never accepted twice."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from db.staff_models import StaffUser
from tests.webapp.staff.conftest import (
    TOTP_SECRET,
    add_user,
    csrf_from,
    enter_code,
    login,
)
from webapp.staff import roles, two_factor

NOW = 1_800_000_015.0  # 15 s into a 30-second step
TOTP = pyotp.TOTP(TOTP_SECRET)
STEP = TOTP.timecode(NOW)


def code_at(step: int) -> str:
    return TOTP.generate_otp(step)


@pytest.mark.parametrize(
    "step, last, accepted",
    [
        (STEP, None, STEP),
        (STEP - 1, None, STEP - 1),  # the phone's clock is 30 s behind
        (STEP + 1, None, STEP + 1),  # or ahead
        (STEP - 2, None, None),  # more is refused
        (STEP + 2, None, None),
        (STEP, STEP, None),  # used already
        (STEP - 1, STEP, None),  # an older code after a newer one
        (STEP + 1, STEP, STEP + 1),
    ],
)
def test_which_codes_are_accepted(step, last, accepted):
    assert two_factor.matching_step(TOTP_SECRET, code_at(step), last, NOW) == accepted


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused(typed):
    assert two_factor.matching_step(TOTP_SECRET, typed, None, NOW) is None


def test_a_code_may_be_typed_with_a_space():
    spaced = code_at(STEP)[:3] + " " + code_at(STEP)[3:]
    assert two_factor.matching_step(TOTP_SECRET, spaced, None, NOW) == STEP


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(two_factor, "clock", lambda: NOW)


def test_an_admin_signs_in_with_password_then_code(client, database_url, fixed_clock):
    add_user(database_url)
    first = login(client, code_step=False)
    assert (first.status_code, first.headers["Location"]) == (303, "/staff/login/code")
    assert client.get("/staff/leads").status_code == 302  # not signed in yet

    wrong = enter_code(client, code=code_at(STEP + 5))
    assert wrong.status_code == 401
    assert "not right, or was used already" in wrong.get_data(as_text=True)
    assert client.get("/staff/leads").status_code == 302

    right = enter_code(client, code=code_at(STEP))
    assert (right.status_code, right.headers["Location"]) == (303, "/staff/leads")
    assert client.get("/staff/leads").status_code == 200


def test_the_same_code_cannot_sign_in_twice(app, database_url, fixed_clock):
    add_user(database_url)
    first, second = app.test_client(), app.test_client()
    login(first, code_step=False)
    assert enter_code(first, code=code_at(STEP)).status_code == 303
    login(second, code_step=False)
    assert enter_code(second, code=code_at(STEP)).status_code == 401  # replayed
    assert enter_code(second, code=code_at(STEP - 1)).status_code == 401  # older
    assert enter_code(second, code=code_at(STEP + 1)).status_code == 303


def test_wrong_codes_slow_down(client, database_url, fixed_clock):
    add_user(database_url)
    login(client, code_step=False)
    for _ in range(5):
        assert enter_code(client, code="000000").status_code == 401
    held = enter_code(client, code=code_at(STEP))
    assert held.status_code == 429 and "Retry-After" in held.headers
    assert client.get("/staff/leads").status_code == 302


def test_the_code_step_needs_the_password_first(client, database_url):
    add_user(database_url)
    response = client.get("/staff/login/code")
    assert (response.status_code, response.headers["Location"]) == (
        303,
        "/staff/login",
    )


def test_a_user_disabled_meanwhile_cannot_finish(client, database_url, db_session):
    add_user(database_url)
    login(client, code_step=False)
    user = db_session.scalars(select(StaffUser)).one()
    user.disabled_at = user.created_at
    db_session.commit()
    response = client.get("/staff/login/code")
    assert response.headers["Location"] == "/staff/login"


def test_an_admin_without_it_must_set_it_up_first(client, database_url, db_session):
    add_user(database_url, "ada", totp=False)
    response = login(client, "ada")
    assert response.status_code == 303  # the password was right
    for page in ("/staff/leads", "/staff/outbox", "/staff/conversations"):
        held = client.get(page)
        assert (held.status_code, held.headers["Location"]) == (
            302,
            "/staff/account/two-factor",
        )
    setup = client.get("/staff/account/two-factor")
    html = setup.get_data(as_text=True)
    assert setup.status_code == 200 and "Admin accounts need" in html
    assert 'src="data:image/svg+xml' in html  # the QR code, no request
    secret = db_session.scalars(select(StaffUser.totp_secret)).one()
    assert secret and " ".join(secret[i : i + 4] for i in range(0, 32, 4)) in html
    token = csrf_from(html)
    refused = client.post("/staff/leads/export.csv", data={"csrf_token": token})
    assert refused.status_code == 403

    wrong = client.post(
        "/staff/account/two-factor", data={"csrf_token": token, "code": "000000"}
    )
    assert wrong.status_code == 400 and "not right" in wrong.get_data(as_text=True)
    assert client.get("/staff/leads").status_code == 302  # still not enabled

    code = pyotp.TOTP(secret).now()
    done = client.post(
        "/staff/account/two-factor", data={"csrf_token": token, "code": code}
    )
    assert done.status_code == 303
    assert client.get("/staff/leads").status_code == 200
    db_session.expire_all()
    user = db_session.scalars(select(StaffUser)).one()
    assert user.totp_enabled_at is not None and user.totp_last_step is not None

    # from now on, sign-in asks for a code
    client.post(
        "/staff/logout",
        data={
            "csrf_token": csrf_from(client.get("/staff/leads").get_data(as_text=True))
        },
    )
    again = login(client, "ada", code_step=False)
    assert again.headers["Location"] == "/staff/login/code"


def test_it_is_optional_for_front_desk(client, database_url):
    add_user(database_url, "fred", role=roles.FRONT_DESK)
    response = login(client, "fred")
    assert (response.status_code, response.headers["Location"]) == (303, "/staff/leads")
    assert client.get("/staff/leads").status_code == 200
    page = client.get("/staff/account/two-factor").get_data(as_text=True)
    assert "Optional for front desk" in page


def test_a_front_desk_user_who_set_it_up_is_asked_for_a_code(client, database_url):
    add_user(database_url, "fred", role=roles.FRONT_DESK, totp=True)
    response = login(client, "fred", code_step=False)
    assert response.headers["Location"] == "/staff/login/code"
    assert enter_code(client, "fred").status_code == 303


@pytest.mark.parametrize(
    "typed", ["x" * 5000, "\x00" * 6, "١٢٣٤٥٦", "' OR 1=1 --", " "]
)
def test_odd_codes_get_an_answer_not_an_error(client, database_url, typed):
    add_user(database_url)
    login(client, code_step=False)
    response = enter_code(client, code=typed)
    assert response.status_code in (400, 401)
    assert client.get("/staff/leads").status_code == 302


def test_odd_set_up_codes_get_an_answer_not_an_error(client, database_url):
    add_user(database_url, "ada", totp=False)
    login(client, "ada")
    token = csrf_from(client.get("/staff/account/two-factor").get_data(as_text=True))
    for typed in ("x" * 5000, "\x00", "١٢٣٤٥٦"):
        response = client.post(
            "/staff/account/two-factor", data={"csrf_token": token, "code": typed}
        )
        assert response.status_code == 400
