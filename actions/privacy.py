"""A person's own deletion request in chat (#14, docs/security.md).

`privacy_request` is answered with what is kept and who sees it
(`utter_privacy`), then "Delete it now?" (`utter_ask_privacy_delete`,
data/rules/privacy.yml). A yes runs `action_delete_my_data`, which deletes at
once, through the project's one deletion path (db/deletion.py), so
every deletion is tombstoned:

- on the website (or REST): the current conversation and any lead from it;
- on SMS or WhatsApp: every conversation and lead of the number. Only when
  the message came in on the Twilio channel and the conversation id is the
  number's (`tel:+E164`, clinic/conversation_ids.py), both set by the
  server after Twilio's signature was checked: no web or REST client can
  name a number.

The action runs inside the conversation it deletes, and Rasa saves the
tracker after it returns: the tombstone makes the tracker store write
nothing of that tracker (rasa_extensions/tracker_store.py), so the old
events do not come back and the next message starts a new conversation.
The request is recorded in the audit trail with counts only, and the person
is told what went, with a reference.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.leads import sender_phone, yes_no
from actions.slots import before_latest_message
from db.deletion import delete_on_request
from db.engine import session_factory

logger = logging.getLogger(__name__)

ASK = "utter_ask_privacy_delete"
MEDIUM_KEY = "twilio_medium"  # the Twilio channel's metadata (sms / whatsapp)


def _latest_user(tracker: Tracker) -> Dict[str, Any]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event
    return {}


def confirmed(tracker: Tracker) -> bool:
    """Whether the person just said yes to `utter_ask_privacy_delete`: the
    last thing the assistant said before their latest message was that
    question. A mistaken prediction never deletes anything."""
    said = before_latest_message(tracker, lambda e: e.get("event") == "bot")
    return said is not None and (said.get("metadata") or {}).get("utter_action") == ASK


def said_yes(tracker: Tracker) -> bool:
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    return yes_no(str(message.get("text") or ""), intent) == "yes"


def scope(tracker: Tracker) -> tuple[List[str], Optional[str], str]:
    """(conversation ids, proven number or None, channel name for the
    audit trail) that a request in this conversation covers."""
    number = sender_phone(tracker)  # the Twilio channel and a tel: id only
    if number:
        metadata = _latest_user(tracker).get("metadata") or {}
        medium = metadata.get(MEDIUM_KEY)
        channel = medium if medium in ("sms", "whatsapp") else "twilio"
        # Its Twilio conversation (`tel:+E164`) and, stored before the
        # channel prefixes, the bare number (clinic/conversation_ids.py).
        return list(dict.fromkeys([tracker.sender_id, number])), number, channel
    channel = tracker.get_latest_input_channel() or "unknown"
    return [tracker.sender_id], None, channel


class ActionDeleteMyData(Action):
    """Deletes what the person asked to delete, at once, and says so."""

    def name(self) -> Text:
        return "action_delete_my_data"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        if not (confirmed(tracker) and said_yes(tracker)):
            dispatcher.utter_message(response="utter_privacy_kept")
            return []
        sender_ids, number, channel = scope(tracker)

        def delete() -> Any:
            with session_factory()() as session:
                return delete_on_request(session, sender_ids, channel, number)

        try:
            # Blocking database work: in a thread, as the lead form saves.
            report = await asyncio.to_thread(delete)
        except (SQLAlchemyError, OSError) as error:
            logger.error("Privacy request not carried out: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_privacy_delete_failed")
            return []
        logger.info(
            "Privacy request %s: %d conversations, %d leads deleted, channel %s",
            report.reference,
            report.conversations,
            report.leads,
            report.channel,
        )
        deleted = "utter_privacy_deleted_number" if number else "utter_privacy_deleted"
        dispatcher.utter_message(
            response=deleted,
            reference=report.reference,
            conversations=str(report.conversations),
            leads=str(report.leads),
        )
        return []
