"""Settings of the staff app, read from the environment (safe local defaults).

The database and the public URL are the project's own (clinic.settings);
these are the staff app's additions. None of them is a secret in the repo:
without STAFF_SECRET_KEY each process draws a random key (sessions then end
when the web app restarts, and several processes cannot share them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_RETENTION_DAYS = 365


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from error
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class StaffSettings:
    """STAFF_* variables and RETENTION_DAYS (docs/staff-app.md)."""

    secret_key: Optional[str] = None  # STAFF_SECRET_KEY
    session_hours: int = 8  # absolute lifetime of a sign-in
    idle_minutes: int = 60  # a sign-in unused this long ends
    timezone: str = "UTC"  # how times are shown and days are counted
    cookie_secure: Optional[bool] = None  # None: on when PUBLIC_BASE_URL is https
    retention_days: int = DEFAULT_RETENTION_DAYS

    @classmethod
    def from_env(cls) -> StaffSettings:
        secure = _env("STAFF_COOKIE_SECURE").lower()
        timezone = _env("STAFF_TIMEZONE") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"STAFF_TIMEZONE: unknown time zone {timezone}") from error
        return cls(
            secret_key=_env("STAFF_SECRET_KEY") or None,
            session_hours=_int("STAFF_SESSION_HOURS", 8),
            idle_minutes=_int("STAFF_IDLE_MINUTES", 60),
            timezone=timezone,
            cookie_secure=(secure in ("1", "true", "yes")) if secure else None,
            retention_days=_int("RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
        )
