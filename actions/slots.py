"""Slots filled on every user turn (custom slot mappings)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction

# FAQ topics whose follow-up turn the dialogue handles specially.
TRACKED_TOPICS = ("candidate", "cost_coverage")


def latest_entity(tracker: Tracker, entity: Text) -> Optional[Text]:
    """The first value of `entity` in the latest user message, if any."""
    for item in (tracker.latest_message or {}).get("entities") or []:
        if item.get("entity") == entity and item.get("value"):
            return str(item["value"])
    return None


def faq_topic(parse_data: Dict[Text, Any]) -> Optional[Text]:
    """`candidate` for a message answered by utter_faq/candidate, etc.

    Only topics listed as values of the `faq_topic` slot are kept.
    """
    if ((parse_data.get("intent") or {}).get("name")) != "faq":
        return None
    selector = (parse_data.get("response_selector") or {}).get("faq") or {}
    key = str((selector.get("response") or {}).get("intent_response_key") or "")
    topic = key.split("/", 1)[1] if key.startswith("faq/") else None
    return topic if topic in TRACKED_TOPICS else None


class ValidateSlotMappings(ValidationAction):
    """`action_validate_slot_mappings`: runs after every user message."""

    async def extract_condition(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """The condition named in *this* message, or None.

        Resetting it each turn keeps a condition from an earlier question
        from colouring a later, general one.
        """
        return {"condition": latest_entity(tracker, "condition")}

    async def extract_faq_topic(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """On an FAQ question: its topic when the dialogue uses it, else None.

        Other messages leave the slot alone, so that the answer to "yes"
        right after utter_faq/candidate still knows what was asked.
        """
        latest = tracker.latest_message or {}
        if (latest.get("intent") or {}).get("name") != "faq":
            return {}
        return {"faq_topic": faq_topic(latest)}
