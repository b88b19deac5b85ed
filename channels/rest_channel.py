"""Rasa's REST channel (`POST /webhooks/rest/webhook`), with its input checked.

Rasa's own channel answers 500 to an empty body or a JSON array, takes any
JSON value as sender or message, and lets the client choose the channel name
recorded with the message (which decides, e.g., whether the sender id is
offered as a phone number). This one answers 400 to a body that is not a
JSON object with a valid `sender` and a string `message` (and `metadata`, if
any, an object), 413 to a message over `MAX_MESSAGE_CHARS`, and always
records the channel as "rest". Everything else is Rasa's.

Upstream: https://github.com/RasaHQ/rasa/issues/8481 (500 for a JSON list).

Enabled in credentials.yml as `channels.rest_channel.RestInput`.
"""

from __future__ import annotations

from typing import Optional, Text

from rasa.core.channels import rest
from sanic import response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_extensions.channel_guard import (
    MAX_MESSAGE_CHARS,
    GuardedChannel,
    valid_sender,
)


def _refuse(status: int, problem: str) -> HTTPResponse:
    return response.json({"error": problem}, status=status)


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
        return valid_sender(req.json.get("sender"))

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def blueprint(self, on_new_message):  # noqa: ANN001, ANN201 - as in Rasa
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def refuse_bad_input(request: Request) -> Optional[HTTPResponse]:
            if request.method == "POST":
                return check_body(request)
            return None

        return blueprint
