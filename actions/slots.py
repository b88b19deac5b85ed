"""Slots filled on every user turn (custom slot mappings)."""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction

from clinic.faq_keys import answer_key, topic_of
from clinic.profile import ProfileError, current_profile
from components.condition_answers import answer_condition, answer_precaution

logger = logging.getLogger(__name__)

# FAQ topics whose follow-up turn the dialogue handles specially.
TRACKED_TOPICS = ("candidate", "cost_coverage")

# The red-flag category when the classifier, not a red-flag pattern,
# recognised the emergency.
UNSPECIFIED = "unspecified"

# What the NLU components write as a condition or red-flag value.
_CATEGORY = re.compile(r"^[a-z][a-z_]{0,39}$")


# "I'm safe now", "I've been seen", "I went to the ER": after a red flag,
# what ends the urgent reminder before each reply.
SAFE = re.compile(
    r"\b(i'?m|i am|we'?re|we are|feeling)\s+(now\s+)?(safe|ok|okay|fine|better|"
    r"alright|all right)\b"
    r"|\b(been|was|got) (seen|checked|treated)\b"
    r"|\b(saw|seen by|see) (a|the|my) (doctor|physician|nurse|gp)\b"
    r"|\b(went|been|was|came back from) (to )?(the )?(er|emergency|hospital|"
    r"urgent care|walk-in)\b",
    re.IGNORECASE,
)


def category(value: Any) -> Optional[Text]:
    """`value` if it is a category name such as `frozen_shoulder`, else None."""
    return value if isinstance(value, str) and _CATEGORY.match(value) else None


def latest_entities(tracker: Tracker, entity: Text) -> List[Text]:
    """The values of `entity` in the latest user message, in reading order."""
    return [
        str(item["value"])
        for item in (tracker.latest_message or {}).get("entities") or []
        if item.get("entity") == entity and item.get("value")
    ]


def latest_entity(tracker: Tracker, entity: Text) -> Optional[Text]:
    """The first value of `entity` in the latest user message, if any."""
    values = latest_entities(tracker, entity)
    return values[0] if values else None


def before_latest_message(
    tracker: Tracker, matches: Callable[[Dict[Text, Any]], bool]
) -> Optional[Dict[Text, Any]]:
    """The latest event that `matches` between the person's latest message
    and the one before it (what the assistant did just before they wrote),
    or None."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif seen_user and matches(event):
            return event
    return None


def faq_topic(parse_data: Dict[Text, Any]) -> Optional[Text]:
    """`candidate` for a message answered by utter_faq/candidate, etc.

    Only topics listed as values of the `faq_topic` slot are kept.
    """
    topic = topic_of(answer_key(parse_data))
    return topic if topic in TRACKED_TOPICS else None


def profile_changes(tracker: Tracker) -> List[EventType]:
    """SlotSet events for the `clinic_*` slots whose profile value changed
    since the session started, so an edited clinic_profile.yml shows in
    answers at once, without retraining or a new session."""
    try:
        values = current_profile().slots()
    except (ProfileError, OSError) as error:
        # A profile being edited may be half-written: keep the details the
        # conversation has, and the turn's own slot checks.
        logger.warning("clinic profile not re-read: %s", error)
        return []
    return [
        SlotSet(slot, value)
        for slot, value in values.items()
        if tracker.get_slot(slot) != value
    ]


class ValidateSlotMappings(ValidationAction):
    """`action_validate_slot_mappings`: runs after every user message."""

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        """The slot checks, then any clinic detail that changed (set
        directly: profile values need no validation)."""
        events = await super().run(dispatcher, tracker, domain)
        return events + profile_changes(tracker)

    async def extract_condition(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """The condition whose answer *this* message gets, or None: with
        several named, the one with safety advice first; a condition the
        catalogue does not list reads "other" (components/conditions.py).

        Resetting it each turn keeps a condition from an earlier question
        from colouring a later, general one.
        """
        return {"condition": answer_condition(latest_entities(tracker, "condition"))}

    async def extract_precaution(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """The precaution *this* message names (pregnancy, blood thinners,
        ...; components/precautions.py), whose answer leads the
        contraindications reply; None when it names none or several.

        Reset each turn like `condition`; no event while it stays empty.
        """
        value = answer_precaution(latest_entities(tracker, "precaution"))
        if value is None and tracker.get_slot("precaution") is None:
            return {}
        return {"precaution": value}

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

    # Every slot this action sets, or that a global mapping sets on the same
    # turn, has a check here. rasa_sdk warns on every turn about a slot set
    # without one, which filled the action server's log.

    def validate_condition(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """A condition name from the extractor; anything else is dropped."""
        return {"condition": category(slot_value)}

    def validate_precaution(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """A precaution name from the extractor; anything else is dropped."""
        return {"precaution": category(slot_value)}

    def validate_faq_topic(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """Only the topics the dialogue follows up (the slot is categorical)."""
        return {"faq_topic": slot_value if slot_value in TRACKED_TOPICS else None}

    async def extract_red_flag_safe(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """After a red flag: set when the person says they are safe or have
        been seen (not on a message that is a red flag itself)."""
        latest = tracker.latest_message or {}
        if not tracker.get_slot("red_flag") or tracker.get_slot("red_flag_safe"):
            return {}
        intent = (latest.get("intent") or {}).get("name")
        if intent == "report_safe":
            return {"red_flag_safe": True}
        if intent != "emergency" and SAFE.search(latest.get("text") or ""):
            return {"red_flag_safe": True}
        return {}

    def validate_red_flag_safe(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """Only ever set to true; a new session starts it empty again."""
        return {"red_flag_safe": True if slot_value is True else None}

    def validate_red_flag(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        """A red-flag category. A red flag is never dropped: a value that is
        not a category name is kept as `unspecified`, so the conversation
        stays marked for staff."""
        if slot_value is None:
            return {"red_flag": None}
        return {"red_flag": category(slot_value) or UNSPECIFIED}
