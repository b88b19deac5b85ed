"""Every setting the project reads from the environment, in one place.

`get_settings()` returns one typed, frozen `Settings`: the database, the
clinic profile, the URLs, staff notifications (SMTP), the staff app
(`settings.staff`), the Twilio channel (`settings.twilio`) and the browser
origins the chat accepts. Nothing else in the project reads a setting from
the environment: the processes (Rasa's channels and tracker store, the
action server, the web app, the notification worker, the CLIs) and the
shell scripts (`python -m clinic.settings NAME` prints one) all get their
values from here. Each has a safe local default, so `make run` works with
nothing set up. The variables are listed in the README (Configuration).

The environment is parsed once per process; when a variable changes (tests
change them, a process never does), the next call parses it again. A value
that cannot be used raises `SettingsError` naming the variable.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Optional, Tuple, Type, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite:///var/clinic.db"
DEFAULT_PUBLIC_BASE_URL = "http://localhost:8000"
DEFAULT_RETENTION_DAYS = 365
# Lead statuses, each with its retention period RETENTION_DAYS_<STATUS>
# (default RETENTION_DAYS); the values of db.models.LeadStatus.
RETENTION_STATUSES = ("new", "contacted", "booked", "not_a_fit", "closed")
# How often the notification worker runs the retention pass (0: never).
DEFAULT_RETENTION_INTERVAL_HOURS = 24
# FAQ answers given with a lower probability are listed for staff to check.
# On the real-question test sets (2026-12-02 model) 11 of 275 FAQ answers fell
# below 0.5 and 6 of those were wrong; below 0.6, 24 with 9 wrong.
DEFAULT_REVIEW_CONFIDENCE = 0.5
TWILIO_API = "https://api.twilio.com"

# Every variable read here: the cache below is keyed on their values.
VARIABLES = (
    "DATABASE_URL",
    "CLINIC_PROFILE",
    "RASA_URL",
    "RASA_AUTH_TOKEN",
    "ACTION_TIMEOUT_SECONDS",
    "REPLICA_NAME",
    "PUBLIC_BASE_URL",
    "WEB_TRUSTED_PROXIES",
    "CHAT_ALLOWED_ORIGINS",
    "CHAT_SESSION_SECRET",
    "REST_CHANNEL",
    "REST_CHANNEL_TOKEN",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_STARTTLS",
    "SMTP_FROM",
    "STAFF_EMAIL",
    "STAFF_SECRET_KEY",
    "STAFF_SESSION_HOURS",
    "STAFF_IDLE_MINUTES",
    "STAFF_TIMEZONE",
    "STAFF_COOKIE_SECURE",
    "RETENTION_DAYS",
    "RETENTION_DAYS_NEW",
    "RETENTION_DAYS_CONTACTED",
    "RETENTION_DAYS_BOOKED",
    "RETENTION_DAYS_NOT_A_FIT",
    "RETENTION_DAYS_CLOSED",
    "RETENTION_INTERVAL_HOURS",
    "REVIEW_CONFIDENCE",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_NUMBER",
    "TWILIO_WHATSAPP_NUMBER",
    "TWILIO_PUBLIC_URL",
    "TWILIO_API_BASE",
    "TWILIO_LOCAL_DIR",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "REDIS_PASSWORD",
    "LOCK_KEY_PREFIX",
)


class SettingsError(ValueError):
    """A variable holds a value that cannot be used; the message names it."""


def environment_value(name: str) -> str:
    """One variable's value, trimmed ("" when unset): the one place the
    project reads the environment (credentials.yml's `env:NAME` too)."""
    return os.environ.get(name, "").strip()


def _text(name: str, default: str = "") -> str:
    return environment_value(name) or default


def _flag(name: str, default: Optional[bool]) -> Optional[bool]:
    raw = environment_value(name).lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = environment_value(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from error
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _seconds(name: str, default: float, minimum: float = 0.5) -> float:
    raw = environment_value(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise SettingsError(
            f"{name} must be a number of seconds, not {raw!r}"
        ) from error
    if not value >= minimum:  # also refuses nan
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _fraction(name: str, default: float) -> float:
    """A number between 0 and 1 (exclusive)."""
    raw = environment_value(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from error
    if not 0 < value < 1:  # also refuses nan
        raise SettingsError(f"{name} must be between 0 and 1")
    return value


def _path(name: str, default: Path) -> Path:
    path = Path(environment_value(name) or default).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _replica_name() -> str:
    name = _text("REPLICA_NAME")
    if name and not re.fullmatch(r"[A-Za-z0-9-]{1,40}", name):
        raise SettingsError(
            f"REPLICA_NAME must be 1 to 40 letters, digits or '-', not {name!r}"
        )
    return name


def origin_of(url: str) -> Optional[str]:
    """`scheme://host[:port]`, lower-cased, of an http(s) URL; else None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _chat_origins(public_base_url: str) -> FrozenSet[str]:
    configured = environment_value("CHAT_ALLOWED_ORIGINS")
    if configured:
        candidates = re.split(r"[\s,]+", configured)
    else:
        base = public_base_url
        candidates = [base, re.sub(r"//localhost\b", "//127.0.0.1", base)]
    return frozenset(o for o in map(origin_of, candidates) if o)


def _rest_channel_open() -> bool:
    value = _text("REST_CHANNEL").lower()
    if value not in ("", "off", "open"):
        raise SettingsError("REST_CHANNEL must be 'open' or 'off'")
    return value == "open"


@dataclass(frozen=True)
class StaffSettings:
    """The staff app: STAFF_*, RETENTION_DAYS and REVIEW_CONFIDENCE
    (docs/staff-app.md).

    None is a secret in the repo: without STAFF_SECRET_KEY each process draws
    a random key (sign-ins then end when the web app restarts, and several
    processes cannot share them).
    """

    secret_key: Optional[str] = None  # STAFF_SECRET_KEY
    session_hours: int = 8  # absolute lifetime of a sign-in
    idle_minutes: int = 60  # a sign-in unused this long ends
    timezone: str = "UTC"  # how times are shown and days are counted
    cookie_secure: Optional[bool] = None  # None: on when PUBLIC_BASE_URL is https
    retention_days: int = DEFAULT_RETENTION_DAYS
    # Per lead status (RETENTION_DAYS_<STATUS>): days without activity
    # before a lead at that status goes; a status not named here has
    # `retention_days`. See `retention_periods`.
    retention_status_days: Tuple[Tuple[str, int], ...] = ()
    # The notification worker's retention pass runs this often (0: off).
    retention_interval_hours: int = DEFAULT_RETENTION_INTERVAL_HOURS
    # FAQ answers below this probability are listed on the dashboard to check.
    review_confidence: float = DEFAULT_REVIEW_CONFIDENCE

    @classmethod
    def from_env(cls) -> StaffSettings:
        timezone = _text("STAFF_TIMEZONE", "UTC")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            message = f"STAFF_TIMEZONE: unknown time zone {timezone}"
            raise SettingsError(message) from error
        return cls(
            secret_key=_text("STAFF_SECRET_KEY") or None,
            session_hours=_int("STAFF_SESSION_HOURS", 8),
            idle_minutes=_int("STAFF_IDLE_MINUTES", 60),
            timezone=timezone,
            cookie_secure=_flag("STAFF_COOKIE_SECURE", None),
            retention_days=_int("RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
            retention_status_days=tuple(
                (status, _int(f"RETENTION_DAYS_{status.upper()}", 0))
                for status in RETENTION_STATUSES
                if environment_value(f"RETENTION_DAYS_{status.upper()}")
            ),
            retention_interval_hours=_int(
                "RETENTION_INTERVAL_HOURS", DEFAULT_RETENTION_INTERVAL_HOURS, minimum=0
            ),
            review_confidence=_fraction("REVIEW_CONFIDENCE", DEFAULT_REVIEW_CONFIDENCE),
        )

    def retention_periods(self) -> Dict[str, int]:
        """Days without activity before a lead goes, per status value."""
        periods = dict.fromkeys(RETENTION_STATUSES, self.retention_days)
        periods.update(dict(self.retention_status_days))
        return periods


@dataclass(frozen=True)
class TwilioEnvironment:
    """The Twilio channel's variables (docs/twilio.md). credentials.yml
    names the first five; without TWILIO_ACCOUNT_SID the channel runs in
    local mode and records replies under `local_dir`."""

    account_sid: str = ""  # TWILIO_ACCOUNT_SID
    auth_token: str = ""  # TWILIO_AUTH_TOKEN
    sms_number: str = ""  # TWILIO_NUMBER
    whatsapp_number: str = ""  # TWILIO_WHATSAPP_NUMBER
    public_url: str = ""  # TWILIO_PUBLIC_URL
    api_base: str = TWILIO_API  # TWILIO_API_BASE (tests point it elsewhere)
    local_dir: Path = PROJECT_ROOT / "var"  # TWILIO_LOCAL_DIR

    @classmethod
    def from_env(cls) -> TwilioEnvironment:
        return cls(
            account_sid=_text("TWILIO_ACCOUNT_SID"),
            auth_token=_text("TWILIO_AUTH_TOKEN"),
            sms_number=_text("TWILIO_NUMBER"),
            whatsapp_number=_text("TWILIO_WHATSAPP_NUMBER"),
            public_url=_text("TWILIO_PUBLIC_URL"),
            api_base=_text("TWILIO_API_BASE", TWILIO_API),
            local_dir=_path("TWILIO_LOCAL_DIR", PROJECT_ROOT / "var"),
        )


@dataclass(frozen=True)
class Settings:
    """Settings read from environment variables (see README, Configuration)."""

    database_url: str = DEFAULT_DATABASE_URL
    clinic_profile_path: Path = PROJECT_ROOT / "clinic_profile.yml"
    rasa_url: str = "http://localhost:5005"
    # The token of Rasa's HTTP API (RASA_AUTH_TOKEN), which the staff app
    # uses for live chat (clinic/rasa_api.py); `make run` draws one per
    # run. Empty: the API is off and staff cannot join chats.
    rasa_auth_token: str = ""
    # How long Rasa waits for the action server (the lead form's actions)
    # before it answers in its place: a hung server must not hang the chat.
    action_timeout_seconds: float = 8.0
    # This Rasa replica's name (REPLICA_NAME, letters, digits and '-'): when
    # set, its socket.io session ids begin with '<name>.', so a load balancer
    # can send each request of a session to the replica that holds it
    # (deploy/nginx/scaled.conf). Empty for a single process.
    replica_name: str = ""
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    # How many reverse proxies in front of the web app append to
    # X-Forwarded-For (WEB_TRUSTED_PROXIES). 0, the default: the web app is
    # reached directly and the header is ignored, as a client can write it.
    web_trusted_proxies: int = 0
    # The browser origins the chat (socket.io) accepts: CHAT_ALLOWED_ORIGINS,
    # space- or comma-separated; default the web app's own origin and its
    # 127.0.0.1 twin.
    chat_allowed_origins: FrozenSet[str] = frozenset()
    # The key that signs the widget's session tokens (CHAT_SESSION_SECRET;
    # unset: one made in var/chat-session-secret, mode 0600). Every replica
    # must have the same one (channels/socketio_channel.py).
    chat_session_secret: str = ""
    # The REST channel (channels/rest_channel.py): with REST_CHANNEL_TOKEN a
    # bearer token is required; without it the channel is off unless
    # REST_CHANNEL=open (local development: `make run` and the tests).
    rest_channel_token: str = ""
    rest_channel_open: bool = False
    # Staff notifications: SMTP is used only when SMTP_HOST is set; without
    # it notifications stay in the local outbox shown by the staff app.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_from: str = "assistant@localhost"
    staff_email: str = ""  # overrides the clinic profile's staff_email
    # Redis, for several Rasa replicas (`make run-scaled`): the lock store
    # (deploy/endpoints.scaled.yml) and the socket.io channel's message
    # queue between replicas (channels/socketio_channel.py). No REDIS_HOST:
    # a single process, without Redis.
    redis_host: str = ""
    redis_port: int = 6379
    redis_db: int = 1  # as run_scaled.sh and Rasa's Redis lock store
    redis_password: str = ""
    lock_key_prefix: str = ""  # LOCK_KEY_PREFIX: keeps deployments apart

    @property
    def redis_url(self) -> str:
        """`redis://host:port/db` (the password goes apart), or "" without
        REDIS_HOST."""
        if not self.redis_host:
            return ""
        host = f"[{self.redis_host}]" if ":" in self.redis_host else self.redis_host
        return f"redis://{host}:{self.redis_port}/{self.redis_db}"

    # Parsed when first used, so that a bad STAFF_* value stops the staff
    # app (which reads them at start) and not, say, the action server.
    @property
    def staff(self) -> StaffSettings:
        """The staff app's settings."""
        return _section(StaffSettings, _snapshot())

    @property
    def twilio(self) -> TwilioEnvironment:
        """The Twilio channel's variables."""
        return _section(TwilioEnvironment, _snapshot())

    @classmethod
    def from_env(cls) -> Settings:
        """Reads the current environment."""
        public_base_url = _text("PUBLIC_BASE_URL", DEFAULT_PUBLIC_BASE_URL)
        return cls(
            database_url=_text("DATABASE_URL", DEFAULT_DATABASE_URL),
            clinic_profile_path=_path(
                "CLINIC_PROFILE", PROJECT_ROOT / "clinic_profile.yml"
            ),
            rasa_url=_text("RASA_URL", "http://localhost:5005"),
            rasa_auth_token=_text("RASA_AUTH_TOKEN"),
            action_timeout_seconds=_seconds("ACTION_TIMEOUT_SECONDS", 8.0),
            replica_name=_replica_name(),
            public_base_url=public_base_url,
            web_trusted_proxies=_int("WEB_TRUSTED_PROXIES", 0, minimum=0),
            chat_allowed_origins=_chat_origins(public_base_url),
            chat_session_secret=_text("CHAT_SESSION_SECRET"),
            rest_channel_token=_text("REST_CHANNEL_TOKEN"),
            rest_channel_open=_rest_channel_open(),
            smtp_host=_text("SMTP_HOST"),
            smtp_port=_int("SMTP_PORT", 587),
            smtp_username=_text("SMTP_USERNAME"),
            smtp_password=_text("SMTP_PASSWORD"),
            smtp_starttls=bool(_flag("SMTP_STARTTLS", True)),
            smtp_from=_text("SMTP_FROM", "assistant@localhost"),
            staff_email=_text("STAFF_EMAIL"),
            redis_host=_text("REDIS_HOST"),
            redis_port=_int("REDIS_PORT", 6379),
            redis_db=_int("REDIS_DB", 1, minimum=0),
            redis_password=_text("REDIS_PASSWORD"),
            lock_key_prefix=_text("LOCK_KEY_PREFIX"),
        )


def _snapshot() -> Tuple[str, ...]:
    return tuple(environment_value(name) for name in VARIABLES)


Section = TypeVar("Section", "Settings", StaffSettings, TwilioEnvironment)


@functools.lru_cache(maxsize=16)
def _section(kind: Type[Section], environment: Tuple[str, ...]) -> Section:
    return kind.from_env()


def get_settings() -> Settings:
    """The settings of the current environment (parsed once per set of
    values)."""
    return _section(Settings, _snapshot())


def main(argv: Optional[list] = None) -> int:
    """`python -m clinic.settings NAME`: prints one setting (for the shell
    scripts, so a default is written only here)."""
    names = sys.argv[1:] if argv is None else argv
    settings = get_settings()
    for name in names:
        if name.startswith("_") or not hasattr(settings, name):
            print(f"unknown setting: {name}", file=sys.stderr)
            return 2
        print(getattr(settings, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
