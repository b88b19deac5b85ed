"""Staff accounts: password hashing, sign-in throttling and sessions.

- Passwords are hashed with argon2id (argon2-cffi's defaults), never stored.
- Every sign-in attempt for a user name (known or not, by its hash) is
  counted *before* the password is checked, so parallel requests cannot
  exceed the limit: MAX_FAILURES failures within FAILURE_WINDOW lock the name
  for LOCKOUT. A locked name stays locked whatever password is given.
- A session is a random token in the (signed, HttpOnly) cookie; the database
  keeps its hash with an absolute expiry and the time it was last used.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional, overload

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import utcnow
from db.staff_models import LoginThrottle, StaffSession, StaffUser

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")
LAST_SEEN_GRANULARITY = timedelta(seconds=60)

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so that the answer takes
# as long as for a known one (no telling which names exist).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A user name or password that cannot be used."""


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: Optional[datetime]) -> Optional[datetime]:
    """SQLite gives back naive datetimes: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not 2 <= len(name) <= 64 or not set(name) <= USERNAME_CHARS:
        raise AccountError(
            "a user name is 2-64 characters: letters, digits, '.', '_', '-', '@'"
        )
    return name


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > 1024:
        raise AccountError("a password may have at most 1024 characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, username: str, password: str) -> StaffUser:
    """Adds an account; refuses a taken name, a short password."""
    name, password = check_username(username), check_password(password)
    if session.scalars(select(StaffUser).where(StaffUser.username == name)).first():
        raise AccountError(f"the user {name} exists already")
    user = StaffUser(username=name, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> StaffUser:
    """Changes a password and ends every session of that user."""
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"no user {normalise_username(username)}")
    user.password_hash = hash_password(check_password(password))
    user.password_changed_at = utcnow()
    end_sessions(session, user.id)
    return user


def find_user(session: Session, username: str) -> Optional[StaffUser]:
    name = normalise_username(username)
    return session.scalars(select(StaffUser).where(StaffUser.username == name)).first()


def throttle_key(username: str) -> str:
    return hashlib.sha256(normalise_username(username).encode()).hexdigest()


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt."""

    user: Optional[StaffUser] = None
    locked_until: Optional[datetime] = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _claim_attempt(session: Session, key: str, now: datetime) -> Optional[datetime]:
    """Counts one attempt; returns the lock's end when the name is locked."""
    query = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        session.add(LoginThrottle(key=key, failures=0, window_started_at=now))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # another process added it at the same time
        row = session.execute(query).scalar_one()

    locked_until = aware(row.locked_until)
    if locked_until is not None and locked_until > now:
        return locked_until
    window = aware(row.window_started_at)
    if locked_until is not None or window is None or now - window > FAILURE_WINDOW:
        row.failures, row.window_started_at, row.locked_until = 0, now, None
        session.flush()
    # Counted now, forgiven on success: concurrent guesses share the budget.
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key)
        .values(failures=LoginThrottle.failures + 1)
    )
    session.refresh(row)
    if row.failures > MAX_FAILURES:
        row.locked_until = now + LOCKOUT
        return aware(row.locked_until)
    return None


def sign_in(session: Session, username: str, password: str) -> SignIn:
    """Checks a user name and password, throttled; commits what it records."""
    now = utcnow()
    key = throttle_key(username)
    locked_until = _claim_attempt(session, key, now)
    session.commit()
    if locked_until is not None:
        return SignIn(locked_until=locked_until)

    usable = len(username or "") <= 64 and "\x00" not in (username or "")
    user = find_user(session, username) if usable else None
    valid = False
    try:
        valid = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        valid = False
    if user is None or user.disabled_at is not None:
        valid = False

    row = session.get(LoginThrottle, key, with_for_update=True)
    if valid and user is not None:
        row.failures, row.window_started_at, row.locked_until = 0, None, None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = now
        session.commit()
        return SignIn(user=user)
    if row.failures >= MAX_FAILURES:
        row.locked_until = now + LOCKOUT  # from the next attempt on
    session.commit()
    return SignIn()


def unlock(session: Session, username: str) -> bool:
    """Clears the failures of a user name; True if it was locked."""
    row = session.get(LoginThrottle, throttle_key(username))
    if row is None:
        return False
    locked_until = aware(row.locked_until)
    was_locked = locked_until is not None and locked_until > utcnow()
    session.delete(row)
    return was_locked


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: StaffUser, lifetime: timedelta) -> str:
    """A new session for `user`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        StaffSession(
            id=_token_id(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    session.commit()
    return token


def current_user(
    session: Session, token: Optional[str], idle: timedelta
) -> Optional[StaffUser]:
    """The user of a live session token, or None (expired, ended, unknown)."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    row = session.get(StaffSession, _token_id(token))
    if row is None:
        return None
    now = utcnow()
    if aware(row.expires_at) <= now or now - aware(row.last_seen_at) > idle:
        session.delete(row)
        session.commit()
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    if now - aware(row.last_seen_at) > LAST_SEEN_GRANULARITY:
        row.last_seen_at = now
        session.commit()
    return user


def end_session(session: Session, token: Optional[str]) -> None:
    if token and isinstance(token, str):
        session.execute(delete(StaffSession).where(StaffSession.id == _token_id(token)))
        session.commit()


def end_sessions(session: Session, user_id: int) -> None:
    """Ends every session of a user (password change, account disabled)."""
    session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))


def purge_expired(session: Session, idle: timedelta) -> int:
    """Deletes ended sessions and stale throttle rows; returns how many."""
    now = utcnow()
    gone = session.execute(
        delete(StaffSession).where(
            (StaffSession.expires_at <= now) | (StaffSession.last_seen_at < now - idle)
        )
    ).rowcount
    gone += session.execute(
        delete(LoginThrottle).where(
            (LoginThrottle.locked_until.is_(None) | (LoginThrottle.locked_until < now))
            & (
                LoginThrottle.window_started_at.is_(None)
                | (LoginThrottle.window_started_at < now - FAILURE_WINDOW)
            )
        )
    ).rowcount
    return gone
