"""When someone at the clinic can join a chat: the profile's `chat_hours`.

Written as days and times, e.g. ``"Mon-Fri 08:00-18:00, Sat 09:00-13:00"``
(days Mon..Sun, a range or a single day, each with one or more
``HH:MM-HH:MM`` spans; ``24:00`` is the end of the day), read in the
profile's `timezone`. Parsed when the profile is loaded, so a typo stops the
profile (ProfileError) instead of quietly closing the live chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timezone
from typing import Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUP = re.compile(
    r"^\s*(?P<first>[a-z]{3})(?:\s*-\s*(?P<last>[a-z]{3}))?\s+(?P<spans>.+?)\s*$"
)
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Span = Tuple[int, int]  # minutes since midnight: [start, end)


class HoursError(ValueError):
    """`chat_hours` or `timezone` cannot be read."""


def _minutes(hours: str, minutes: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise HoursError(f"not a time of day: {hours}:{minutes}")
    return value


@dataclass(frozen=True)
class OpeningHours:
    """Spans per weekday (0 = Monday), in `zone`."""

    spans: Tuple[Tuple[Span, ...], ...]
    zone: str

    @classmethod
    def parse(cls, text: Optional[str], zone: str = "UTC") -> OpeningHours:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise HoursError(f"unknown time zone: {zone}") from error
        week: Dict[int, List[Span]] = {day: [] for day in range(7)}
        for group in filter(str.strip, (text or "").lower().split(",")):
            match = _GROUP.match(group)
            if not match or match["first"] not in DAYS:
                raise HoursError(f"cannot read chat hours: {group.strip()!r}")
            first = DAYS.index(match["first"])
            last = DAYS.index(match["last"]) if match["last"] in DAYS else None
            if match["last"] and last is None:
                raise HoursError(f"cannot read chat hours: {group.strip()!r}")
            days = range(first, (last if last is not None else first) + 1)
            if not days:
                raise HoursError(f"days run backwards: {group.strip()!r}")
            for span in match["spans"].split("&"):
                found = _SPAN.match(span)
                if not found:
                    raise HoursError(f"cannot read chat hours: {group.strip()!r}")
                start = _minutes(found[1], found[2])
                end = _minutes(found[3], found[4])
                if end <= start:
                    raise HoursError(f"a span ends before it starts: {span.strip()}")
                for day in days:
                    week[day].append((start, end))
        return cls(spans=tuple(tuple(week[d]) for d in range(7)), zone=zone)

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (aware; naive is taken as UTC) is within the hours."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        local = at.astimezone(ZoneInfo(self.zone))
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.spans[local.weekday()])

    @property
    def never(self) -> bool:
        return not any(self.spans)


def time_of(minutes: int) -> time:
    """A span's bound as a time (24:00 as 23:59)."""
    minutes = min(minutes, 24 * 60 - 1)
    return time(minutes // 60, minutes % 60)
