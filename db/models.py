"""Tables of the leads database (SQLAlchemy 1.4, 2.0-style usage).

- `leads`: a person who asked for an assessment or a call back, with consent.
- `lead_submissions`: idempotency keys of submitted forms.
- `lead_events`: append-only audit trail of what happened to each lead.
- `outbox`: notifications waiting to be sent (or kept locally) to staff.
- `sms_contacts`: numbers that text the clinic, with their STOP opt-out.
- `red_flag_alerts`: chats the red-flag check caught, with their reference,
  when staff were told and who reviewed them.
- `conversation_tombstones`: deleted conversations, so none comes back.
- `twilio_message_sids`: Twilio messages already received (replays).

Staff accounts and sessions live in the staff app's tables (`webapp`).
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import declarative_base, relationship

# Typed as Any: SQLAlchemy 1.4 gives declarative bases no static type.
Base: Any = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class LeadStatus(str, enum.Enum):
    NEW = "new"
    CONTACTED = "contacted"
    BOOKED = "booked"
    NOT_A_FIT = "not_a_fit"
    CLOSED = "closed"


OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.BOOKED)


class Lead(Base):
    """A consented request to be contacted by the clinic."""

    __tablename__ = "leads"

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(
        DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow
    )
    kind = Column(String(16), nullable=False, default="assessment")  # or callback
    channel = Column(String(32), nullable=False)
    sender_id = Column(String(255), nullable=False, index=True)
    name = Column(Text, nullable=False)  # stored exactly as given
    phone = Column(String(32), index=True)  # E.164
    email = Column(String(320), index=True)  # lower-cased
    contact_method = Column(String(16))  # call / text / email
    contact_time = Column(Text)
    concern = Column(Text)
    condition = Column(String(64))
    duration = Column(Text)
    screening = Column(String(16))  # yes / no / prefer_not (never details)
    needs_review = Column(Boolean, nullable=False, default=False)
    red_flag = Column(String(64))
    consent_version = Column(String(32), nullable=False)
    consent_at = Column(DateTime(timezone=True), nullable=False)
    status = Column(
        Enum(
            LeadStatus,
            name="lead_status",
            values_callable=lambda e: [m.value for m in e],
        ),
        nullable=False,
        default=LeadStatus.NEW,
    )
    events = relationship(
        "LeadEvent", back_populates="lead", order_by="LeadEvent.id", lazy="selectin"
    )

    __table_args__ = (Index("ix_leads_status_created", "status", "created_at"),)


class LeadSubmission(Base):
    """A submitted lead form, by its idempotency key: a retried or doubled
    submission finds its key here and changes nothing."""

    __tablename__ = "lead_submissions"

    key = Column(String(64), primary_key=True)
    lead_id = Column(Integer, ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class LeadEvent(Base):
    """One entry of a lead's audit trail. Rows are never updated or deleted
    (a deleted lead keeps its trail, without personal data)."""

    __tablename__ = "lead_events"

    id = Column(Integer, primary_key=True)
    lead_id = Column(Integer, ForeignKey("leads.id", ondelete="SET NULL"), index=True)
    lead_reference = Column(String(16), nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    kind = Column(String(32), nullable=False)  # created, updated, status_changed, ...
    actor = Column(String(120), nullable=False)  # "assistant", "system" or a staff user
    detail = Column(Text)  # no personal data: field names, statuses, notes by staff

    lead = relationship("Lead", back_populates="events")


class OutboxMessage(Base):
    """A notification to staff. Without SMTP it stays here as the local
    outbox the staff app shows; with SMTP it is sent with retries."""

    __tablename__ = "outbox"

    id = Column(Integer, primary_key=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    lead_reference = Column(String(16), index=True)
    recipient = Column(String(320), nullable=False)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    claimed_until = Column(DateTime(timezone=True))
    sent_at = Column(DateTime(timezone=True))
    transport = Column(String(16))  # smtp / local, once delivered
    last_error = Column(String(500))

    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"),)


class SmsContact(Base):
    """A phone number that texts the clinic (SMS or WhatsApp), by E.164.

    One row per person across both channels. `opted_out_at` is set by STOP and
    cleared by START; while it is set the assistant sends that number nothing.
    """

    __tablename__ = "sms_contacts"

    phone = Column(String(32), primary_key=True)  # E.164
    first_seen_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    last_seen_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    last_channel = Column(String(16))  # sms / whatsapp
    opted_out_at = Column(DateTime(timezone=True))


class RedFlagAlert(Base):
    """A conversation in which the person was given the urgent-care reply.

    Made by the notification worker (notifications/red_flags.py) when it
    sees the red flag in the transcript, with a staff email that holds the
    reference and a link, never what was said. Staff mark it reviewed in
    the conversation page; that goes into `lead_events` as well. Deleted
    with the conversation.
    """

    __tablename__ = "red_flag_alerts"

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)  # RF-XXXXXX
    sender_id = Column(String(255), nullable=False, unique=True)
    flagged_at = Column(DateTime(timezone=True), nullable=False)
    notified_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    reviewed_at = Column(DateTime(timezone=True))
    reviewed_by = Column(String(120))


class ConversationTombstone(Base):
    """A deleted conversation (db/tombstones.py): the tracker store writes
    nothing of a tracker that began before `deleted_at`, so a message still
    being handled when staff (or retention, or the person) deleted the
    conversation cannot bring it back.

    Keyed by a SHA-256 of the conversation id, not the id itself: a Twilio
    conversation id holds the phone number of the person who asked for
    deletion. Rows older than `TOMBSTONE_DAYS` are purged.
    """

    __tablename__ = "conversation_tombstones"

    sender_hash = Column(String(64), primary_key=True)
    deleted_at = Column(Float, nullable=False, index=True)  # epoch s, as events


class TwilioMessageSid(Base):
    """A Twilio MessageSid already received: a replay of it (Twilio's retry,
    on any replica, after any restart) is acknowledged and not handled again.
    Kept a day (channels/message_sids.py)."""

    __tablename__ = "twilio_message_sids"

    message_sid = Column(String(64), primary_key=True)
    received_at = Column(DateTime(timezone=True), nullable=False, index=True)
