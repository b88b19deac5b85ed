"""Session start: load the clinic profile into `clinic_*` slots."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from clinic.profile import current_profile

logger = logging.getLogger(__name__)


class ActionSessionStart(Action):
    """Starts a session with the clinic's details available to responses."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        profile = current_profile()
        events.extend(SlotSet(slot, value) for slot, value in profile.slots().items())
        events.append(ActionExecuted("action_listen"))
        return events
