"""What the staff app and the notification worker ask of Rasa for live chat
(#15): events appended to a conversation through Rasa's HTTP API, sent to
the person on the channel they last used; and the wait's timeout, triggered
when Rasa's own reminder was lost, after reading the conversation's
`handoff` slot (GET .../tracker, notifications/handoff.py).

`POST /conversations/<id>/tracker/events?execute_side_effects=true&
output_channel=latest` appends the events under the conversation's lock
(Rasa's lock store: Redis in the scaled set-up), saves them in the tracker
store with everything else the person and the assistant said, and sends
each bot event through the output channel of the person's latest message
(the widget's socket.io room, or Twilio's SMS or WhatsApp thread). Why this
and not the project's own channel code: docs/decisions.md.

The API needs its token (RASA_AUTH_TOKEN, sent as Rasa expects it, in the
`token` query parameter); without one the staff app cannot join chats and
says so. Nothing of the conversation is logged here. Only the standard
library: the web app and the worker both use it.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import urllib.error
import urllib.request
from typing import Any, Dict, List
from urllib.parse import urlencode

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
# Conversation ids written as they are in the API's path.
ADDRESSABLE = re.compile(r"[A-Za-z0-9:+._@-]{1,255}")


# What a proxy answers when no replica took the request (nginx: none up, or
# each refused the connection: proxy_next_upstream error).
NOT_REACHED = (502, 503)


class RasaUnavailable(Exception):
    """Rasa's HTTP API could not be used (no token, down, refused).

    `maybe_applied` is False when the request never reached Rasa in full or
    Rasa refused it (4xx); True when it was sent and then failed (no answer
    in time, a broken answer, a 5xx), so Rasa may have applied it, or part
    of it, all the same. For a read (`slot_value`) it tells nothing."""

    def __init__(self, reason: str, maybe_applied: bool = False) -> None:
        super().__init__(reason)
        self.maybe_applied = maybe_applied


def staff_message(text: str, user_id: int, username: str) -> Dict[str, Any]:
    """A bot event that a staff member wrote, with their account."""
    return {
        "event": "bot",
        "text": text,
        "metadata": {"handoff": {"staff_id": user_id, "staff": username}},
    }


def slot(name: str, value: Any) -> Dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def cancel_reminder(name: str) -> Dict[str, Any]:
    return {"event": "cancel_reminder", "name": name}


def _call(
    rasa_url: str,
    token: str,
    sender_id: str,
    path: str,
    query: Dict[str, str],
    body: Any = None,
    timeout: float = TIMEOUT_SECONDS,
) -> bytes:
    """POSTs `body` as JSON (GETs when it is None); the answer's bytes."""
    if not token:
        raise RasaUnavailable("RASA_AUTH_TOKEN is not set")
    if not rasa_url.lower().startswith(("http://", "https://")):
        raise RasaUnavailable("RASA_URL is not an http(s) URL")
    if not ADDRESSABLE.fullmatch(sender_id):
        # Rasa (Sanic) does not decode %-escapes in the path: such an id
        # would name another conversation. tel:, web: and checked rest: ids
        # are all of these characters.
        raise RasaUnavailable("this conversation id cannot be addressed")
    query = {**query, "token": token}
    url = f"{rasa_url.rstrip('/')}/conversations/{sender_id}/{path}?{urlencode(query)}"
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(  # noqa: S310 - http(s) only, checked above
            request, timeout=timeout
        ) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        # 4xx: refused before anything was done. 502 and 503: the proxy in
        # front of Rasa could not reach a replica, so none had it. Other 5xx
        # (500, a 504 timeout): Rasa failed, maybe halfway through the turn.
        logger.error("Rasa's HTTP API refused a live-chat call: %s", error.code)
        raise RasaUnavailable(
            f"Rasa answered {error.code}",
            maybe_applied=error.code >= 500 and error.code not in NOT_REACHED,
        ) from error
    except (urllib.error.URLError, http.client.InvalidURL, ValueError) as error:
        # Not sent in full: a bad URL, or the connection or the sending of the
        # request failed (urllib wraps only those errors in URLError), and
        # Rasa acts on a request only once it has all of it.
        reason = getattr(error, "reason", None)
        name = type(reason if isinstance(reason, Exception) else error).__name__
        logger.error("Rasa's HTTP API unreachable: %s", name)
        raise RasaUnavailable(name) from error
    except (OSError, http.client.HTTPException) as error:
        # Sent, and then no answer or a broken one: a timeout, a dropped
        # connection (RemoteDisconnected is an OSError), an answer cut short
        # or malformed (IncompleteRead, LineTooLong are HTTPException only).
        logger.error("Rasa's HTTP API did not answer: %s", type(error).__name__)
        raise RasaUnavailable(type(error).__name__, maybe_applied=True) from error


def _post(
    rasa_url: str,
    token: str,
    sender_id: str,
    action: str,
    query: Dict[str, str],
    body: Any,
    timeout: float = TIMEOUT_SECONDS,
) -> None:
    query = {**query, "output_channel": "latest"}
    _call(rasa_url, token, sender_id, action, query, body, timeout)


def append_events(
    rasa_url: str, token: str, sender_id: str, events: List[Dict[str, Any]]
) -> None:
    """Appends `events` to the conversation and sends its bot messages to the
    person's latest channel. Raises RasaUnavailable on any failure."""
    query = {"execute_side_effects": "true", "include_events": "NONE"}
    _post(rasa_url, token, sender_id, "tracker/events", query, events)


def trigger_intent(
    rasa_url: str,
    token: str,
    sender_id: str,
    intent: str,
    timeout: float = TIMEOUT_SECONDS,
) -> None:
    """Runs the conversation's next turn as if the person had sent `intent`
    (as a Rasa reminder does), replies going to their latest channel."""
    query = {"include_events": "NONE"}
    body = {"name": intent}
    _post(rasa_url, token, sender_id, "trigger_intent", query, body, timeout)


def slot_value(
    rasa_url: str,
    token: str,
    sender_id: str,
    name: str,
    timeout: float = TIMEOUT_SECONDS,
) -> Any:
    """The conversation's slot `name` as Rasa has it now (GET .../tracker).
    Raises RasaUnavailable on any failure, a broken answer included."""
    raw = _call(
        rasa_url,
        token,
        sender_id,
        "tracker",
        {"include_events": "NONE"},
        timeout=timeout,
    )
    try:
        slots = json.loads(raw)["slots"]
        return slots.get(name)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        logger.error("Rasa's tracker unreadable: %s", type(error).__name__)
        raise RasaUnavailable(type(error).__name__) from error
