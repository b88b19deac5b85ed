"""What staff read instead of the codes the assistant stores.

Rasa and the lead form keep short codes (`socketio`, `prefer_not`,
`faq/conditions_treated`, `status_changed`); every page, the dashboard and
the CSV export show them through here, in words. A code without a name
here is shown made readable ("frozen_shoulder" -> "Frozen shoulder"), never
hidden, so a new value is still seen.
"""

from __future__ import annotations

import re
from typing import Dict, Mapping, Optional

from clinic.contact import display_phone
from clinic.faq_keys import RETRIEVAL_INTENT, topic_of
from clinic.faq_topics import TOPICS
from db.models import LeadStatus

NONE = "—"

# Rasa's input channel names. Twilio carries SMS and WhatsApp: the message's
# metadata (`twilio_medium`) says which, where it is known.
CHANNELS: Dict[str, str] = {
    "socketio": "Website chat",
    "rest": "Chat API",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "twilio": "SMS or WhatsApp",
    "cmdline": "Command line (test)",
    "unknown": "Unknown",
}
MEDIUM_KEY = "twilio_medium"

SCREENING = {"yes": "Yes", "no": "No", "prefer_not": "Prefer not to say"}
CONTACT_METHODS = {"call": "Phone call", "text": "Text message", "email": "Email"}
KINDS = {"assessment": "Booking", "callback": "Call back"}

RED_FLAGS = {
    "chest_pain": "Chest pain",
    "breathing": "Trouble breathing",
    "bladder_bowel": "Bladder or bowel control",
    "stroke_signs": "Signs of a stroke",
    "fever_back_pain": "Fever with back pain",
    "infection_signs": "Signs of infection",
    "self_harm": "Thoughts of self-harm",
    "urgent_care_asked": "Asked for urgent care",
    "severe_bleeding": "Severe bleeding",
    "collapsed_lung": "Collapsed lung",
    "needling_infection": "Infection after needling",
    "unspecified": "Not specified",
}
CONDITIONS = {"other": "Other condition", "disc": "Disc problem"}

# The audit trail's event kinds.
EVENTS = {
    "created": "Received",
    "updated": "Updated by the person",
    "notified": "Staff notified",
    "viewed": "Viewed",
    "status_changed": "Status changed",
    "note": "Note",
    "exported": "Exported",
    "deleted": "Deleted",
    "red_flag_reviewed": "Red flag reviewed",
    "privacy_request": "Deleted at the person's request (chat)",
    "chat_taken": "Live chat taken",
    "chat_ended": "Live chat ended",
}
# Words for the `key=value` details the trail stores.
TRANSPORTS = {"smtp": "by email", "local": "kept in the outbox"}
# How the outbox delivered a message (notifications/outbox.py).
DELIVERIES = {"smtp": "Emailed", "local": "Kept here (no email server set up)"}
FIELDS = {
    "contact_method": "contact by",
    "contact_time": "best time",
    "duration": "how long",
    "screening": "safety question",
    "kind": "request",
}
STATUS_LABELS = {
    LeadStatus.NEW.value: "New",
    LeadStatus.CONTACTED.value: "Contacted",
    LeadStatus.BOOKED.value: "Booked",
    LeadStatus.NOT_A_FIT.value: "Not a fit",
    LeadStatus.CLOSED.value: "Closed",
}

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_PAIR = re.compile(r"^([a-z_ ]+)=(.*)$")


def readable(code: Optional[str]) -> str:
    """`frozen_shoulder` -> "Frozen shoulder"; other text as it is."""
    if not code:
        return NONE
    if _CODE.match(code):
        words = code.replace("_", " ")
        return words[0].upper() + words[1:]
    return code


def _named(names: Mapping[str, str], code: Optional[str]) -> str:
    if not code:
        return NONE
    return names.get(code) or readable(code)


def channel(name: Optional[str], medium: Optional[str] = None) -> str:
    """ "Website chat", "SMS", "WhatsApp", ... for Rasa's channel name."""
    if medium and (name or "").lower() in ("twilio", ""):
        name = medium
    return _named(CHANNELS, (name or "").lower() or None)


def medium(data: Mapping[str, object]) -> Optional[str]:
    """ "sms" or "whatsapp" from a user event's data, when it says."""
    metadata = data.get("metadata")
    value = metadata.get(MEDIUM_KEY) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) else None


def screening(value: Optional[str]) -> str:
    return _named(SCREENING, value)


def contact_method(value: Optional[str]) -> str:
    return _named(CONTACT_METHODS, value)


def kind(value: Optional[str]) -> str:
    return _named(KINDS, value or "assessment")


def red_flag(value: Optional[str]) -> str:
    return _named(RED_FLAGS, value)


def condition(value: Optional[str]) -> str:
    return _named(CONDITIONS, value)


def status(value: Optional[str]) -> str:
    return _named(STATUS_LABELS, value)


def topic(key: Optional[str]) -> str:
    """The name of an FAQ topic from `faq/<topic>` or `<topic>`."""
    if not key or key == RETRIEVAL_INTENT:
        return "FAQ (topic not known)"
    name = topic_of(key) if "/" in key else key
    found = TOPICS.get(name or "")
    return found[0] if found else readable(name)


def phone(e164: Optional[str]) -> str:
    """+16045550123 -> "+1 604-555-0123", as people write it."""
    return display_phone(e164) if e164 else NONE


def delivery(transport: Optional[str]) -> str:
    """How the outbox delivered a message, in words ("Sent" when unsaid)."""
    return _named(DELIVERIES, transport) if transport else "Sent"


def event(kind_: str) -> str:
    return _named(EVENTS, kind_)


def event_detail(kind_: str, detail: Optional[str]) -> str:
    """The trail's `from=new; to=contacted` as "New to Contacted", etc."""
    if not detail:
        return ""
    pairs: Dict[str, str] = {}
    text = []  # parts without a `key=value` (a reason, a page name)
    for part in (p.strip() for p in detail.split(";")):
        match = _PAIR.match(part)
        if match is None:
            text.append(part)
        else:
            pairs[match.group(1).strip()] = match.group(2).strip()
    if kind_ == "status_changed" and {"from", "to"} <= set(pairs):
        return f"{status(pairs.pop('from'))} to {status(pairs.pop('to'))}"
    words = [part for part in text if part]
    if "channel" in pairs:
        words.append(channel(pairs.pop("channel")))
    if "kind" in pairs:
        words.append(kind(pairs.pop("kind")))
    if "fields" in pairs:
        changed = [f for f in pairs.pop("fields").split(",") if f and f != "none"]
        names = ", ".join(FIELDS.get(f, f.replace("_", " ")) for f in changed)
        words.append(f"changed: {names}" if changed else "nothing changed")
    if "transport" in pairs:
        transport = pairs.pop("transport")
        words.append(TRANSPORTS.get(transport, transport))
    words += [f"{key}: {value}" for key, value in pairs.items()]
    return "; ".join(words)
