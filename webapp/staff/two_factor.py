"""TOTP two-factor sign-in (RFC 6238, with pyotp): required for admins,
optional for front desk (webapp/staff/roles.py).

- Set-up: a random 160-bit secret is stored on the account (not yet
  enabled), shown as a QR code (segno, an SVG in a data: URI, which the
  staff app's content-security policy allows as an image) and as text; the
  first right code enables it.
- Sign-in: after the password, a code of the current 30-second step or of
  the one before or after (a phone's clock may drift by one step). The step
  of each accepted code is stored (`totp_last_step`), and a code of that
  step or an earlier one is refused: a code seen over a shoulder or in a
  proxy's log cannot be used again.
- Wrong codes are throttled per account in `staff_login_throttle`, as wrong
  passwords are (auth.py's backoff, a key of its own): 5 free, then 2 s
  doubling to 5 minutes.
- The secret is stored as it is, not encrypted: STAFF_SECRET_KEY may be
  unset (a random key per process), and a secret encrypted with it would be
  lost at each restart. Whoever can read `staff_users` can make codes, so
  the database and its backups are secrets (docs/security.md).
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

import pyotp
import segno
from sqlalchemy.orm import Session

from db.staff_models import StaffUser
from webapp.staff import auth

ISSUER = "Clinic staff"
DRIFT_STEPS = 1  # a code of the step before or after is accepted too
CODE = re.compile(r"[0-9]{6}")
CODES = auth.Backoff(free=5, first=timedelta(seconds=2), cap=timedelta(minutes=5))

# The time codes are checked against (tests set it), in seconds.
clock = time.time


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits


def enabled(user: StaffUser) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def setup_uri(user: StaffUser) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.username, issuer_name=ISSUER
    )


def qr_data_uri(text: str) -> str:
    """`text` as a QR code: an SVG image in a data: URI (no request, no script)."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=4)


def normalise(code: str) -> str:
    """A code as typed, without spaces or dashes ("123 456")."""
    return re.sub(r"[\s-]", "", code or "")[:32]


def matching_step(
    secret: str, code: str, last_step: Optional[int], now: Optional[float] = None
) -> Optional[int]:
    """The time step `code` belongs to (now, or one step either side), if it
    is later than `last_step`; None for a wrong, malformed or used code."""
    code = normalise(code)
    if not CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now if now is not None else clock())
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


@dataclass(frozen=True)
class Check:
    """The outcome of a code: `ok`, or refused while `locked_until`."""

    ok: bool = False
    locked_until: Optional[datetime] = None


def check_code(session: Session, user: StaffUser, code: str) -> Check:
    """Checks a sign-in code of `user`, throttled; on success stores its step
    so that it cannot be used again. Commits."""
    now = auth.clock()
    (row,) = auth._throttle_rows(session, (auth.code_throttle_key(user.id),), now)
    until = auth.aware(row.locked_until)
    if until is not None and until > now:
        session.commit()
        return Check(locked_until=until)
    auth._count_failure(session, row, CODES, now)  # forgiven below if right
    session.commit()
    session.refresh(user)
    step = matching_step(user.totp_secret or "", code, user.totp_last_step)
    if step is None:
        return Check()
    (row,) = auth._throttle_rows(session, (row.key,), now)
    row.failures, row.window_started_at, row.locked_until = 0, None, None
    user.totp_last_step = step
    session.commit()
    return Check(ok=True)


def confirm_setup(session: Session, user: StaffUser, code: str) -> bool:
    """Enables TOTP for `user` if `code` is right for the secret being set
    up. Does not commit."""
    if enabled(user) or not user.totp_secret:
        return False
    step = matching_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        return False
    user.totp_enabled_at = auth.clock()
    user.totp_last_step = step
    return True


def start_setup(user: StaffUser) -> None:
    """Gives `user` a secret to set up, unless one is waiting already."""
    if not enabled(user) and not user.totp_secret:
        user.totp_secret = new_secret()


def reset(user: StaffUser) -> None:
    """Turns TOTP off (a lost phone): an admin sets it up again at sign-in."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
