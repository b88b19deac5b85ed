"""Red flags: mark the conversation so staff can find and follow it up."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.slots import UNSPECIFIED, latest_entity

logger = logging.getLogger(__name__)


class ActionFlagRedFlag(Action):
    """Records the red-flag category in the `red_flag` slot.

    The urgent-care reply (`utter_emergency`) is a plain response sent by
    Rasa itself before this action runs, so it never depends on the action
    server being reachable.
    """

    def name(self) -> Text:
        return "action_flag_red_flag"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        category = (
            latest_entity(tracker, "red_flag")
            or tracker.get_slot("red_flag")
            or UNSPECIFIED
        )
        logger.warning("Red flag raised (category=%s)", category)
        return [SlotSet("red_flag", category)]
