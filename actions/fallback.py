"""First stage of the fallback: "Did you mean ...?" with the likeliest topics.

Messages the NLU is unsure about (`nlu_fallback`, from the intent OR the
response selector confidence) never get a guessed FAQ answer. The rules in
data/rules/general.yml run this action on a first miss and hand over to the
clinic (`utter_fallback_handoff`) on a second miss in a row.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from clinic.faq_keys import ranked_topics
from clinic.faq_topics import TOPICS

MAX_SUGGESTIONS = 3

# Button title and the question its button sends, per FAQ topic.
TOPIC_BUTTONS: Dict[Text, Tuple[Text, Text]] = TOPICS
HUMAN_BUTTON = {"title": "Talk to the clinic", "payload": "/request_human"}


def likely_topics(
    parse_data: Dict[Text, Any], limit: int = MAX_SUGGESTIONS
) -> List[Text]:
    """The FAQ topics the response selector ranked highest for a message."""
    return [t for t in ranked_topics(parse_data) if t in TOPIC_BUTTONS][:limit]


class ActionFaqFallback(Action):
    """Asks "Did you mean ...?" with up to three topics and a person."""

    def name(self) -> Text:
        return "action_faq_fallback"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        topics = likely_topics(tracker.latest_message or {})
        buttons = [
            {"title": TOPIC_BUTTONS[t][0], "payload": TOPIC_BUTTONS[t][1]}
            for t in topics
        ]
        buttons.append(HUMAN_BUTTON)
        # A response, not text, so Rasa's generator renders it and a red
        # flag earlier in the session puts the urgent reminder in front
        # (rasa_extensions/urgent_reminder.py).
        response = "utter_fallback_suggest" if topics else "utter_fallback_rephrase"
        dispatcher.utter_message(response=response, buttons=buttons)
        return []
