"""After a red flag, every reply of the session begins with the urgent-care
advice, until the person says they are safe or have been seen.

A person told to call the emergency number may go on chatting ("should I
still book?", "what do I do"). Each later reply then opens with
`utter_urgent_reminder` (data: domain.yml), whatever answers the rest of
the message, so no answer reads as if the danger had passed. The
reminder stops when `red_flag_safe` is set (actions/slots.py, from "I'm
safe now", "I've been seen", ...) and with the session, whose slots start
empty.

Rasa has no hook around a turn's first reply, but every response of a
turn, from Rasa's own `utter_` actions and from the action server alike,
is rendered by the processor's natural language generator. `install()`
replaces that generator with `UrgentReminderNLG`, a subclass of Rasa's own
`TemplatedNaturalLanguageGenerator` (so a new model's responses reach it
as they reach Rasa's), which puts the reminder in front of the first
message of each turn. The urgent replies themselves (`URGENT`, whose
responses say `urgent: true` in their `metadata`) never get it. The joined
reply's `metadata` says how many of its paragraphs are the reminder
(`urgent_parts`), so the website widget shows those as urgent.

Not a patch of Rasa: it uses the public generator interface. Installed
after the server starts by the start-up hook (rasa_extensions/plugin.py),
like the action fallback; a deployment with its own NLG server is left
alone, with a warning.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Text

from rasa.core.nlg import TemplatedNaturalLanguageGenerator

logger = logging.getLogger(__name__)

REMINDER = "utter_urgent_reminder"
# Replies that are the urgent advice already.
URGENT = frozenset(
    {
        "utter_emergency",
        "utter_emergency_flagged",
        REMINDER,
        "utter_lead_after_urgent_care",
    }
)


def reminder_due(tracker: Any, utter_action: Text) -> bool:
    """Whether `utter_action` is the first reply of a turn that follows a
    red flag in this session, before the person said they are safe."""
    from rasa.shared.core.events import BotUttered, UserUttered

    if utter_action in URGENT or not tracker.get_slot("red_flag"):
        return False
    if tracker.get_slot("red_flag_safe"):
        return False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return True
        if isinstance(event, BotUttered):
            return False  # something was said this turn already
    return False


class UrgentReminderNLG(TemplatedNaturalLanguageGenerator):
    """Rasa's response generator, with the reminder before a turn's first
    reply after a red flag."""

    async def generate(
        self,
        utter_action: Text,
        tracker: Any,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        message = await super().generate(
            utter_action, tracker, output_channel, **kwargs
        )
        if not message or not reminder_due(tracker, utter_action):
            return message
        reminder = await super().generate(REMINDER, tracker, output_channel)
        if not reminder or not reminder.get("text"):
            return message
        text = message.get("text")
        joined = f"{reminder['text']}\n\n{text}" if text else reminder["text"]
        # The reminder's paragraphs are urgent advice; the answer after them
        # is not (channels/socketio_channel.py marks them for the widget).
        metadata = message.get("metadata")
        metadata = dict(metadata) if isinstance(metadata, dict) else {}
        if not metadata.get("urgent"):
            metadata["urgent_parts"] = len(reminder["text"].strip().split("\n\n"))
        return {**message, "text": joined, "metadata": metadata}


def install_on(agent: Any) -> None:
    """Puts `UrgentReminderNLG` in place of the agent's generator. Idempotent."""
    nlg = getattr(agent, "nlg", None)
    if isinstance(nlg, UrgentReminderNLG):
        return
    if type(nlg) is not TemplatedNaturalLanguageGenerator:
        logger.warning(
            "Urgent-care reminder not installed: the NLG is %s", type(nlg).__name__
        )
        return
    wrapped = UrgentReminderNLG(nlg.responses)
    agent.nlg = wrapped  # a new model's processor gets it too
    if getattr(agent, "processor", None) is not None:
        agent.processor.nlg = wrapped
    logger.info("Urgent-care reminder installed")


def install(app: Any, *_: Any) -> None:
    """A Sanic `after_server_start` listener: the agent is loaded by then."""
    agent = getattr(app.ctx, "agent", None)
    if agent is not None:
        install_on(agent)
