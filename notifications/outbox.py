"""Delivers queued staff notifications, by SMTP or to the local outbox.

A message is claimed before sending (so two workers never send it twice),
and a failed send is retried later with a growing delay: an SMTP outage
delays notifications but never loses them, and never touches the chat.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import List, Optional

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from clinic.settings import Settings
from db.models import Lead, LeadEvent, OutboxMessage, utcnow

logger = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=2)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(minutes=30)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = True
    sender: str = "assistant@localhost"
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Optional[SmtpSettings]:
        """None (local mode) unless SMTP_HOST is set."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            sender=settings.smtp_from,
        )


@dataclass
class DeliveryReport:
    sent: int = 0
    kept_local: int = 0
    failed: int = 0


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 30 min."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


def send_email(smtp: SmtpSettings, message: OutboxMessage) -> None:
    email = EmailMessage()
    email["From"] = smtp.sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(email)


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .where(OutboxMessage.sent_at.is_(None))
        .where(
            or_(
                OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now
            )
        )
        .values(claimed_until=now + CLAIM_FOR)
    )
    session.commit()
    return claimed.rowcount == 1


def _record_delivery(session: Session, message: OutboxMessage, transport: str) -> None:
    now = utcnow()
    message.sent_at, message.transport, message.claimed_until = now, transport, None
    if message.lead_reference:
        lead = session.scalars(
            select(Lead).where(Lead.reference == message.lead_reference)
        ).first()
        session.add(
            LeadEvent(
                lead=lead,
                lead_reference=message.lead_reference,
                kind="notified",
                actor="system",
                detail=f"transport={transport}",
            )
        )


def deliver_due(
    session_factory: sessionmaker,
    smtp: Optional[SmtpSettings],
    now: Optional[datetime] = None,
    batch: int = 20,
) -> DeliveryReport:
    """Delivers the messages that are due; returns what happened."""
    now = now or utcnow()
    report = DeliveryReport()
    with session_factory() as session:
        due: List[int] = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.sent_at.is_(None))
                .where(OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.id)
                .limit(batch)
            )
        )
        for message_id in due:
            if not _claim(session, message_id, now):
                continue
            message = session.get(OutboxMessage, message_id)
            if smtp is None:
                _record_delivery(session, message, "local")
                report.kept_local += 1
            else:
                try:
                    send_email(smtp, message)
                except (OSError, smtplib.SMTPException) as error:
                    message.attempts += 1
                    message.next_attempt_at = now + retry_delay(message.attempts)
                    message.claimed_until = None
                    message.last_error = f"{type(error).__name__}: {error}"[:500]
                    report.failed += 1
                    logger.warning(
                        "Notification %s not sent (attempt %s): %s",
                        message.id,
                        message.attempts,
                        type(error).__name__,
                    )
                else:
                    _record_delivery(session, message, "smtp")
                    report.sent += 1
            session.commit()
    return report
