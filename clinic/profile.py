"""The clinic profile (clinic_profile.yml): name, phone, hours, fees, ..."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from clinic.opening_hours import HoursError, OpeningHours
from clinic.settings import get_settings

REQUIRED = ("name", "phone", "email", "privacy_url")

# Optional details patients ask about. A field the profile leaves empty is
# answered with this, so the person still learns whom to ask.
TO_CONFIRM = "the team will confirm (call {phone})"

# Profile field -> the slot its text fills (answers in data/responses/).
DETAIL_SLOTS = {
    "address": "clinic_address",
    "map_url": "clinic_map_url",
    "parking": "clinic_parking",
    "transit": "clinic_transit",
    "accessibility": "clinic_accessibility",
    "holiday_closures": "clinic_holidays",
    "cancellation_notice": "clinic_cancellation_notice",
    "cancellation_fee": "clinic_cancellation_fee",
    "direct_billing": "clinic_direct_billing",
    "insurers": "clinic_insurers",
}


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
    map_url: Optional[str] = None
    parking: Optional[str] = None
    transit: Optional[str] = None
    accessibility: Optional[str] = None
    holiday_closures: Optional[str] = None
    cancellation_notice: Optional[str] = None
    cancellation_fee: Optional[str] = None
    # True / False, or None when the team prefers to confirm it.
    referral_required: Optional[bool] = None
    direct_billing: Optional[str] = None
    insurers: Optional[str] = None
    fees: Optional[str] = None
    phone_region: str = "CA"
    emergency_number: str = "911"
    # The crisis line given with the urgent reply to thoughts of self-harm.
    crisis_line: str = "988"
    crisis_line_name: str = "Suicide Crisis Helpline"
    staff_email: Optional[str] = None
    # Live chat with the front desk (#15): when someone may join
    # (clinic/opening_hours.py; empty: never, the call-back form instead),
    # in `timezone`, and how long a person waits before they are told
    # nobody could join.
    chat_hours: Optional[str] = None
    timezone: str = "UTC"
    chat_wait_minutes: int = 3

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
        referral = data.get("referral_required")
        if referral is not None and not isinstance(referral, bool):
            raise ProfileError("referral_required must be true, false or empty")
        wait = data.get("chat_wait_minutes", 3)
        if isinstance(wait, bool) or not isinstance(wait, int) or not 1 <= wait <= 60:
            raise ProfileError("chat_wait_minutes must be a whole number, 1 to 60")
        values: Dict[str, Any] = {
            k: (str(v).strip() or None if v is not None else None)
            for k, v in data.items()
            if k not in ("referral_required", "chat_wait_minutes")
        }
        values["timezone"] = values.get("timezone") or "UTC"
        try:
            OpeningHours.parse(values.get("chat_hours"), values["timezone"])
        except HoursError as error:
            raise ProfileError(str(error)) from error
        return cls(**values, referral_required=referral, chat_wait_minutes=wait)

    @property
    def opening_hours(self) -> OpeningHours:
        """`chat_hours` read (checked when the profile was loaded)."""
        return OpeningHours.parse(self.chat_hours, self.timezone)

    def slots(self) -> Dict[str, Optional[str]]:
        """The profile as `clinic_*` slot values for responses.

        Each optional detail is its text, or "the team will confirm" with
        the phone when the profile leaves it empty. `clinic_referral` is
        "yes", "no" or None; `clinic_fees`, `clinic_hours` and
        `clinic_booking_url` stay None when empty: their answers have a
        variation for each case.
        """
        to_confirm = TO_CONFIRM.format(phone=self.phone)
        values: Dict[str, Optional[str]] = {
            "clinic_name": self.name,
            "clinic_phone": self.phone,
            "clinic_email": self.email,
            "clinic_emergency_number": self.emergency_number,
            "clinic_crisis_line": self.crisis_line,
            "clinic_crisis_line_name": self.crisis_line_name,
            "clinic_privacy_url": self.privacy_url,
            "clinic_fees": self.fees,
            # Answers have a variation for these left empty: a sentence such
            # as "book online at ..." cannot take "the team will confirm".
            "clinic_hours": self.hours,
            "clinic_booking_url": self.booking_url,
            "clinic_referral": (
                None
                if self.referral_required is None
                else ("yes" if self.referral_required else "no")
            ),
        }
        for field, slot in DETAIL_SLOTS.items():
            values[slot] = getattr(self, field) or to_confirm
        return values


def load_profile(path: Optional[Path] = None) -> ClinicProfile:
    """Reads a clinic profile from `path` (default: the configured one)."""
    path = Path(path or get_settings().clinic_profile_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as error:
        raise ProfileError(f"clinic profile not found: {path}") from error
    except yaml.YAMLError as error:
        raise ProfileError(f"clinic profile is not valid YAML: {path}") from error
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
