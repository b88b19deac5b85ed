"""Retention: closed and not-a-fit leads, and conversations without a lead,
go after RETENTION_DAYS without activity; everything else stays."""

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


def test_purge_deletes_only_what_is_old_and_done(data, db_session):
    report = purge(db_session, days=365, now=NOW)
    assert (report.leads, report.conversations) == (2, 1)
    assert report.events > 0
    left = set(db_session.scalars(select(Lead.reference)))
    assert left == {data["old_open"], data["recent_closed"]}
    assert senders(db_session) == {"old_open", "recent_closed", "recent_chat"}
    deleted = db_session.scalars(
        select(LeadEvent).where(LeadEvent.kind == "deleted")
    ).all()
    assert {e.lead_reference for e in deleted} == {
        data["old_closed"],
        data["old_unfit"],
    }
    assert all(e.actor == "retention" for e in deleted)
    assert all("365 days" in e.detail for e in deleted)


def test_a_dry_run_deletes_nothing(data, db_session):
    report = purge(db_session, days=365, now=NOW, dry_run=True)
    assert (report.leads, report.conversations) == (2, 1)
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
            .values(status=status, updated_at=OLD)
        )
        db_session.commit()
    assert purge(db_session, days=30, now=NOW).leads == 1
    assert senders(db_session) == {"shared"}


def test_the_command(data, database_url, monkeypatch, capsys, db_session):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RETENTION_DAYS", "5000")
    assert cli.main(["retention"]) == 0
    assert "Deleted 0 closed" in capsys.readouterr().out
    # the fixture's dates are relative to NOW (2026-11-01), the command's to today
    days = (utcnow() - OLD).days - 1
    assert cli.main(["retention", "--days", str(days), "--dry-run"]) == 0
    assert "Would delete 2 closed or not-a-fit leads and 1 conversations" in (
        capsys.readouterr().out
    )
    assert cli.main(["retention", "--days", str(days)]) == 0
    out = capsys.readouterr().out
    assert "Deleted 2 closed or not-a-fit leads and 1 conversations" in out
    assert db_session.execute(select(func.count(Lead.id))).scalar_one() == 2


def test_the_command_refuses_zero_days(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["retention", "--days", "0"]) == 1
    assert "at least one day" in capsys.readouterr().err


def test_the_default_is_a_year(monkeypatch):
    from clinic.settings import StaffSettings

    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    assert StaffSettings.from_env().retention_days == 365
