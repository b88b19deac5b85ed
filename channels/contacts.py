"""The `sms_contacts` table: one row per number across SMS and WhatsApp,
with the STOP opt-out. Plain, blocking SQLAlchemy; the channel calls it
through `asyncio.to_thread` so the event loop never waits on the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Optional, Tuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import session_factory
from db.models import SmsContact, utcnow


class Seen(NamedTuple):
    """What `ContactStore.touch` learnt about a number."""

    opted_out: bool
    first: bool  # the number had never texted the clinic before


class ContactStore:
    """Reads and writes `sms_contacts` in the database at `url`
    (default: DATABASE_URL, read when first used)."""

    def __init__(self, url: Optional[str] = None) -> None:
        self.url = url
        self._factory: Optional[sessionmaker] = None

    def _session(self) -> Session:
        if self._factory is None:
            self._factory = session_factory(self.url)
        return self._factory()

    def _upsert(
        self, session: Session, phone: str, medium: str
    ) -> Tuple[SmsContact, bool]:
        """The contact for `phone`, created if new, marked as seen now; and
        whether this call created it (exactly one caller does, even with
        several replicas)."""
        now = utcnow()
        contact = session.get(SmsContact, phone)
        if contact is None:
            contact = SmsContact(
                phone=phone, first_seen_at=now, last_seen_at=now, last_channel=medium
            )
            session.add(contact)
            try:
                session.flush()
                return contact, True
            except IntegrityError:  # another replica added it just now
                session.rollback()
                contact = session.get(SmsContact, phone)
        contact.last_seen_at = now
        contact.last_channel = medium
        return contact, False

    def touch(self, phone: str, medium: str) -> Seen:
        """Records a message from `phone` on `medium`: whether the number has
        opted out, and whether it is the number's first message."""
        with self._session() as session:
            contact, created = self._upsert(session, phone, medium)
            opted_out = contact.opted_out_at is not None
            session.commit()
            return Seen(opted_out=opted_out, first=created)

    def opt_out(self, phone: str, medium: str) -> None:
        """STOP: nothing more is sent to `phone` until it opts in again."""
        with self._session() as session:
            contact, _ = self._upsert(session, phone, medium)
            if contact.opted_out_at is None:
                contact.opted_out_at = utcnow()
            session.commit()

    def opt_in(self, phone: str, medium: str) -> bool:
        """START: clears the opt-out; True if there was one."""
        with self._session() as session:
            contact, _ = self._upsert(session, phone, medium)
            was_out = contact.opted_out_at is not None
            contact.opted_out_at = None
            session.commit()
            return was_out

    def opted_out_at(self, phone: str) -> Optional[datetime]:
        with self._session() as session:
            contact = session.get(SmsContact, phone)
            return contact.opted_out_at if contact else None

    def is_opted_out(self, phone: str) -> bool:
        return self.opted_out_at(phone) is not None

    def last_channel(self, phone: str) -> Optional[str]:
        """'sms' or 'whatsapp': where `phone` last wrote from, if known."""
        with self._session() as session:
            contact = session.get(SmsContact, phone)
            return contact.last_channel if contact else None
