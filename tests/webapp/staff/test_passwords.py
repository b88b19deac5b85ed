"""The staff password policy (#14): the length rule and a blocklist of
common passwords (zxcvbn's list), at creation and at every change."""

from __future__ import annotations

import pytest

from tests.webapp.staff.conftest import PASSWORD
from webapp.staff import auth, passwords


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "Password1234!",
        "qwertyuiop123",
        "iloveyou2024!!",
        "1234567890123",
        "baseball12345",
        "letmein123456",
    ],
)
def test_common_passwords_are_refused(password):
    assert "most common passwords" in passwords.problem(password)


@pytest.mark.parametrize(
    "password",
    [PASSWORD, "tram-violet-kettle-41", "Six unrelated words, please"],
)
def test_uncommon_ones_pass(password):
    assert passwords.problem(password) == ""


def test_the_list_is_the_package_s_and_large():
    listed = passwords.common_passwords()
    assert len(listed) > 25_000 and "password" in listed


def test_the_length_rule_stays():
    assert "at least 12" in passwords.problem("Xk3!vQ9#mZ")
    assert "at most 1024" in passwords.problem("x" * 1025)


def test_refused_at_creation_and_at_change(db_session, staff_user):
    with pytest.raises(auth.AccountError, match="most common passwords"):
        auth.create_user(db_session, "bea", "password1234")
    with pytest.raises(auth.AccountError, match="most common passwords"):
        auth.set_password(db_session, "ana", "password1234")
