"""Every setting the project reads from the environment, in one place.

Each has a safe local default so that `make run` works with nothing set up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite:///var/clinic.db"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Settings read from environment variables (see README, Configuration)."""

    database_url: str = DEFAULT_DATABASE_URL
    clinic_profile_path: Path = PROJECT_ROOT / "clinic_profile.yml"
    rasa_url: str = "http://localhost:5005"
    public_base_url: str = "http://localhost:8000"
    # Staff notifications: SMTP is used only when SMTP_HOST is set; without
    # it notifications stay in the local outbox shown by the staff app.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_from: str = "assistant@localhost"
    staff_email: str = ""  # overrides the clinic profile's staff_email

    @classmethod
    def from_env(cls) -> Settings:
        """Reads the current environment."""
        return cls(
            database_url=_env("DATABASE_URL", DEFAULT_DATABASE_URL),
            clinic_profile_path=Path(
                _env("CLINIC_PROFILE", str(PROJECT_ROOT / "clinic_profile.yml"))
            ),
            rasa_url=_env("RASA_URL", "http://localhost:5005"),
            public_base_url=_env("PUBLIC_BASE_URL", "http://localhost:8000"),
            smtp_host=_env("SMTP_HOST", ""),
            smtp_port=int(_env("SMTP_PORT", "587")),
            smtp_username=_env("SMTP_USERNAME", ""),
            smtp_password=_env("SMTP_PASSWORD", ""),
            smtp_starttls=_env("SMTP_STARTTLS", "true").lower() in ("1", "true", "yes"),
            smtp_from=_env("SMTP_FROM", "assistant@localhost"),
            staff_email=_env("STAFF_EMAIL", ""),
        )


def get_settings() -> Settings:
    """Returns the settings of the current environment (read on each call)."""
    return Settings.from_env()
