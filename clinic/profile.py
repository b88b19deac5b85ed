"""The clinic profile (clinic_profile.yml): name, phone, hours, fees, ..."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from clinic.settings import get_settings

REQUIRED = ("name", "phone", "email", "privacy_url")


class ProfileError(ValueError):
    """The clinic profile file is missing or incomplete."""


@dataclass(frozen=True)
class ClinicProfile:
    """What the assistant may tell people about the clinic."""

    name: str
    phone: str
    email: str
    privacy_url: str
    address: Optional[str] = None
    hours: Optional[str] = None
    booking_url: Optional[str] = None
    fees: Optional[str] = None
    phone_region: str = "CA"
    emergency_number: str = "911"
    staff_email: Optional[str] = None

    @classmethod
    def from_mapping(cls, data: Dict[str, Any]) -> ClinicProfile:
        """Builds a profile, refusing unknown keys and missing required ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProfileError(f"unknown keys in clinic profile: {unknown}")
        missing = [key for key in REQUIRED if not data.get(key)]
        if missing:
            raise ProfileError(f"clinic profile lacks: {missing}")
        values = {
            k: (str(v).strip() if v is not None else None) for k, v in data.items()
        }
        return cls(**values)

    def slots(self) -> Dict[str, Optional[str]]:
        """The profile as `clinic_*` slot values for responses."""
        return {
            "clinic_name": self.name,
            "clinic_phone": self.phone,
            "clinic_email": self.email,
            "clinic_hours": self.hours,
            "clinic_address": self.address,
            "clinic_booking_url": self.booking_url,
            "clinic_privacy_url": self.privacy_url,
            "clinic_fees": self.fees,
        }


def load_profile(path: Optional[Path] = None) -> ClinicProfile:
    """Reads a clinic profile from `path` (default: the configured one)."""
    path = Path(path or get_settings().clinic_profile_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as error:
        raise ProfileError(f"clinic profile not found: {path}") from error
    if not isinstance(data, dict):
        raise ProfileError(f"clinic profile is not a mapping: {path}")
    return ClinicProfile.from_mapping(data)


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> ClinicProfile:
    return load_profile(Path(path))


def current_profile() -> ClinicProfile:
    """The configured profile, re-read when the file changes."""
    path = get_settings().clinic_profile_path
    return _cached(str(path), path.stat().st_mtime if path.exists() else 0.0)
