"""Session start: load the clinic profile into `clinic_*` slots, and end a
live chat the person left behind.

A new session starts with every slot empty (domain.yml: no slots carried
over), the `handoff` slot included, so the bot answers again. A chat
request the conversation still has open (`waiting` or `held`, #15) is ended
here too, so the staff app shows it ended instead of a staff member typing
into a conversation the bot is answering, and the wait's reminder is
cancelled so it does not tell the person, later, that nobody could join.
A database error is logged and the session starts all the same.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    EventType,
    ReminderCancelled,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from clinic.profile import current_profile
from db import handoff
from db.engine import session_factory

logger = logging.getLogger(__name__)

REMINDER = "handoff_timeout"  # actions/handoff.py


def now() -> datetime:
    """The current time (tests replace it)."""
    return datetime.now(timezone.utc)


def end_open_chats(sender_id: str, at: datetime) -> int:
    """Ends the conversation's waiting or held chat requests: how many."""
    with session_factory()() as session:
        return handoff.end_open(session, sender_id, at)


def _ever_spoke(tracker: Tracker) -> bool:
    """Whether the person wrote before this session (a chat request needs
    a message): a conversation's first session asks nothing of the database."""
    return any(event.get("event") == "user" for event in tracker.events)


class ActionSessionStart(Action):
    """Starts a session with the clinic's details available to responses,
    and no live chat left open from the session before."""

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
        if _ever_spoke(tracker):
            try:
                ended = await asyncio.to_thread(
                    end_open_chats, tracker.sender_id, now()
                )
            except (SQLAlchemyError, OSError) as error:
                logger.error("Open chat not ended: %s", type(error).__name__)
                ended = 1  # it may be open: its reminder goes all the same
            if ended:
                events.append(ReminderCancelled(name=REMINDER))
        events.append(ActionExecuted("action_listen"))
        return events
