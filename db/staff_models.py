"""Tables of the staff app (webapp/staff/), on the same `Base` and database
as the leads (db/models.py).

- `staff_users`: accounts, created from the command line (no default user),
  each with a role and, once set up, a TOTP secret.
- `staff_sessions`: one row per signed-in browser; the cookie holds a random
  token whose hash is the key, so logging out or an expiry ends it for good.
- `staff_login_throttle`: failed sign-ins per (hashed) user name and per
  (hashed) client address, and the wait they lead to; in the database so
  every process sees it.
- `lead_notes`: what staff wrote when changing a lead's status. Kept apart
  from the audit trail because a note may hold personal data: deleting a lead
  deletes its notes, while its LeadEvent rows stay.
- `answer_reviews`: staff's verdict on answers that were marked unhelpful or
  given with low confidence, for new training examples.
- `staff_availability`: who takes live chats now (#15).
- `handoff_chats`: a person's request to chat with the clinic, and who
  took it (#15, db/handoff.py).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Text

from db.models import Base, utcnow


class StaffUser(Base):
    """A member of the clinic's staff who may use the staff app."""

    __tablename__ = "staff_users"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)  # lower-cased
    password_hash = Column(String(255), nullable=False)  # argon2id
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    password_changed_at = Column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
    last_login_at = Column(DateTime(timezone=True))
    disabled_at = Column(DateTime(timezone=True))
    # "front_desk" (works the queue) or "admin" (also export, delete, the
    # dashboard, accounts): webapp/staff/roles.py.
    role = Column(String(16), nullable=False, default="front_desk")
    # TOTP (webapp/staff/two_factor.py). The secret is a secret: whoever
    # reads it can make codes. Set but not enabled: set-up not confirmed.
    totp_secret = Column(String(64))
    totp_enabled_at = Column(DateTime(timezone=True))
    totp_last_step = Column(Integer)  # the last time step used: no code twice


class StaffSession(Base):
    """A signed-in browser. Ends at `expires_at`, or when idle too long."""

    __tablename__ = "staff_sessions"

    id = Column(String(64), primary_key=True)  # sha256 of the cookie's token
    user_id = Column(
        Integer,
        ForeignKey("staff_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    last_seen_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at = Column(DateTime(timezone=True), nullable=False)


class LoginThrottle(Base):
    """Failed sign-ins in a row for one user name (known or not) or one
    client address, by its hash (webapp/staff/auth.py's backoff)."""

    __tablename__ = "staff_login_throttle"

    key = Column(String(64), primary_key=True)  # sha256 of account:/address:...
    failures = Column(Integer, nullable=False, default=0)
    window_started_at = Column(DateTime(timezone=True))  # the last failure
    locked_until = Column(DateTime(timezone=True))  # no attempt before this


class LeadNote(Base):
    """A note staff wrote on a lead, tied to the audit event it explains."""

    __tablename__ = "lead_notes"

    id = Column(Integer, primary_key=True)
    lead_id = Column(
        Integer, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True
    )
    event_id = Column(Integer, ForeignKey("lead_events.id"), index=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    author = Column(String(120), nullable=False)
    text = Column(Text, nullable=False)


class AnswerReview(Base):
    """Staff's verdict on one answer the assistant gave: a message whose
    answer the person marked unhelpful, or one answered with low confidence
    (webapp/staff/reviews.py). The message itself stays in Rasa's `events`
    table (`event_id` is its row); this row holds only the verdict, so
    deleting the conversation deletes it too (db/deletion.py delete_conversation).
    """

    __tablename__ = "answer_reviews"

    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, nullable=False, unique=True)  # events.id (user)
    sender_id = Column(String(255), nullable=False, index=True)
    verdict = Column(String(16), nullable=False)  # right / wrong / not_ours
    topic = Column(String(64))  # for "wrong": the FAQ topic it should have been
    reviewed_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    reviewed_by = Column(String(120), nullable=False)


class StaffAvailability(Base):
    """Whether a staff member takes live chats now (the Chats page's switch,
    db/handoff.py). Together with a live sign-in (`staff_sessions`) it is
    what lets the assistant offer a person at the clinic."""

    __tablename__ = "staff_availability"

    user_id = Column(
        Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    available = Column(Boolean, nullable=False, default=False)
    changed_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class HandoffChat(Base):
    """A person's request to chat with the clinic (live handoff,
    db/handoff.py): waiting, then held by one staff member, then ended; or
    expired when nobody took it in time. The messages themselves stay in
    Rasa's `events` (staff replies as bot events with the account in their
    metadata); this row holds only the state, who took it and when.

    `status` changes only by conditional UPDATEs (`... WHERE status =
    'waiting'`), so of two staff members who click "take" at once exactly
    one wins, and a take and the wait running out cannot both happen.
    """

    __tablename__ = "handoff_chats"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(32))  # the person's channel when they asked
    status = Column(String(16), nullable=False, index=True)  # waiting/held/...
    requested_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    wait_until = Column(DateTime(timezone=True), nullable=False)
    taken_by = Column(Integer, ForeignKey("staff_users.id", ondelete="SET NULL"))
    taken_at = Column(DateTime(timezone=True))
    ended_at = Column(DateTime(timezone=True))
