"""`python -m notifications.worker`: delivers staff notifications every few
seconds (`--once` for a single pass), and runs retention on its schedule
(notifications/retention.py)."""

from __future__ import annotations

import argparse
import logging
import time
from typing import List, Optional

from sqlalchemy.exc import SQLAlchemyError

from clinic.profile import ProfileError, current_profile
from clinic.settings import Settings, get_settings
from db.engine import session_factory
from notifications.handoff import OverdueWaits
from notifications.outbox import SmtpSettings, deliver_due
from notifications.red_flags import Recipient, alert_new_red_flags
from notifications.retention import RetentionSchedule

logger = logging.getLogger("notifications.worker")


def recipient(settings: Settings) -> Recipient:
    """Where staff alerts go: as for leads (STAFF_EMAIL, else the profile's)."""
    profile = current_profile()
    return Recipient(
        email=settings.staff_email or profile.staff_email or profile.email,
        staff_url=settings.public_base_url.rstrip("/") + "/staff/red-flags/{reference}",
    )


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    smtp = SmtpSettings.from_settings(settings)
    logger.info("Delivering notifications by %s", "SMTP" if smtp else "local outbox")
    factory = session_factory()
    seen = 0  # the highest transcript event id read for red flags
    retention = RetentionSchedule(settings.staff)
    waits = OverdueWaits(settings.rasa_url, settings.rasa_auth_token)
    while True:
        try:
            with factory() as session:
                seen = alert_new_red_flags(session, recipient(settings), seen)
        except (SQLAlchemyError, ProfileError) as error:
            logger.warning("Red flags not checked: %s", type(error).__name__)
        try:  # live chat: no wait outlives a lost Rasa reminder (#15)
            waits.run(factory)
        except Exception as error:  # whatever it is, the loop goes on
            # The type only: an exception's text may hold a conversation id.
            logger.warning("Chat requests not checked: %s", type(error).__name__)
        try:
            report = deliver_due(factory, smtp)
            if report.sent or report.kept_local or report.failed:
                logger.info(
                    "sent=%s local=%s failed=%s",
                    report.sent,
                    report.kept_local,
                    report.failed,
                )
        except SQLAlchemyError as error:  # database down: try again later
            logger.warning("Outbox unavailable: %s", type(error).__name__)
        retention.tick(factory)
        if args.once:
            return
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
