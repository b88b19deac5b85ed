"""Retention runs on its own: the notification worker's scheduled pass
(notifications/retention.py), which `make run` starts with the worker."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from clinic.settings import StaffSettings
from db.engine import session_factory
from db.models import Lead, LeadStatus, utcnow
from notifications import worker
from notifications.retention import RetentionSchedule
from tests.webapp.staff.conftest import add_lead, faq_chat, write_conversation

ROOT = Path(__file__).resolve().parents[2]
OLD = utcnow() - timedelta(days=100)


def lead_at(database_url: str, key: str, status: LeadStatus, n: int) -> str:
    write_conversation(database_url, key, faq_chat(OLD))
    reference = add_lead(
        database_url, sender_id=key, submission_key=key, phone=f"+1604555030{n}"
    )
    with session_factory(database_url)() as session:
        session.execute(
            update(Lead)
            .where(Lead.reference == reference)
            .values(status=status, created_at=OLD, updated_at=OLD)
        )
        session.commit()
    return reference


def references(database_url: str) -> set:
    with session_factory(database_url)() as session:
        return set(session.scalars(select(Lead.reference)))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_schedule_runs_at_start_then_every_interval(database_url):
    staff = StaffSettings(
        retention_days=5000,
        retention_status_days=(("new", 90), ("booked", 200)),
        retention_interval_hours=24,
    )
    clock = Clock()
    schedule = RetentionSchedule(staff, clock=clock)
    factory = session_factory(database_url)
    new = lead_at(database_url, "new", LeadStatus.NEW, 1)
    booked = lead_at(database_url, "booked", LeadStatus.BOOKED, 2)
    report = schedule.tick(factory)
    assert report is not None and report.by_status["new"] == 1
    assert references(database_url) == {booked}
    # Not due again until a day has passed: a lead past its period waits.
    later = lead_at(database_url, "later", LeadStatus.NEW, 3)
    clock.now += 23 * 3600
    assert schedule.tick(factory) is None
    assert later in references(database_url)
    clock.now += 3600
    assert schedule.tick(factory).leads == 1
    assert references(database_url) == {booked}
    assert new not in references(database_url)


def test_an_interval_of_zero_turns_it_off(database_url):
    lead_at(database_url, "new", LeadStatus.NEW, 1)
    staff = StaffSettings(retention_days=1, retention_interval_hours=0)
    assert RetentionSchedule(staff).tick(session_factory(database_url)) is None
    assert len(references(database_url)) == 1


def test_a_failed_pass_is_tried_again_at_the_next_tick(database_url, monkeypatch):
    from notifications import retention

    calls = []

    def failing(factory, staff):
        calls.append(1)
        raise OperationalError("SELECT", {}, Exception("database away"))

    monkeypatch.setattr(retention, "retention_pass", failing)
    schedule = RetentionSchedule(StaffSettings(), clock=Clock())
    assert schedule.tick(session_factory(database_url)) is None
    assert schedule.tick(session_factory(database_url)) is None
    assert len(calls) == 2


def test_the_worker_runs_retention(use_database, monkeypatch):
    """One pass of the worker (`--once`) deletes what is past its period
    for each status and keeps the rest."""
    monkeypatch.setenv("RETENTION_DAYS", "5000")
    monkeypatch.setenv("RETENTION_DAYS_CONTACTED", "30")
    monkeypatch.setenv("RETENTION_DAYS_CLOSED", "30")
    kept = lead_at(use_database, "new", LeadStatus.NEW, 1)
    lead_at(use_database, "contacted", LeadStatus.CONTACTED, 2)
    lead_at(use_database, "closed", LeadStatus.CLOSED, 3)
    worker.main(["--once"])
    assert references(use_database) == {kept}


@pytest.mark.parametrize("script", ["run.sh", "run_scaled.sh"])
def test_make_run_starts_the_worker(script):
    """`make run` (and run-scaled) start the worker, so retention needs no
    cron: the worker is one of the processes the script keeps running."""
    text = (ROOT / "scripts" / script).read_text()
    assert re.search(r'^"\$BIN/python" -m notifications\.worker &$', text, re.M)
    makefile = (ROOT / "Makefile").read_text()
    assert f"scripts/{script}" in makefile
