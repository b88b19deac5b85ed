"""Staff accounts from the command line (`make staff-user`)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from db.staff_models import StaffSession, StaffUser
from tests.conftest import ROOT
from tests.webapp.staff.conftest import PASSWORD, login
from webapp.staff import cli


@pytest.fixture
def run(use_database, monkeypatch, capsys):
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)

    def run(*argv: str, stdin: str = ""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def test_create_a_user_and_sign_in(run, client):
    code, out = run("create-user", "Bea", "--password-stdin", stdin=PASSWORD + "\n")
    assert (code, out.strip()) == (0, "Created staff user bea (front desk).")
    assert login(client, "bea").status_code == 303


def test_the_password_can_come_from_the_environment(run, monkeypatch, db_session):
    monkeypatch.setenv("STAFF_PASSWORD", PASSWORD)
    assert run("create-user", "cy")[0] == 0
    assert db_session.scalars(select(StaffUser.username)).all() == ["cy"]


@pytest.mark.parametrize(
    "argv, stdin, message",
    [
        (["create-user", "bea", "--password-stdin"], "short\n", "at least 12"),
        (["create-user", "bea", "--password-stdin"], "\n", "at least 12"),
        (["create-user", "no spaces", "--password-stdin"], PASSWORD, "user name"),
        (["create-user", "bea"], "", "no terminal"),  # never a default password
        (["create-user"], PASSWORD, "give the user name"),
        (["set-password", "nobody", "--password-stdin"], PASSWORD, "no user"),
        (["disable-user", "nobody"], "", "no user"),
    ],
)
def test_refusals(run, db_session, argv, stdin, message):
    code, out = run(*argv, stdin=stdin)
    assert code == 1 and message in out
    assert db_session.scalars(select(StaffUser)).all() == []


def test_a_name_is_taken_once(run):
    run("create-user", "bea", "--password-stdin", stdin=PASSWORD)
    code, out = run("create-user", "BEA", "--password-stdin", stdin=PASSWORD)
    assert code == 1 and "exists already" in out


def test_set_password_disable_enable_unlock_list(run, client):
    run("create-user", "bea", "--password-stdin", stdin=PASSWORD)
    new = "another long password"
    assert run("set-password", "bea", "--password-stdin", stdin=new)[0] == 0
    assert login(client, "bea").status_code == 401
    assert login(client, "bea", new).status_code == 303

    assert run("disable-user", "bea")[0] == 0
    assert client.get("/staff/leads").status_code == 302  # session ended
    assert login(client, "bea", new).status_code == 401
    assert run("enable-user", "bea")[0] == 0

    # another browser: this one is known to bea, so bea's wait would not hold it
    client.delete_cookie("clinic_staff_device", path="/staff/login")
    for _ in range(5):
        login(client, "bea", "wrong wrong wrong")
    assert login(client, "bea", new).status_code == 429
    code, out = run("unlock", "bea")
    assert (code, out.strip()) == (0, "Unlocked.")
    assert login(client, "bea", new).status_code == 303

    code, out = run("list-users")
    assert out.startswith("bea\tfront desk\tactive\tpassword only\tlast sign-in: 20")


def test_make_staff_user_runs_the_command(tmp_path):
    """The Makefile target, as an administrator runs it (password on stdin)."""
    database_url = f"sqlite:///{tmp_path / 'clinic.db'}"
    result = subprocess.run(
        ["make", "--no-print-directory", "staff-user", "STAFF_USER=dee",
         "STAFF_ARGS=--password-stdin"],
        cwd=ROOT, input=PASSWORD + "\n", capture_output=True, text=True, timeout=300,
        env={**os.environ, "DATABASE_URL": database_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Created staff user dee (front desk)." in result.stdout


def test_make_staff_user_takes_the_password_from_the_environment(tmp_path):
    """Without a terminal and without --password-stdin: STAFF_PASSWORD."""
    database_url = f"sqlite:///{tmp_path / 'clinic.db'}"
    result = subprocess.run(
        ["make", "--no-print-directory", "staff-user", "STAFF_USER=eve"],
        cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=300,
        env={**os.environ, "DATABASE_URL": database_url, "STAFF_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Created staff user eve (front desk)." in result.stdout
    assert PASSWORD not in result.stdout + result.stderr  # never echoed


def test_without_a_terminal_make_staff_user_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "STAFF_PASSWORD"}
    result = subprocess.run(
        ["make", "--no-print-directory", "staff-user", "STAFF_USER=fay"],
        cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=300, env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "--password-stdin" in result.stderr and "STAFF_PASSWORD" in result.stderr


def test_the_readme_says_how_to_run_it_without_a_terminal():
    """What the error above points to is written where a newcomer looks."""
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    start = readme.index("make staff-user")
    passage = readme[start : start + 400]
    assert "--password-stdin" in passage and "STAFF_PASSWORD" in passage


# ---- roles, two-factor and removing accounts (#14) ---------------------------


def _user(db_session, name: str) -> StaffUser:
    db_session.expire_all()
    return db_session.scalars(select(StaffUser).where(StaffUser.username == name)).one()


@pytest.mark.parametrize(
    "flags, role",
    [([], "front_desk"), (["--role", "front-desk"], "front_desk"),
     (["--role", "admin"], "admin")],
)  # fmt: skip
def test_a_new_account_chooses_its_role(run, db_session, flags, role):
    argv = ["create-user", "bea", "--password-stdin", *flags]
    assert run(*argv, stdin=PASSWORD)[0] == 0
    assert _user(db_session, "bea").role == role


def test_an_unknown_role_is_refused(run, db_session):
    with pytest.raises(SystemExit):
        run("create-user", "bea", "--password-stdin", "--role", "boss", stdin=PASSWORD)
    assert db_session.scalars(select(StaffUser)).all() == []


def test_a_common_password_is_refused_with_the_reason(run, db_session):
    code, out = run("create-user", "bea", "--password-stdin", stdin="password1234")
    assert code == 1 and "most common passwords" in out
    assert db_session.scalars(select(StaffUser)).all() == []
    run("create-user", "bea", "--password-stdin", stdin=PASSWORD)
    code, out = run("set-password", "bea", "--password-stdin", stdin="password1234")
    assert code == 1 and "most common passwords" in out


def test_disable_user_ends_sessions_and_sign_in(run, app):
    run("create-user", "bea", "--password-stdin", stdin=PASSWORD)
    one, two = app.test_client(), app.test_client()
    assert login(one, "bea").status_code == login(two, "bea").status_code == 303
    code, out = run("disable-user", "bea")
    assert (code, out.strip()) == (0, "bea is disabled.")
    for browser in (one, two):
        assert browser.get("/staff/leads").status_code == 302
    assert login(one, "bea").status_code == 401
    assert run("enable-user", "bea")[0] == 0
    assert login(one, "bea").status_code == 303


def test_delete_user_removes_the_account_and_its_sessions(run, app, db_session):
    run("create-user", "bea", "--password-stdin", stdin=PASSWORD)
    browser = app.test_client()
    assert login(browser, "bea").status_code == 303
    code, out = run("delete-user", "BEA")
    assert (code, out.strip()) == (0, "Deleted staff user bea; their sessions ended.")
    assert browser.get("/staff/leads").status_code == 302
    assert login(browser, "bea").status_code == 401
    assert db_session.scalars(select(StaffUser)).all() == []
    assert db_session.scalars(select(StaffSession)).all() == []
    code, out = run("delete-user", "bea")
    assert code == 1 and "no user bea" in out


def test_set_role_and_reset_two_factor(run, app, db_session):
    run("create-user", "bea", "--password-stdin", stdin=PASSWORD)
    browser = app.test_client()
    login(browser, "bea")
    code, out = run("set-role", "bea", "admin")
    assert (code, out.strip()) == (0, "bea is admin; sessions ended.")
    assert browser.get("/staff/leads").status_code == 302
    login(browser, "bea")  # an admin now: sent to the set-up first
    assert (
        browser.get("/staff/leads").headers["Location"] == "/staff/account/two-factor"
    )

    user = _user(db_session, "bea")
    user.totp_secret, user.totp_enabled_at = "JBSWY3DPEHPK3PXP", user.created_at
    db_session.commit()
    assert "two-factor" in run("list-users")[1]
    code, out = run("reset-two-factor", "bea")
    assert code == 0 and "off" in out
    assert _user(db_session, "bea").totp_secret is None
    assert browser.get("/staff/leads").status_code == 302  # sessions ended
