"""Live handoff (#15): a person at the clinic joins the chat.

`request_human` runs `action_request_handoff`. During the profile's
`chat_hours`, with a staff member signed in and available (db/handoff.py),
the conversation's `handoff` slot becomes `waiting`, the person is told
someone is asked to join, and a Rasa reminder (`EXTERNAL_handoff_timeout`)
is set for the profile's `chat_wait_minutes`. Otherwise the slot becomes
`unavailable`, the person is told why, and the call-back form starts
(data/rules/handoff.yml); when nobody at all is signed in, the front desk
also gets an outbox notice with no health details (notifications/handoff.py).

While `handoff` is `waiting` or `held`, rules make the bot listen without
answering; only red flags are still answered. The staff app takes, answers
and ends the chat through Rasa's HTTP API (webapp/staff/chats.py). When the
reminder fires, `action_handoff_timeout` expires the request if nobody took
it (a conditional UPDATE, so a take at the same moment wins or loses
cleanly) and tells the person, and the call-back form starts.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from clinic.profile import current_profile
from clinic.settings import get_settings
from db import handoff
from db.engine import session_factory
from notifications.handoff import queue_chat_request_notice

logger = logging.getLogger(__name__)

SLOT = "handoff"
WAITING, HELD, UNAVAILABLE = "waiting", "held", "unavailable"
TIMEOUT_INTENT = "EXTERNAL_handoff_timeout"
REMINDER = "handoff_timeout"


def now() -> datetime:
    """The current time (tests replace it)."""
    return datetime.now(timezone.utc)


def _request(sender_id: str, channel: Optional[str], at: datetime) -> Dict[str, Any]:
    """Decides in the database: {"status": waiting | nobody | closed, ...}."""
    settings = get_settings()
    profile = current_profile()
    if not profile.opening_hours.is_open(at):
        return {"status": "closed"}
    idle = timedelta(minutes=settings.staff.idle_minutes)
    with session_factory()() as session:
        if handoff.signed_in_and_available(session, idle, at):
            wait = timedelta(minutes=profile.chat_wait_minutes)
            chat = handoff.request_chat(session, sender_id, channel, wait, at)
            wait_until = chat.wait_until
            session.commit()
            if wait_until.tzinfo is None:
                wait_until = wait_until.replace(tzinfo=timezone.utc)
            return {"status": "waiting", "wait_until": wait_until}
        if not handoff.anyone_signed_in(session, idle, at):
            queue_chat_request_notice(
                session,
                settings.staff_email or profile.staff_email or profile.email,
                settings.public_base_url.rstrip("/") + "/staff/chats",
                at,
            )
            session.commit()
        return {"status": "nobody"}


class ActionRequestHandoff(Action):
    """ "Talk to a person": wait for the front desk, or the call-back form."""

    def name(self) -> Text:
        return "action_request_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> List[EventType]:
        at = now()
        try:
            found = await asyncio.to_thread(
                _request, tracker.sender_id, tracker.get_latest_input_channel(), at
            )
        except (SQLAlchemyError, OSError) as error:
            logger.error("Chat request not stored: %s", type(error).__name__)
            found = {"status": "nobody"}
        if found["status"] == "closed":
            dispatcher.utter_message(response="utter_handoff_closed")
            return [SlotSet(SLOT, UNAVAILABLE)]
        if found["status"] == "nobody":
            dispatcher.utter_message(response="utter_handoff_nobody")
            return [SlotSet(SLOT, UNAVAILABLE)]
        dispatcher.utter_message(response="utter_handoff_waiting")
        return [
            SlotSet(SLOT, WAITING),
            ReminderScheduled(
                TIMEOUT_INTENT,
                trigger_date_time=found["wait_until"],
                name=REMINDER,
                kill_on_user_message=False,
            ),
        ]


def _timeout(sender_id: str, at: datetime) -> Optional[str]:
    with session_factory()() as session:
        if handoff.expire(session, sender_id, at):
            return UNAVAILABLE
        chat = handoff.open_chat(session, sender_id)
        return None if chat is None else chat.status


class ActionHandoffTimeout(Action):
    """The wait ran out: told honestly, then the call-back form; unless a
    staff member took the chat meanwhile, or it is not yet due."""

    def name(self) -> Text:
        return "action_handoff_timeout"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> List[EventType]:
        try:
            status = await asyncio.to_thread(_timeout, tracker.sender_id, now())
        except (SQLAlchemyError, OSError) as error:
            logger.error("Chat request not expired: %s", type(error).__name__)
            status = UNAVAILABLE  # nobody can take it either: never wait on
        if status in (WAITING, HELD):
            return [SlotSet(SLOT, status)]
        dispatcher.utter_message(response="utter_handoff_timeout")
        return [SlotSet(SLOT, UNAVAILABLE)]
