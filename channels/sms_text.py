"""Text handling for SMS and WhatsApp: splitting long answers, numbered
buttons, the STOP / START / HELP keywords and the channel's own replies.

Pure functions only, so they are easy to test and reuse.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence

from clinic.profile import ClinicProfile

MAX_MESSAGE = 1600  # Twilio's limit for one message body, in characters

SMS, WHATSAPP = "sms", "whatsapp"

# Twilio's default opt-out keywords for SMS. On WhatsApp, where Twilio does
# not handle keywords, only the unambiguous ones opt out: "cancel", "end" and
# "quit" are ordinary answers there (the lead form says "cancel" ends it).
OPT_OUT_SMS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
OPT_OUT_WHATSAPP = frozenset({"stop", "stopall", "unsubscribe"})
OPT_IN = frozenset({"start", "yes", "unstop"})  # only while opted out
HELP = frozenset({"help", "info"})

_SENTENCE_END = r"[.!?\u2026]"
_CLOSERS = "\"')\\]\u201d\u2019"
# A sentence boundary (whitespace after ., !, ? or ..., possibly after a
# closing quote or bracket) or a line break; kept by re.split.
_BOUNDARY = re.compile(
    rf"((?:(?<={_SENTENCE_END})|(?<={_SENTENCE_END}[{_CLOSERS}]))[ \t]+|[ \t]*\n\s*)"
)
# Full stops that end no sentence: titles, "e.g.", and option numbers ("1.").
_ABBREVIATION = re.compile(
    r"(\b(Dr|Mr|Mrs|Ms|Prof|St|Mt|vs|etc|approx|e\.g|i\.e|No)|^\s*\d{1,3})\.$",
    re.IGNORECASE,
)
_CHOICE = re.compile(r"^\s*(?:option\s*|#\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)
_KEYWORD_TRIM = " \t\r\n.!?,;:'\"()"


def units(text: str) -> int:
    """Length as Twilio counts it for Unicode texts (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> List[str]:
    """Cuts one over-long word into pieces of at most `limit` units."""
    pieces, current = [], ""
    for char in text:
        if units(current + char) > limit:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current] if current else pieces


def _split_words(sentence: str, limit: int) -> List[str]:
    """Splits an over-long sentence between words."""
    chunks: List[str] = []
    current = ""
    for word in sentence.split():
        for piece in _cut(word, limit) if units(word) > limit else [word]:
            candidate = f"{current} {piece}" if current else piece
            if units(candidate) <= limit:
                current = candidate
            else:
                chunks.append(current)
                current = piece
    return [*chunks, current] if current else chunks


def _sentences(text: str) -> List[str]:
    """Sentences with the separator that followed each (joined back later)."""
    parts = _BOUNDARY.split(text)
    pairs: List[List[str]] = []
    for index in range(0, len(parts), 2):
        sentence = parts[index]
        separator = parts[index + 1] if index + 1 < len(parts) else ""
        if pairs and _ABBREVIATION.search(pairs[-1][0]) and "\n" not in pairs[-1][1]:
            pairs[-1][0] += pairs[-1][1] + sentence  # "Dr. Gunn" stays together
            pairs[-1][1] = separator
        else:
            pairs.append([sentence, separator])
    return [sentence + separator for sentence, separator in pairs if sentence]


def split_message(text: str, limit: int = MAX_MESSAGE) -> List[str]:
    """`text` as messages of at most `limit` characters, cut at sentence
    boundaries (then between words, then anywhere), in reading order."""
    text = (text or "").strip()
    if not text:
        return []
    if units(text) <= limit:
        return [text]
    chunks: List[str] = []
    current = ""
    for sentence in _sentences(text):
        if units(current + sentence.rstrip()) <= limit:
            current += sentence
            continue
        if current.strip():
            chunks.append(current.strip())
        current = ""
        if units(sentence.rstrip()) <= limit:
            current = sentence
        else:
            *full, current = _split_words(sentence, limit)
            chunks.extend(full)
            current += " "
    if current.strip():
        chunks.append(current.strip())
    return chunks


