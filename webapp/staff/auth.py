"""Staff accounts: password hashing, sign-in throttling and sessions.

- Passwords are hashed with argon2id (argon2-cffi's defaults), never stored.
- Sign-in is throttled twice, by client address and by user name (known or
  not, by its hash), with an exponential backoff instead of a lock: after
  `free` failures in a row each failure makes the next attempt wait longer,
  up to a cap (ADDRESS, ACCOUNT below; docs/security.md gives the policy).
  The account's cap is short, so that an attacker guessing one name cannot
  keep its real user out for long; an address trying many names waits up
  to 15 minutes. An attempt during a wait is refused unchecked and is not
  counted, so it does not extend the wait. Every attempt is counted *before*
  the password is checked (forgiven on success), so parallel requests share
  the budget. The counters are rows of the database, shared by every
  web-app process; failures are forgotten after FORGET_AFTER without one.
- A session is a random token in the (signed, HttpOnly) cookie; the database
  keeps its hash with an absolute expiry and the time it was last used.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, List, Optional, Tuple, overload

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import utcnow
from db.staff_models import LoginThrottle, StaffSession, StaffUser
from webapp.staff import passwords, roles


@dataclass(frozen=True)
class Backoff:
    """`free` failures in a row cost nothing; from then on each failure makes
    the next attempt wait `first`, doubled per further failure, at most `cap`."""

    free: int
    first: timedelta
    cap: timedelta

    def wait(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        return min(self.cap, self.first * 2 ** min(failures - self.free, 20))


# A user name (from any address): 5 free, then 1 s, 2 s, ... at most 60 s.
ACCOUNT = Backoff(free=5, first=timedelta(seconds=1), cap=timedelta(seconds=60))
# A client address (across user names; a clinic's staff may share one):
# 10 free, then 1 s, 2 s, ... at most 15 minutes.
ADDRESS = Backoff(free=10, first=timedelta(seconds=1), cap=timedelta(minutes=15))
FORGET_AFTER = timedelta(hours=1)  # a quiet hour forgets the failures
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")
LAST_SEEN_GRANULARITY = timedelta(seconds=60)

# The time sign-in throttling reads (tests set it).
clock: Callable[[], datetime] = utcnow
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
    """`password` if the policy allows it (webapp/staff/passwords.py: the
    length rule and the common-password blocklist), else AccountError."""
    problem = passwords.problem(password)
    if problem:
        raise AccountError(problem)
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    session: Session, username: str, password: str, role: str = roles.FRONT_DESK
) -> StaffUser:
    """Adds an account with `role` (roles.FRONT_DESK or roles.ADMIN);
    refuses a taken name, a short or common password, an unknown role."""
    name, password = check_username(username), check_password(password)
    if role not in roles.ROLES:
        raise AccountError(f"a role is one of: {', '.join(roles.ROLES)}")
    if session.scalars(select(StaffUser).where(StaffUser.username == name)).first():
        raise AccountError(f"the user {name} exists already")
    user = StaffUser(username=name, password_hash=hash_password(password), role=role)
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
    """The throttle row of a user name (known or not), by its hash."""
    return hashlib.sha256(
        f"account:{normalise_username(username)}".encode()
    ).hexdigest()


def address_key(address: str) -> str:
    """The throttle row of a client address (webapp/staff/client.py)."""
    return hashlib.sha256(f"address:{address}".encode()).hexdigest()


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt. `locked_until`: refused without
    checking the password, because of earlier failures; try again then."""

    user: Optional[StaffUser] = None
    locked_until: Optional[datetime] = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _throttle_rows(
    session: Session, keys: Tuple[str, ...], now: datetime
) -> List[LoginThrottle]:
    """The rows of `keys`, created if missing and locked for this
    transaction, in this order; failures older than FORGET_AFTER forgotten."""
    for key in keys:
        if session.get(LoginThrottle, key) is None:
            session.add(LoginThrottle(key=key, failures=0))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another process added it at the same time
    rows = []
    for key in keys:  # always address, then account: no deadlock
        query = select(LoginThrottle).where(LoginThrottle.key == key)
        row = session.execute(query.with_for_update()).scalar_one()
        session.refresh(row)
        last = aware(row.window_started_at)
        if last is None or now - last > FORGET_AFTER:
            row.failures, row.window_started_at, row.locked_until = 0, None, None
        rows.append(row)
    return rows


def _count_failure(
    session: Session, row: LoginThrottle, backoff: Backoff, now: datetime
) -> None:
    """Counts one failure now (forgiven on success), so that concurrent
    guesses share the budget, and sets the wait it leads to."""
    session.flush()
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == row.key)
        .values(failures=LoginThrottle.failures + 1, window_started_at=now)
    )
    session.refresh(row)
    wait = backoff.wait(row.failures)
    row.locked_until = now + wait if wait else None


def sign_in(
    session: Session,
    username: str,
    password: str,
    address: str = "",
    known_device: bool = False,
    now: Optional[datetime] = None,
) -> SignIn:
    """Checks a user name and password, throttled by client address and by
    user name; commits what it records. `known_device`: this browser signed
    in as this name before (webapp/staff/devices.py), so the name's wait
    does not hold it up (its failures still count, and its success does not
    clear the name's count, which may be an attack from elsewhere).
    `now`: `clock()`."""
    now = now or clock()
    place, account = _throttle_rows(
        session, (address_key(address), throttle_key(username)), now
    )
    holding = (place, account) if not known_device else (place,)
    waits = [
        until
        for until in (aware(row.locked_until) for row in holding)
        if until is not None and until > now
    ]
    if waits:  # refused unchecked, and not counted: it cannot extend the wait
        session.commit()
        return SignIn(locked_until=max(waits))
    _count_failure(session, place, ADDRESS, now)
    _count_failure(session, account, ACCOUNT, now)
    session.commit()

    usable = len(username or "") <= 64 and "\x00" not in (username or "")
    user = find_user(session, username) if usable else None
    valid = False
    try:
        valid = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        valid = False
    if not valid or user is None or user.disabled_at is not None:
        return SignIn()

    place, account = _throttle_rows(session, (place.key, account.key), now)
    if not known_device:  # else the name's count may be someone else's attack
        account.failures, account.window_started_at = 0, None
        account.locked_until = None
    place.failures = max(0, place.failures - 1)  # it was not a failure
    if not ADDRESS.wait(place.failures):
        place.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    session.commit()
    return SignIn(user=user)


def seconds_until(when: datetime) -> int:
    """Whole seconds from now until `when`, at least 1 (a Retry-After)."""
    return max(1, math.ceil((when - clock()).total_seconds()))


def unlock(session: Session, username: str) -> bool:
    """Clears the failures of a user name; True if it was waiting."""
    row = session.get(LoginThrottle, throttle_key(username))
    if row is None:
        return False
    locked_until = aware(row.locked_until)
    was_locked = locked_until is not None and locked_until > clock()
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
                | (LoginThrottle.window_started_at < now - FORGET_AFTER)
            )
        )
    ).rowcount
    return gone


def delete_user(session: Session, user: StaffUser) -> None:
    """Deletes an account: its sessions end and its sign-in failures are
    forgotten. The audit trail keeps its name (who did what, as text)."""
    end_sessions(session, user.id)
    keys = (throttle_key(user.username), code_throttle_key(user.id))
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    session.delete(user)


def code_throttle_key(user_id: int) -> str:
    """The throttle row of an account's wrong two-factor codes."""
    return hashlib.sha256(f"totp:{user_id}".encode()).hexdigest()
