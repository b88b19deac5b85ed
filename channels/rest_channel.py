"""Rasa's REST channel (`POST /webhooks/rest/webhook`), with its input checked.

Rasa's own channel answers 500 to an empty body or a JSON array, takes any
JSON value as sender or message, and lets the client choose the channel name
recorded with the message (which decides, e.g., whether the sender id is
offered as a phone number). This one answers 400 to a body that is not a
JSON object with a valid `sender` and a string `message` (and `metadata`, if
any, an object), 413 to a message over `MAX_MESSAGE_CHARS`, and always
records the channel as "rest". Everything else is Rasa's.

Upstream: https://github.com/RasaHQ/rasa/issues/8481 (500 for a JSON list).

Who may use it (#14), from clinic/settings.py:

- REST_CHANNEL_TOKEN set: every POST needs `Authorization: Bearer <token>`
  (401 without it or with another token);
- else REST_CHANNEL=open (local development: `make run`, the tests): open;
- else (the default, what a deployment gets): off, 403 to every POST.

Whichever the mode, the conversation is `rest:<sender>`
(clinic/conversation_ids.py): a REST client reaches only REST
conversations, never an SMS/WhatsApp or widget one, whatever it sends as
`sender`.

Enabled in credentials.yml as `channels.rest_channel.RestInput`.
"""

from __future__ import annotations

import hmac
from typing import Optional, Text

from rasa.core.channels import rest
from sanic import response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from clinic.conversation_ids import rest_conversation_id
from clinic.settings import get_settings
from rasa_extensions.channel_guard import (
    MAX_MESSAGE_CHARS,
    GuardedChannel,
    valid_sender,
)


def _refuse(status: int, problem: str) -> HTTPResponse:
    return response.json({"error": problem}, status=status)


def check_access(request: Request) -> Optional[HTTPResponse]:
    """None when the client may use the channel, else the refusal (see the
    module docstring)."""
    settings = get_settings()
    token = settings.rest_channel_token
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode("utf-8"), token.encode("utf-8")
        ):
            refusal = _refuse(401, "The REST channel needs its bearer token.")
            refusal.headers["WWW-Authenticate"] = 'Bearer realm="rest"'
            return refusal
        return None
    if settings.rest_channel_open:
        return None
    return _refuse(
        403,
        "The REST channel is off on this server "
        "(set REST_CHANNEL_TOKEN to use it; see the README, Security).",
    )


def check_body(request: Request) -> Optional[HTTPResponse]:
    """None when the webhook body is acceptable, else the refusal."""
    try:
        body = request.json
    except SanicException:
        return _refuse(400, "The body must be JSON (UTF-8).")
    if not isinstance(body, dict):
        return _refuse(400, "The body must be a JSON object.")
    if valid_sender(body.get("sender")) is None:
        return _refuse(400, "`sender` must be 1 to 128 printable characters.")
    message = body.get("message")
    if not isinstance(message, str):
        return _refuse(400, "`message` must be a string.")
    if len(message) > MAX_MESSAGE_CHARS:
        return _refuse(
            413, f"`message` is longer than {MAX_MESSAGE_CHARS:,} characters."
        )
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return _refuse(400, "`metadata` must be an object.")
    return None


class RestInput(GuardedChannel, rest.RestInput):
    """The REST channel with its input checked (see the module docstring)."""

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        sender = valid_sender(req.json.get("sender"))
        return rest_conversation_id(sender) if sender is not None else None

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def blueprint(self, on_new_message):  # noqa: ANN001, ANN201 - as in Rasa
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def refuse_bad_input(request: Request) -> Optional[HTTPResponse]:
            if request.method == "POST":
                return check_access(request) or check_body(request)
            return None

        return blueprint
