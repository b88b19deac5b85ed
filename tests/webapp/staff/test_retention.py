"""Retention: leads of every status go after their status's period without
activity (RETENTION_DAYS_<STATUS>, default RETENTION_DAYS), conversations
without a lead after RETENTION_DAYS; everything else stays."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from db.models import Lead, LeadEvent, LeadStatus, utcnow
from db.rasa_events import events
from tests.webapp.staff.conftest import add_lead, faq_chat, write_conversation
from webapp.staff import cli
from webapp.staff.privacy import purge

NOW = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)


@pytest.fixture
def data(database_url, db_session):
    """Leads and chats, old and recent, open and closed."""
    made = {}
    specs = [
        ("old_closed", LeadStatus.CLOSED, OLD),
        ("old_unfit", LeadStatus.NOT_A_FIT, OLD),
        ("old_open", LeadStatus.CONTACTED, OLD),
        ("recent_closed", LeadStatus.CLOSED, RECENT),
    ]
    for n, (key, status, when) in enumerate(specs):
        write_conversation(database_url, key, faq_chat(when))
        reference = add_lead(
            database_url, sender_id=key, submission_key=key, phone=f"+1604555000{n}"
        )
        db_session.execute(
            update(Lead)
            .where(Lead.reference == reference)
            .values(status=status, created_at=when, updated_at=when)
        )
        db_session.commit()
        made[key] = reference
    write_conversation(database_url, "old_chat", faq_chat(OLD))
    write_conversation(database_url, "recent_chat", faq_chat(RECENT))
    db_session.commit()
    return made


def senders(db_session):
    return set(db_session.scalars(select(events.c.sender_id).distinct()))


def test_purge_deletes_only_what_is_old(data, db_session):
    report = purge(db_session, days=365, now=NOW)
    # An open lead idle for over a year goes too (#14: every status).
    assert (report.leads, report.conversations) == (3, 1)
    assert report.by_status["contacted"] == 1
    assert report.events > 0
    left = set(db_session.scalars(select(Lead.reference)))
    assert left == {data["recent_closed"]}
    assert senders(db_session) == {"recent_closed", "recent_chat"}
    deleted = db_session.scalars(
        select(LeadEvent).where(LeadEvent.kind == "deleted")
    ).all()
    assert {e.lead_reference for e in deleted} == {
        data["old_closed"],
        data["old_unfit"],
        data["old_open"],
    }
    assert all(e.actor == "retention" for e in deleted)
    assert all("365 days" in e.detail for e in deleted)


def test_each_status_has_its_own_period(database_url, db_session):
    """Every lead idle 100 days: only the statuses whose period is shorter go."""
    periods = {
        "new": 90, "contacted": 200, "booked": 50, "not_a_fit": 200, "closed": 30,
    }  # fmt: skip
    when = NOW - timedelta(days=100)
    made = {}
    for n, status in enumerate(LeadStatus):
        write_conversation(database_url, f"s-{status.value}", faq_chat(when))
        reference = add_lead(
            database_url, sender_id=f"s-{status.value}",
            submission_key=f"k-{status.value}", phone=f"+1604555020{n}",
        )  # fmt: skip
        db_session.execute(
            update(Lead)
            .where(Lead.reference == reference)
            .values(status=status, created_at=when, updated_at=when)
        )
        db_session.commit()
        made[status.value] = reference
    report = purge(db_session, days=5000, now=NOW, periods=periods)
    gone = {s for s, days in periods.items() if days < 100}
    assert {s for s, n in report.by_status.items() if n} == gone
    left = set(db_session.scalars(select(Lead.reference)))
    assert left == {made[s] for s in periods if s not in gone}
    assert senders(db_session) == {f"s-{s}" for s in periods if s not in gone}
    detail = db_session.scalars(
        select(LeadEvent.detail).where(LeadEvent.lead_reference == made["booked"])
        .where(LeadEvent.kind == "deleted")
    ).one()  # fmt: skip
    assert "booked for over 50 days" in detail


def test_an_unknown_status_or_a_zero_period_is_refused(db_session):
    with pytest.raises(ValueError, match="no lead status 'open'"):
        purge(db_session, days=30, periods={"open": 10})
    with pytest.raises(ValueError, match="at least one day"):
        purge(db_session, days=30, periods={"new": 0})


def test_the_settings_give_each_status_its_period(monkeypatch):
    from clinic.settings import SettingsError, StaffSettings

    monkeypatch.setenv("RETENTION_DAYS", "400")
    monkeypatch.setenv("RETENTION_DAYS_NEW", "90")
    monkeypatch.setenv("RETENTION_DAYS_CLOSED", "30")
    periods = StaffSettings.from_env().retention_periods()
    assert periods == {
        "new": 90, "contacted": 400, "booked": 400, "not_a_fit": 400, "closed": 30,
    }  # fmt: skip
    assert set(periods) == {status.value for status in LeadStatus}
    monkeypatch.setenv("RETENTION_DAYS_BOOKED", "0")
    with pytest.raises(SettingsError, match="RETENTION_DAYS_BOOKED"):
        StaffSettings.from_env()


def test_a_dry_run_deletes_nothing(data, db_session):
    report = purge(db_session, days=365, now=NOW, dry_run=True)
    assert (report.leads, report.conversations) == (3, 1)
    assert db_session.execute(select(func.count(Lead.id))).scalar_one() == 4
    assert len(senders(db_session)) == 6


def test_a_transcript_shared_with_an_open_lead_is_kept(database_url, db_session):
    write_conversation(database_url, "shared", faq_chat(OLD))
    for n, status in enumerate((LeadStatus.CLOSED, LeadStatus.NEW)):
        reference = add_lead(
            database_url, sender_id="shared", submission_key=f"k{n}",
            phone=f"+1604555010{n}", email=f"p{n}@example.org",
        )  # fmt: skip
        db_session.execute(
            update(Lead)
            .where(Lead.reference == reference)
            .values(status=status, updated_at=OLD if n == 0 else RECENT)
        )
        db_session.commit()
    assert purge(db_session, days=30, now=NOW).leads == 1
    assert senders(db_session) == {"shared"}


def test_the_command(data, database_url, monkeypatch, capsys, db_session):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RETENTION_DAYS", "5000")
    assert cli.main(["retention"]) == 0
    assert "Deleted 0 leads (none)" in capsys.readouterr().out
    # the fixture's dates are relative to NOW (2026-11-01), the command's to today
    days = (utcnow() - OLD).days - 1
    assert cli.main(["retention", "--days", str(days), "--dry-run"]) == 0
    assert "Would delete 3 leads (contacted 1, not_a_fit 1, closed 1) and 1 " in (
        capsys.readouterr().out
    )
    assert cli.main(["retention", "--days", str(days)]) == 0
    out = capsys.readouterr().out
    assert "Deleted 3 leads (contacted 1, not_a_fit 1, closed 1) and 1 conv" in out
    assert db_session.execute(select(func.count(Lead.id))).scalar_one() == 1


def test_the_command_uses_each_status_period(
    data, database_url, monkeypatch, capsys, db_session
):
    """Without --days, RETENTION_DAYS_<STATUS>: here only closed leads go."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RETENTION_DAYS", "5000")
    monkeypatch.setenv("RETENTION_DAYS_CLOSED", str((utcnow() - OLD).days - 1))
    assert cli.main(["retention"]) == 0
    assert "Deleted 1 leads (closed 1) and 0 conv" in capsys.readouterr().out
    left = set(db_session.scalars(select(Lead.reference)))
    assert data["old_closed"] not in left and data["old_unfit"] in left


def test_the_command_refuses_zero_days(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["retention", "--days", "0"]) == 1
    assert "at least one day" in capsys.readouterr().err


def test_the_default_is_a_year(monkeypatch):
    from clinic.settings import StaffSettings

    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    assert StaffSettings.from_env().retention_days == 365
