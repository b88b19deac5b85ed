"""Reading phone numbers and email addresses people type."""

from __future__ import annotations

import re
from typing import Optional, Tuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_EMAIL_CANDIDATE = re.compile(r"[^\s<>(),;:\"']+@[^\s<>(),;:\"']+")
_CHANNEL_PREFIX = re.compile(r"^(whatsapp|sms|tel):", re.IGNORECASE)


def parse_phone(text: str, region: str = "CA") -> Optional[str]:
    """The number in `text` in E.164 form (+16045550123), or None.

    Accepts spaces, dashes, dots, brackets, a leading `whatsapp:`, and
    numbers without country code (read in `region`).
    """
    text = _CHANNEL_PREFIX.sub("", (text or "").strip())
    if not text or len(text) > 64:
        return None
    for match in phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.VALID
    ):
        return phonenumbers.format_number(
            match.number, phonenumbers.PhoneNumberFormat.E164
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """+16045550123 -> '+1 604-555-0123' for showing back to a person."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def find_email(text: str) -> Tuple[Optional[str], Optional[str]]:
    """(normalised email, None) when `text` holds a valid address, or
    (None, reason) when it holds an invalid one, or (None, None)."""
    match = _EMAIL_CANDIDATE.search(text or "")
    if not match:
        return None, None
    candidate = match.group(0).strip(".")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        return None, str(error)
    return result.normalized.lower(), None
