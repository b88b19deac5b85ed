"""What every project input channel does before a message reaches Rasa.

- A sender id is a string of 1 to 128 printable characters; the tracker
  store's `sender_id` column holds 255, and ids are keys in Redis locks.
- A message longer than `MAX_MESSAGE_CHARS` is not parsed: the person gets
  a polite reply instead (the REST channel answers 413 before that).
- A message starting with `/` is a button's payload only when it is
  exactly `/<an intent of domain.yml>` (what the project's buttons send);
  any other such text has its slashes taken off and is read as words.
  Rasa's parser (`RegexMessageHandler`, rasa/shared/core/training_data/
  story_reader/yaml_story_reader.py) logs the whole text of a `/` message
  it cannot read, at warning level: "/My name is Ana, phone 604..." put
  that person's details in the log. Payloads with entities or a confidence
  (`/intent{...}`, `/intent@0.9`) are refused too: no button sends them,
  and a client must not choose the assistant's understanding.
- If handling a message fails anyway, the person gets an apology rather
  than silence, and the log names the error type only, never the text
  (Rasa's own REST channel logs the message text on failure).
- At server start, a server that was not started through the start-up
  hook (`python -m rasa_extensions run`, see rasa_extensions/plugin.py)
  says so in its log: it runs without the action-server fallback.

Request bodies are capped by Sanic before any of this:
`SANIC_REQUEST_MAX_SIZE` (the run scripts set 64 KB) is answered with 413.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any, Awaitable, Callable, FrozenSet, Optional

import yaml
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint

from clinic.profile import current_profile
from clinic.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
TOO_LONG = (
    "Sorry, that message is too long for me. Could you ask in a few words "
    f"(at most {MAX_MESSAGE_CHARS:,} characters)?"
)
SORRY = (
    "Sorry, something went wrong on our side. Please try again, "
    "or call {name} at {phone}."
)

Handler = Callable[[UserMessage], Awaitable[Any]]
PAYLOAD = re.compile(r"/([A-Za-z0-9_]+)")


@functools.lru_cache(maxsize=1)
def domain_intents() -> FrozenSet[str]:
    """The intents of domain.yml (the model is trained from it), read once."""
    try:
        domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        logger.error(
            "domain.yml not read (%s): no payload is taken", type(error).__name__
        )
        return frozenset()
    names: set = set()
    for entry in (domain or {}).get("intents") or []:
        names.update(entry if isinstance(entry, dict) else [entry])
    return frozenset(str(name) for name in names)


def safe_text(text: Optional[str]) -> Optional[str]:
    """The text Rasa may see: a payload `/<known intent>` as it is, any
    other text starting with `/` without its slashes (see above)."""
    stripped = (text or "").strip()
    if not stripped.startswith("/"):
        return text
    match = PAYLOAD.fullmatch(stripped)
    if match and match.group(1) in domain_intents():
        return stripped
    return stripped.lstrip("/").lstrip() or stripped


def is_control(char: str) -> bool:
    return ord(char) < 32 or 127 <= ord(char) < 160


def valid_sender(value: Any) -> Optional[str]:
    """The sender id as a string, or None when it is not acceptable."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_SENDER_CHARS:
        return None
    if value.strip() != value or any(is_control(c) for c in value):
        return None
    return value


def sorry_message() -> str:
    profile = current_profile()
    return SORRY.format(name=profile.name, phone=profile.phone)


def guard(on_new_message: Handler) -> Handler:
    """Wraps Rasa's message handler with the checks above."""

    async def guarded(message: UserMessage) -> None:
        output, sender = message.output_channel, message.sender_id
        message.text = safe_text(message.text)
        if len(message.text or "") > MAX_MESSAGE_CHARS:
            await output.send_text_message(sender, TOO_LONG)
            return
        try:
            await on_new_message(message)
        except Exception as error:  # noqa: BLE001 - the person must hear back
            logger.error(
                "Message on %s could not be handled: %s",
                message.input_channel,
                type(error).__name__,
            )
            await output.send_text_message(sender, sorry_message())

    return guarded


async def warn_without_start_up_hook(*_: Any) -> None:
    """A server listener: logs an error when the extensions the start-up
    hook installs are missing (Rasa started as plain `rasa run`)."""
    from rasa_extensions.plugin import installed

    if not installed():
        logger.error(
            "Rasa was started without rasa_extensions' start-up hook: no reply "
            "when the action server is down. Start it with "
            "`python -m rasa_extensions run` (rasa_extensions/plugin.py)."
        )


class GuardedChannel:
    """Mixin for an `InputChannel`: guards its handler (see above)."""

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        blueprint = super().blueprint(guard(on_new_message))  # type: ignore[misc]
        blueprint.listener("after_server_start")(warn_without_start_up_hook)
        return blueprint
