"""Lead storage rules and staff notifications, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from sqlalchemy import func, select, update

from db.engine import session_factory
from db.leads import DEDUPE_WINDOW, LeadInput, Notification, save_lead
from db.models import Lead, LeadEvent, LeadStatus, OutboxMessage, utcnow
from notifications.outbox import SmtpSettings, deliver_due
from scripts.ports import free_port
from tests.factories import lead_input

NOTIFY = Notification(
    recipient="staff@clinic.test", staff_url="http://s/leads/{reference}"
)


def lead(key: str = "k1", **overrides) -> LeadInput:
    """A lead with only the answers these tests compare."""
    values = dict(
        submission_key=key,
        name="Ana Souza",
        phone="+16045550101",
        concern="low back pain",
        contact_method=None,
        contact_time=None,
        duration=None,
        screening=None,
        consent_version="test",
        consent_at=utcnow(),
    )
    return lead_input(**{**values, **overrides})


def count(factory, model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_new_lead_is_stored_with_its_audit_trail_and_a_notification(database_url):
    factory = session_factory(database_url)
    result = save_lead(factory, lead(screening="yes"), NOTIFY)
    assert result.outcome == "created"
    assert re.fullmatch(r"IMS-[A-Z2-9]{6}", result.reference)
    with factory() as session:
        stored = session.scalars(select(Lead)).one()
        assert stored.status is LeadStatus.NEW
        assert stored.needs_review is True  # screening "yes"
        assert [e.kind for e in stored.events] == ["created"]
        [message] = session.scalars(select(OutboxMessage)).all()
    assert result.reference in message.subject and "REVIEW" in message.subject
    assert "http://s/leads/" + result.reference in message.body
    # Email is not a secure channel: no name, contact or health details.
    for private in ("Ana", "Souza", "+16045550101", "back pain"):
        assert private not in message.body and private not in message.subject


def test_the_same_submission_twice_stores_one_lead(database_url):
    factory = session_factory(database_url)
    first = save_lead(factory, lead("same"), NOTIFY)
    again = save_lead(factory, lead("same"), NOTIFY)
    assert again.outcome == "repeated" and again.reference == first.reference
    assert count(factory, Lead) == 1
    assert count(factory, OutboxMessage) == 1


def test_concurrent_double_submit_stores_one_lead(database_url):
    factory = session_factory(database_url)
    results, errors = [], []

    def submit():
        try:
            results.append(save_lead(factory, lead("double-click"), NOTIFY))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({r.reference for r in results}) == 1
    assert count(factory, Lead) == 1


def test_same_phone_on_another_channel_updates_the_open_lead(database_url):
    factory = session_factory(database_url)
    first = save_lead(factory, lead("web"), NOTIFY)
    second = save_lead(
        factory,
        lead(
            "sms",
            channel="twilio",
            sender_id="+16045550101",
            duration="a year",
            red_flag="chest_pain",
        ),
        NOTIFY,
    )
    assert second.outcome == "updated" and second.reference == first.reference
    with factory() as session:
        stored = session.scalars(select(Lead)).one()
        assert stored.duration == "a year"
        assert stored.needs_review is True  # the red flag marks it
        kinds = [e.kind for e in stored.events]
    assert kinds == ["created", "updated"]


def test_same_email_matches_too(database_url):
    factory = session_factory(database_url)
    first = save_lead(factory, lead("a", phone=None, email="ana@example.org"), NOTIFY)
    second = save_lead(
        factory, lead("b", phone="+16045550199", email="ana@example.org"), NOTIFY
    )
    assert second.reference == first.reference
    assert count(factory, Lead) == 1


@pytest.mark.parametrize("change", ["older than 30 days", "closed"])
def test_old_or_closed_leads_are_not_reused(database_url, change):
    factory = session_factory(database_url)
    save_lead(factory, lead("old"), NOTIFY)
    with factory() as session:
        if change == "closed":
            values = {"status": LeadStatus.CLOSED}
        else:
            values = {"created_at": utcnow() - DEDUPE_WINDOW - timedelta(days=1)}
        session.execute(update(Lead).values(**values))
        session.commit()
    assert save_lead(factory, lead("new"), NOTIFY).outcome == "created"
    assert count(factory, Lead) == 2


@pytest.mark.parametrize(
    "name, concern",
    [
        ("Zoë Ñúñez-O'Brien", "douleur au dos, ça fait mal"),
        ("Li Wei 李伟 🙂", "neck pain 😣 since the accident"),
        ('Robert"); DROP TABLE leads;--', "<script>alert('x')</script> & <b>pain</b>"),
        ("N" * 5000, "é" * 5000),
    ],
    ids=["accents", "emoji", "sql-and-html", "5000-chars"],
)
def test_any_text_is_stored_exactly(database_url, name, concern):
    factory = session_factory(database_url)
    result = save_lead(factory, lead(name=name, concern=concern), NOTIFY)
    with factory() as session:
        stored = session.scalars(
            select(Lead).where(Lead.reference == result.reference)
        ).one()
    assert (stored.name, stored.concern) == (name, concern)


class SmtpServer:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages = []
        outer = self

        class Keep(Message):
            def handle_message(self, message):
                outer.messages.append(message)

        self.controller = Controller(Keep(), hostname="127.0.0.1", port=free_port())

    @property
    def port(self) -> int:
        return self.controller.port

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def smtp_at(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=port, starttls=False, sender="bot@t", timeout=3
    )


def test_notifications_are_emailed_and_recorded(database_url):
    factory = session_factory(database_url)
    result = save_lead(factory, lead(), NOTIFY)
    with SmtpServer() as server:
        report = deliver_due(factory, smtp_at(server.port))
    assert report.sent == 1
    [email] = server.messages
    assert email["To"] == "staff@clinic.test"
    assert result.reference in email["Subject"]
    with factory() as session:
        kinds = [
            e.kind for e in session.scalars(select(LeadEvent).order_by(LeadEvent.id))
        ]
        message = session.scalars(select(OutboxMessage)).one()
    assert kinds == ["created", "notified"]
    assert message.transport == "smtp" and message.sent_at is not None


def test_an_smtp_outage_delays_but_never_loses_a_notification(database_url):
    factory = session_factory(database_url)
    save_lead(factory, lead(), NOTIFY)
    port = free_port()  # nothing listens here yet
    report = deliver_due(factory, smtp_at(port))
    assert report.failed == 1
    with factory() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert message.attempts == 1 and message.sent_at is None and message.last_error
        retry_at = message.next_attempt_at
    # Not due again before its retry time ...
    assert deliver_due(factory, smtp_at(port)).failed == 0
    # ... and delivered once the server is back.
    server = SmtpServer()
    server.controller.port = port
    with server:
        later = retry_at + timedelta(seconds=1)
        assert deliver_due(factory, smtp_at(port), now=later).sent == 1
    assert len(server.messages) == 1


def test_without_smtp_notifications_stay_in_the_local_outbox(database_url):
    factory = session_factory(database_url)
    save_lead(factory, lead(), NOTIFY)
    assert deliver_due(factory, None).kept_local == 1
    assert deliver_due(factory, None).kept_local == 0  # delivered once only
    with factory() as session:
        message = session.scalars(select(OutboxMessage)).one()
    assert message.transport == "local"
