"""Twilio MessageSids already received, in the database (`twilio_message_sids`).

Twilio retries a webhook it thinks failed, and a replayed request carries a
valid signature. A list in the process forgets at each restart and is not
shared between replicas; this table is. The MessageSid is its primary key,
so of two replicas receiving the same message at the same moment exactly
one claims it. Rows are kept `KEEP` (a day: Twilio retries within minutes)
and purged by the claims themselves, at most once every `PURGE_EVERY`.
Plain, blocking SQLAlchemy, called through `asyncio.to_thread`.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Optional

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import session_factory
from db.models import TwilioMessageSid, utcnow

KEEP = timedelta(hours=24)
PURGE_EVERY = 600.0  # seconds


class MessageSids:
    """Claims MessageSids in the database at `url` (default: DATABASE_URL,
    read when first used)."""

    def __init__(self, url: Optional[str] = None) -> None:
        self.url = url
        self._factory: Optional[sessionmaker] = None
        self._purged_at = 0.0

    def _session(self) -> Session:
        if self._factory is None:
            self._factory = session_factory(self.url)
        return self._factory()

    def claim(self, sid: str) -> bool:
        """True the first time `sid` is seen (by any replica, within `KEEP`);
        False for a replay."""
        now = utcnow()
        with self._session() as session:
            if time.monotonic() - self._purged_at > PURGE_EVERY:
                session.execute(
                    delete(TwilioMessageSid).where(
                        TwilioMessageSid.received_at < now - KEEP
                    )
                )
                session.commit()
                self._purged_at = time.monotonic()
            session.add(TwilioMessageSid(message_sid=sid[:64], received_at=now))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
            return True