def button_title(button: Dict[str, Any]) -> str:
    return str(button.get("title") or button.get("payload") or "").strip()


def number_buttons(text: str, buttons: Sequence[Dict[str, Any]]) -> str:
    """The message with its buttons as numbered options: '1. Yes\\n2. No'."""
    options = "\n".join(
        f"{number}. {button_title(button)}"
        for number, button in enumerate(buttons, start=1)
    )
    text = (text or "").rstrip()
    if not options:
        return text
    return f"{text}\n\n{options}" if text else options


def chosen_number(reply: str) -> Optional[int]:
    """1 for a reply of '1', '1.', '#1' or 'option 1'; otherwise None."""
    match = _CHOICE.match(reply or "")
    return int(match.group(1)) if match else None


def chosen_payload(reply: str, buttons: Sequence[Dict[str, Any]]) -> Optional[str]:
    """The payload of the button a numeric reply picks, if it picks one."""
    number = chosen_number(reply)
    if number is None or not 1 <= number <= len(buttons):
        return None
    button = buttons[number - 1]
    payload = button.get("payload") or button.get("title")
    return str(payload) if payload else None


def keyword(text: str, medium: str) -> Optional[str]:
    """'stop', 'start' or 'help' when the whole message is such a keyword."""
    word = (text or "").strip(_KEYWORD_TRIM).lower()
    opt_out = OPT_OUT_WHATSAPP if medium == WHATSAPP else OPT_OUT_SMS
    if word in opt_out:
        return "stop"
    if word in OPT_IN:
        return "start"
    if word in HELP:
        return "help"
    return None


_SMS_AT = re.compile(r"(?<=[\w.+-])\u00a1(?=[\w-]+\.[\w.-]+)")


def clean_incoming(text: str) -> str:
    """A typed message as the assistant should read it.

    A leading "/" is dropped (it would be read as an intent name with
    entities, bypassing understanding), and "name¡example.org" becomes
    "name@example.org" (some carriers turn @ into ¡ in SMS).
    """
    text = (text or "").strip()
    text = _SMS_AT.sub("@", text)
    return text.lstrip("/").strip()


def mask_phone(phone: str) -> str:
    """'+16045550123' -> '+1*******23', for logs."""
    phone = phone or ""
    if len(phone) <= 5:
        return "*" * len(phone)
    return phone[:2] + "*" * (len(phone) - 4) + phone[-2:]


def help_text(profile: ClinicProfile) -> str:
    parts = [f"{profile.name}: call {profile.phone} or email {profile.email}."]
    if profile.hours:
        parts.append(f"Hours: {profile.hours}.")
    if profile.address:
        parts.append(f"{profile.address}.")
    parts.append(
        "This is an automated assistant with general information about IMS. "
        f"In an emergency call {profile.emergency_number}. "
        "Reply STOP to stop messages."
    )
    return " ".join(parts)


def first_contact_text(profile: ClinicProfile) -> str:
    """Sent once, before the answer to a number's first message."""
    return (
        f"This is the {profile.name} automated assistant. It shares general "
        "information about IMS and is not medical advice. In an emergency call "
        f"{profile.emergency_number}. Reply HELP for the clinic's details, "
        "STOP to stop messages."
    )


def stopped_text(profile: ClinicProfile) -> str:
    return (
        f"You won't get any more messages from the {profile.name} assistant. "
        "Reply START to receive messages again."
    )


def restarted_text(profile: ClinicProfile) -> str:
    return (
        f"Welcome back! The {profile.name} assistant will answer your messages "
        "again. Reply STOP to stop messages, HELP for the clinic's details."
    )


def media_text(profile: ClinicProfile) -> str:
    return (
        "Sorry, I can only read text messages, not pictures, voice notes or "
        f"files. Please type your question, or call {profile.name} at "
        f"{profile.phone}."
    )


def too_long_text(profile: ClinicProfile) -> str:
    return (
        "Sorry, that message is too long for me to read. Please send a shorter "
        f"question, or call {profile.name} at {profile.phone}."
    )
