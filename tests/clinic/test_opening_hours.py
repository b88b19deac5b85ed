"""Chat hours from the clinic profile (clinic/opening_hours.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from clinic.opening_hours import HoursError, OpeningHours
from clinic.profile import ClinicProfile, ProfileError, load_profile

HOURS = "Mon-Fri 08:00-12:00 & 13:00-18:00, Sat 09:00-13:00"
REQUIRED = {"name": "C", "phone": "+1 604 555 0100", "email": "a@b.org"}
REQUIRED["privacy_url"] = "https://example.org/p"


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (datetime(2026, 12, 3, 8, 0), True),  # Thursday, opening minute
        (datetime(2026, 12, 3, 7, 59), False),
        (datetime(2026, 12, 3, 12, 30), False),  # the lunch gap
        (datetime(2026, 12, 3, 17, 59), True),
        (datetime(2026, 12, 3, 18, 0), False),  # closing minute: closed
        (datetime(2026, 12, 5, 10, 0), True),  # Saturday
        (datetime(2026, 12, 6, 10, 0), False),  # Sunday
    ],
)
def test_open_within_the_spans_of_the_day(at, open_):
    hours = OpeningHours.parse(HOURS, "UTC")
    assert hours.is_open(at.replace(tzinfo=timezone.utc)) is open_


def test_hours_are_read_in_the_clinic_s_time_zone():
    hours = OpeningHours.parse("Mon-Fri 08:00-18:00", "America/Vancouver")
    # 17:00 UTC is 09:00 in Vancouver (PST); 03:00 UTC is 19:00 the day before.
    assert hours.is_open(datetime(2026, 12, 3, 17, 0, tzinfo=timezone.utc))
    assert not hours.is_open(datetime(2026, 12, 3, 3, 0, tzinfo=timezone.utc))


def test_a_whole_day_and_no_hours_at_all():
    assert OpeningHours.parse("Mon-Sun 00:00-24:00").is_open(datetime(2026, 1, 1))
    assert OpeningHours.parse("").never
    assert not OpeningHours.parse(None).is_open(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "text",
    [
        "Mon 9-5",
        "Monday 09:00-17:00",
        "Mon-Fri 18:00-08:00",
        "Fri-Mon 09:00-10:00",
        "Mon 25:00-26:00",
        "Mon 09:75-10:00",
        "09:00-17:00",
    ],
)
def test_unreadable_hours_are_refused(text):
    with pytest.raises(HoursError):
        OpeningHours.parse(text)


def test_the_profile_refuses_bad_hours_a_bad_zone_and_a_bad_wait():
    with pytest.raises(ProfileError):
        ClinicProfile.from_mapping({**REQUIRED, "chat_hours": "Mon 9-5"})
    with pytest.raises(ProfileError):
        ClinicProfile.from_mapping({**REQUIRED, "timezone": "Mars/Olympus"})
    for wait in (0, 61, "3", True):
        with pytest.raises(ProfileError):
            ClinicProfile.from_mapping({**REQUIRED, "chat_wait_minutes": wait})


def test_defaults_no_chat_hours_and_a_three_minute_wait():
    profile = ClinicProfile.from_mapping(REQUIRED)
    assert profile.chat_wait_minutes == 3 and profile.opening_hours.never


def test_the_sample_clinic_has_chat_hours():
    profile = load_profile()
    assert not profile.opening_hours.never and profile.timezone == "America/Vancouver"
