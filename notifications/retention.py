"""Retention on its own: the notification worker's periodic pass (#14).

`make run` (scripts/run.sh) and `make run-scaled` start the notification
worker (notifications/worker.py), which calls `RetentionSchedule.tick` on
every loop: once at start and then every RETENTION_INTERVAL_HOURS (24 by
default; 0 turns it off) it deletes what is past its period, each lead by
its status's RETENTION_DAYS_<STATUS> and lead-less conversations by
RETENTION_DAYS (db/deletion.py `purge`). No cron is needed;
`make retention` still runs a pass by hand. Two workers (two replicas)
running a pass at once delete the same rows: deletion is idempotent and
each row goes once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from clinic.settings import StaffSettings
from db.deletion import RetentionReport, purge

logger = logging.getLogger("notifications.retention")


def retention_pass(factory: sessionmaker, staff: StaffSettings) -> RetentionReport:
    """One retention pass with the configured periods; commits."""
    with factory() as session:
        return purge(session, staff.retention_days, periods=staff.retention_periods())


@dataclass
class RetentionSchedule:
    """Runs `retention_pass` when due: at the first tick, then every
    `interval_hours` (never when 0). A failed pass (database away) is tried
    again at the next tick."""

    staff: StaffSettings
    clock: Callable[[], float] = time.monotonic
    next_at: Optional[float] = 0.0  # the first tick is due

    @property
    def interval_seconds(self) -> float:
        return self.staff.retention_interval_hours * 3600.0

    def tick(self, factory: sessionmaker) -> Optional[RetentionReport]:
        """Runs the pass if it is due; returns its report, else None."""
        if self.interval_seconds <= 0:
            return None
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            return None
        try:
            report = retention_pass(factory, self.staff)
        except SQLAlchemyError as error:
            logger.warning("Retention not run: %s", type(error).__name__)
            return None
        self.next_at = now + self.interval_seconds
        logger.info(
            "Retention: deleted %d leads (%s) and %d conversations without a lead",
            report.leads,
            ", ".join(f"{s}={n}" for s, n in report.by_status.items() if n) or "none",
            report.conversations,
        )
        return report
