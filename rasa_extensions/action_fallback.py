"""Rasa runs the pure actions itself, and answers when the action server fails.

Rasa 3.6 runs a custom action by POSTing to the action endpoint. When that
fails (server down, 5xx, time-out), `MessageProcessor._run_action` logs the
exception, drops the action's events and goes on predicting: the person
sees nothing at all; and a server that accepts connections but never
answers is waited on for five minutes, on every turn, since every turn runs
`action_validate_slot_mappings`. This module changes the one place every
remote call goes through, the action endpoint, without touching the
dialogue model:

- the actions the FAQ and safety paths need, which read nothing but the
  conversation and the clinic profile (`LOCAL_ACTIONS`: session start, the
  slot mappings, red-flag marking, the "did you mean" fallback, the
  "did that answer your question?" step), always run
  in Rasa's own process, through the same rasa_sdk executor the action
  server uses: an FAQ or red-flag turn never waits for the action server
  (nor pays for an HTTP round trip);
- any other action (the lead form, which stores personal data) goes to the
  action server, waited on for `ACTION_TIMEOUT_SECONDS` (clinic/settings.py)
  at most. When that fails, the person gets a stand-in reply: told plainly
  that this part is not working and how to reach the clinic, and an active
  form is closed (answers typed into a form they no longer see would be
  misread). The stand-in is sent at most once a turn, and never after
  something was already said in the turn; after it, the turn's later
  actions stay silent. The next turn tries the action server again.

Upstream: https://github.com/RasaHQ/rasa/issues/7630 (no handling of an
action server failure) and https://github.com/RasaHQ/rasa/issues/5588 (no
reply when an action fails); the 5-minute timeout,
https://github.com/RasaHQ/rasa/issues/9789. It subclasses Rasa's public
`EndpointConfig` and sets the agent's and processor's `action_endpoint`.

`install(app)` swaps the agent's action endpoint for `ActionServerFallback`
once the model is loaded: the start-up hook (rasa_extensions/plugin.py)
passes it to Rasa as a server listener.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
from typing import Any, Dict, List, Optional, Text

import aiohttp
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from clinic.profile import current_profile
from clinic.settings import get_settings

logger = logging.getLogger(__name__)

LOCAL_ACTIONS = (
    "actions.session.ActionSessionStart",
    "actions.slots.ValidateSlotMappings",
    "actions.safety.ActionFlagRedFlag",
    "actions.fallback.ActionFaqFallback",
    "actions.feedback.ActionAskFeedback",
    "actions.feedback.ActionFeedbackUnhelpful",
)
MESSAGE_START = (
    "Sorry, I can't do that right now: part of our system is not responding."
)
MESSAGE = (
    MESSAGE_START + " Please try again in a few minutes, or call {name} at {phone}."
)
# When the clinic profile itself cannot be read.
MESSAGE_WITHOUT_PROFILE = MESSAGE_START + " Please try again in a few minutes."


def unavailable_message() -> str:
    """The stand-in reply, with the clinic's name and phone."""
    try:
        profile = current_profile()
    except Exception as error:  # noqa: BLE001 - the person must still hear back
        logger.error("Clinic profile unreadable: %s", type(error).__name__)
        return MESSAGE_WITHOUT_PROFILE
    return MESSAGE.format(name=profile.name, phone=profile.phone)


def _stand_in_sent(said: List[Text]) -> bool:
    """Whether the stand-in reply is among this turn's messages (read
    without the clinic profile, which a pure action may not need)."""
    return any(text.startswith(MESSAGE_START) for text in said)


def _said_this_turn(tracker: Dict[Text, Any]) -> List[Text]:
    """The bot messages that follow the latest user message."""
    said: List[Text] = []
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            said.append(event.get("text") or "")
    return said


@functools.lru_cache(maxsize=1)
def local_executor() -> Any:
    """A rasa_sdk executor holding `LOCAL_ACTIONS` (imported on first use)."""
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    for path in LOCAL_ACTIONS:
        module, name = path.rsplit(".", 1)
        executor.register_action(getattr(importlib.import_module(module), name))
    return executor


def _stand_in(body: Dict[Text, Any]) -> Dict[Text, Any]:
    tracker = body.get("tracker") or {}
    events: List[Dict[Text, Any]] = []
    if (tracker.get("active_loop") or {}).get("name"):
        events = [
            {"event": "active_loop", "name": None},
            {"event": "slot", "name": "requested_slot", "value": None},
        ]
    said = _said_this_turn(tracker)
    responses = [] if said else [{"text": unavailable_message()}]
    return {"events": events, "responses": responses}


class ActionServerFallback(EndpointConfig):
    """The action endpoint, answering for the action server when it fails."""

    @classmethod
    def wrap(cls, endpoint: EndpointConfig) -> ActionServerFallback:
        wrapped = cls(
            url=endpoint.url,
            params=endpoint.params,
            headers=endpoint.headers,
            basic_auth=endpoint.basic_auth,
            token=endpoint.token,
            token_name=endpoint.token_name,
            cafile=endpoint.cafile,
            **endpoint.kwargs,
        )
        wrapped.type = endpoint.type
        return wrapped

    async def request(
        self,
        method: Text = "post",
        subpath: Optional[Text] = None,
        content_type: Optional[Text] = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> Optional[Any]:
        json_body = kwargs.get("json")
        body: Dict[Text, Any] = json_body if isinstance(json_body, dict) else {}
        action = body.get("next_action")
        if not action:  # not an action call: Rasa's own request
            return await super().request(
                method, subpath, content_type, compress, **kwargs
            )
        said = _said_this_turn(body.get("tracker") or {})
        if _stand_in_sent(said):
            # After the stand-in, the turn is off its usual path: stay quiet.
            return _stand_in(body)
        executor = local_executor()
        if action in executor.actions:
            try:
                return await executor.run(body)
            except Exception as error:  # noqa: BLE001 - the person hears back
                logger.error("Local %s failed: %s", action, type(error).__name__)
                return _stand_in(body)
        timeout = get_settings().action_timeout_seconds
        kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
        try:
            return await super().request(
                method, subpath, content_type, compress, **kwargs
            )
        except ClientResponseError as error:
            if error.status == 400:  # the action rejected itself
                raise
            failure = f"HTTP {error.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            failure = type(error).__name__
        logger.error(
            "Action server failed on %s (%s); Rasa answers in its place",
            action,
            failure,
        )
        return _stand_in(body)


def install(app: Any, *_: Any) -> None:
    """Puts `ActionServerFallback` in front of the agent's action endpoint.

    A Sanic `after_server_start` listener: the agent is loaded by then.
    Idempotent.
    """
    agent = getattr(app.ctx, "agent", None)
    endpoint = getattr(agent, "action_endpoint", None)
    if agent is None or endpoint is None or isinstance(endpoint, ActionServerFallback):
        return
    wrapped = ActionServerFallback.wrap(endpoint)
    agent.action_endpoint = wrapped  # used again when a new model is loaded
    if agent.processor is not None:
        agent.processor.action_endpoint = wrapped
    logger.info("Action server fallback installed")
