"""Conversation ids, namespaced by the channel that owns them (#14).

A conversation id (Rasa's `sender_id`) says which channel it belongs to, and
the prefix is always added by the server, never taken from the client, so
one channel can never address another channel's conversations:

- `tel:+16045550188`: SMS and WhatsApp through Twilio, the sender's E.164
  number as proven by Twilio's signature. SMS and WhatsApp from one phone
  are one conversation (as they are one `sms_contacts` row with one
  opt-out), so `whatsapp` does not change the id.
- `web:<key>`: the website widget (socket.io). The server issues the key
  and gives the browser a token `<key>.<signature>` (HMAC-SHA256 with the
  server's secret); a session_request with a token the server did not sign
  gets a new conversation (channels/socketio_channel.py).
- `rest:<sender>`: the REST channel, `<sender>` as the client sent it
  (channels/rest_channel.py).

Conversations stored before the prefixes (a Twilio conversation keyed by
the bare number) are renamed by migration 0006_conversation_ids; other old
ids stay as they are (staff still read them) and no client can reach them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import List, Optional

TWILIO = "tel:"
WEB = "web:"
REST = "rest:"
PREFIXES = {TWILIO: "twilio", WEB: "web", REST: "rest"}

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_WEB_KEY = re.compile(r"^[0-9a-f]{32}$")
_SIGNATURE_CHARS = 32  # hex digits of HMAC-SHA256 kept: 128 bits


def is_e164(number: str) -> bool:
    """Whether `number` is an E.164 number such as '+16045550188'."""
    return isinstance(number, str) and bool(_E164.match(number))


def twilio_conversation_id(number: str, whatsapp: bool = False) -> str:
    """The conversation of the E.164 `number` on SMS or WhatsApp (one
    conversation for both: see the module docstring)."""
    if not is_e164(number):
        raise ValueError("a Twilio conversation id needs an E.164 number")
    return TWILIO + number


def conversation_ids_of_number(number: str) -> List[str]:
    """Every id a number's conversations may be stored under: its Twilio
    conversation and, from before the prefixes, the bare number (for
    deleting a number's data even where migration 0006 has not run)."""
    return [twilio_conversation_id(number), number]


def is_twilio(conversation_id: str) -> bool:
    """Whether the conversation is an SMS/WhatsApp one (its id proves the
    number)."""
    return number_of(conversation_id) is not None


def number_of(conversation_id: str) -> Optional[str]:
    """The E.164 number of a Twilio conversation, else None (a web or REST
    id never yields a number, whatever the client chose as its id)."""
    if not isinstance(conversation_id, str):
        return None
    if not conversation_id.startswith(TWILIO):
        return None
    number = conversation_id[len(TWILIO) :]
    return number if is_e164(number) else None


def channel_of(conversation_id: str) -> Optional[str]:
    """'twilio', 'web' or 'rest' by the id's prefix; None for an id from
    before the prefixes."""
    for prefix, channel in PREFIXES.items():
        if isinstance(conversation_id, str) and conversation_id.startswith(prefix):
            return channel
    return None


def rest_conversation_id(sender: str) -> str:
    """The REST channel's conversation for the client's `sender`."""
    return REST + sender


# ---- the widget's signed session tokens --------------------------------


def _signature(secret: str, key: str) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), (WEB + key).encode("utf-8"), hashlib.sha256
    )
    return digest.hexdigest()[:_SIGNATURE_CHARS]


def issue_web_token(secret: str) -> str:
    """A new widget session token, `<key>.<signature>`: what the browser
    keeps and sends back. Its conversation is `web_conversation_of(token)`."""
    if not secret:
        raise ValueError("signing needs a secret")
    key = secrets.token_hex(16)
    return f"{key}.{_signature(secret, key)}"


def web_conversation_of(token: object, secret: str) -> Optional[str]:
    """The conversation id `web:<key>` of a token this server signed with
    `secret`, or None for anything else (a guessed, altered or foreign id)."""
    if not secret or not isinstance(token, str) or token.count(".") != 1:
        return None
    key, signature = token.split(".")
    if not _WEB_KEY.match(key):
        return None
    if not hmac.compare_digest(signature, _signature(secret, key)):
        return None
    return WEB + key
