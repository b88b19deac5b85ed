"""Asking "Did that answer your question?" after an FAQ answer; what "No" gets.

The classifier can be confidently wrong, and a wrong answer looks like any
other in the transcript. So the assistant asks, where asking is cheap:

- on the website chat (socket.io) after every FAQ answer, with Yes / No
  buttons; a person who just types on is answered as usual, and the
  widget drops the buttons;
- on SMS and WhatsApp (Twilio) only after an answer the person picked from
  the "Did you mean ...?" suggestions (actions/fallback.py): a text
  message costs the person more than a tap;
- never on the REST API (its clients draw their own interface), while a
  form is open, after the "Am I a candidate?" answer (it ends with a
  question of its own) or while the urgent-care advice of a red flag still
  stands.

A "No" (the button, or "no" typed to the question) gets a rephrase hint,
the next likeliest topics of the question that was answered, as buttons
that ask them, and a person (the call-back request of actions/leads.py).
The staff dashboard lists those answers (webapp/staff/reviews.py) by this
action's events.

Both actions read only the conversation, so Rasa runs them in its own
process (rasa_extensions/action_fallback.py, LOCAL_ACTIONS).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.slots import before_latest_message
from clinic.faq_keys import RETRIEVAL_INTENT, answer_key, ranked_topics, topic_of
from clinic.faq_topics import TOPICS

ASK = "action_ask_feedback"
UNHELPFUL = "action_feedback_unhelpful"
ASKED_SLOT = "feedback_asked"
WEBSITE = "socketio"
TEXT_MESSAGES = "twilio"
# The fallback's "Did you mean ...?", after which SMS asks too.
SUGGESTIONS = "action_faq_fallback"
# Topics whose answer ends with a question of its own.
OWN_QUESTION = ("candidate",)
MAX_OTHER_TOPICS = 3
HUMAN_BUTTON = {"title": "Talk to the clinic", "payload": "/request_human"}


def _user_events(tracker: Tracker) -> List[Dict[Text, Any]]:
    return [e for e in tracker.events if e.get("event") == "user"]


def after_suggestions(tracker: Tracker) -> bool:
    """Whether the latest message answered the "Did you mean ...?" fallback:
    the last action before it (other than listening) was the fallback."""
    action = before_latest_message(
        tracker,
        lambda e: e.get("event") == "action" and e.get("name") != "action_listen",
    )
    return action is not None and action.get("name") == SUGGESTIONS


def feedback_due(tracker: Tracker) -> bool:
    """Whether to ask "Did that answer your question?" after this answer."""
    latest = tracker.latest_message or {}
    if (latest.get("intent") or {}).get("name") != RETRIEVAL_INTENT:
        return False
    if tracker.active_loop.get("name"):
        return False
    if tracker.get_slot("red_flag") and not tracker.get_slot("red_flag_safe"):
        return False
    if topic_of(answer_key(latest)) in OWN_QUESTION:
        return False
    channel = tracker.get_latest_input_channel()
    if channel == WEBSITE:
        return True
    if channel == TEXT_MESSAGES:
        return after_suggestions(tracker)
    return False


def judged_message(tracker: Tracker) -> Optional[Dict[Text, Any]]:
    """The parse data of the FAQ question a "No" is about: the person's
    message before the "No", when it was answered from the FAQ."""
    users = _user_events(tracker)
    if len(users) < 2:
        return None
    parse_data = users[-2].get("parse_data") or {}
    return parse_data if answer_key(parse_data) else None


def other_topics(
    parse_data: Dict[Text, Any], limit: int = MAX_OTHER_TOPICS
) -> List[Text]:
    """The likeliest FAQ topics of a message after the one it was given."""
    given = topic_of(answer_key(parse_data))
    ranked = [t for t in ranked_topics(parse_data) if t in TOPICS and t != given]
    return ranked[:limit]


class ActionAskFeedback(Action):
    """Asks whether the answer helped, where it should (see feedback_due);
    `feedback_asked` says whether it did, for a typed yes or no."""

    def name(self) -> Text:
        return ASK

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        due = feedback_due(tracker)
        if due:
            dispatcher.utter_message(response="utter_ask_feedback")
        return [SlotSet(ASKED_SLOT, due)]


class ActionFeedbackUnhelpful(Action):
    """After a "No": ask in other words, one of the next likeliest topics,
    or a person."""

    def name(self) -> Text:
        return UNHELPFUL

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        judged = judged_message(tracker)
        topics = other_topics(judged) if judged else []
        buttons = [{"title": TOPICS[t][0], "payload": TOPICS[t][1]} for t in topics]
        buttons.append(HUMAN_BUTTON)
        response = (
            "utter_feedback_unhelpful_topics" if topics else "utter_feedback_unhelpful"
        )
        dispatcher.utter_message(response=response, buttons=buttons)
        return []
