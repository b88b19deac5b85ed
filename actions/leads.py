"""Lead capture: the `lead_form`, its questions, validation and submission.

Entry points (see data/rules/leads.yml) run `action_start_lead`, then the
form asks for name, contact, contact method and time, consent (before any
health detail), concern, duration and a yes/no screening question, shows a
summary, and ends in `action_submit_lead`, which stores the lead (with consent)
or says why nothing was stored.

Everything the form says is a response in data/responses/lead_form.yml:
Rasa's form asks `utter_ask_<slot>` itself, and the questions that depend on
the conversation (contact, contact method, concern and duration, which offer
what the person already said, and the summary) have an `action_ask_<slot>`
here that sends the same responses with values.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import unicodedata
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.handoff import SLOT as HANDOFF_SLOT
from actions.handoff import TIMEOUT_INTENT, UNAVAILABLE
from actions.slots import latest_entity
from clinic.contact import display_phone, find_email, parse_phone
from clinic.conversation_ids import number_of
from clinic.profile import current_profile
from clinic.settings import get_settings
from db.engine import session_factory
from db.leads import ANSWERS, LeadInput, Notification, answer_slot, save_lead

logger = logging.getLogger(__name__)

FORM = "lead_form"
CONSENT_VERSION = "2026-12-v2"  # change whenever the consent question changes
MAX_CONTACT_FAILURES = 3
SKIPPED = "skipped"
PHONE_CHANNELS = ("twilio", "sms", "whatsapp")

LEAD_SLOTS = (
    "lead_kind",
    "lead_name",
    "lead_contact",
    "lead_phone",
    "lead_email",
    "lead_phone_offered",
    "lead_contact_failures",
    "lead_contact_method",
    "lead_contact_time",
    "lead_concern",
    "lead_condition",
    "lead_duration",
    "lead_screening",
    "lead_consent",
    "lead_confirmed",
    "lead_cancelled",
    "lead_paused",
    "lead_concern_offered",
    "lead_duration_offered",
)
# What the person has answered (kept when a red flag pauses the form).
ANSWER_SLOTS = (
    "lead_name",
    "lead_contact",
    "lead_contact_method",
    "lead_contact_time",
    "lead_consent",
    "lead_concern",
    "lead_duration",
    "lead_screening",
)
CALLBACK_SLOTS = (
    "lead_name",
    "lead_contact",
    "lead_contact_time",
    "lead_consent",
    "lead_confirmed",
)

# A message at one of the form's questions that is not an answer but a
# request of its own gets that request's own reply (data/rules/general.yml),
# and then the form asks its question again.
INTERRUPTIONS = {
    "bot_challenge": "utter_bot_challenge",
    "out_of_scope": "utter_out_of_scope",
    "privacy_request": "utter_privacy",
}
# How sure the classifier must be; free text (what it's about, how long, a
# good time) is taken as the answer unless it is surely a request for a person.
INTERRUPTION_CONFIDENCE = 0.5
FREE_TEXT_INTERRUPTION_CONFIDENCE = 0.8

_CONTROL = {c for c in map(chr, range(32)) if c not in "\n\t"} | {"\x7f"}
_CANCEL = re.compile(
    r"^\W*(cancel|never ?mind|nvm|forget (it|about it)|stop|quit|exit|abort|"
    r"i changed my mind|dont bother|do not bother)\b",
    re.IGNORECASE,
)
_SKIP = re.compile(
    r"^\W*(skip|pass|next|(i )?(dont|do not|don't) know|not sure|no idea|n/?a|"
    r"(i(d| would|'d) )?(rather|prefer) not)\b",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^\W*(y|yes|yeah|yep|yup|sure|ok|okay|correct|right|agree|i agree|"
    r"please do|go ahead|send|send it|confirm|sounds good|absolutely|of course|"
    r"looks (good|right|fine|great)|all (good|correct)|perfect|great|"
    r"that'?s (right|correct|fine)|that is (right|correct|fine))\b",
    re.IGNORECASE,
)
# A correction at the summary. "correct" alone is a yes ("yes that's
# correct"); as a verb it names what to correct ("correct my number").
_CHANGE = re.compile(
    r"\b(change|edit|fix|wrong|update|actually|incorrect|mistake|typo)\b"
    r"|\bnot (right|correct)\b|\bcorrect (the|my|it|this|that)\b",
    re.IGNORECASE,
)
_NO = re.compile(r"^\W*(n|no|nope|nah|not really|i do not|i dont|i don't)\b", re.I)
_PREFER_NOT = re.compile(r"prefer not|rather not|not say|skip|private", re.I)
_METHODS = (
    ("email", re.compile(r"\be-?mail|\bmail\b", re.I)),
    ("text", re.compile(r"\b(text|sms|message|whatsapp|txt)", re.I)),
    ("call", re.compile(r"\b(call|phone|ring|voice)", re.I)),
)
_CHANGES = (
    (
        # The contact method is kept while it still fits the new details
        # (validate_lead_contact checks): asked again only when it does not.
        ("lead_contact", "lead_phone", "lead_email", "lead_phone_offered"),
        re.compile(r"\b(contact|phone|number|email|e-mail|mail)", re.I),
    ),
    (
        ("lead_contact_time",),
        re.compile(r"\b(time|when|morning|evening|afternoon)", re.I),
    ),
    (
        ("lead_concern", "lead_condition"),
        re.compile(r"\b(concern|problem|pain|about|issue)", re.I),
    ),
    (("lead_duration",), re.compile(r"\b(long|duration|how long|since)", re.I)),
    (("lead_screening",), re.compile(r"\b(safety|screening|medical)", re.I)),
    (("lead_name",), re.compile(r"\bname\b", re.I)),
)


# What a name looks like: one to five words of letters (with ' - . inside),
# after "my name is" and the like; not a sentence that begins like one.
_NAME_PREFIX = re.compile(
    r"^\W*(my name is|my name's|name is|name's|i am|i'm|it's|it is|this is|"
    r"call me|you can call me)\s+",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’.\-][^\W\d_]+)*\.?")
_NOT_A_FIRST_WORD = frozenset(
    [
        "ok",
        "okay",
        "i",
        "i'd",
        "i'll",
        "i've",
        "i'm",
        "im",
        "yes",
        "no",
        "yeah",
        "yep",
        "nope",
        "hi",
        "hello",
        "hey",
        "what",
        "how",
        "why",
        "where",
        "who",
        "can",
        "could",
        "would",
        "do",
        "does",
        "is",
        "are",
        "please",
        "thanks",
        "thank",
        "um",
        "uh",
        "well",
        "actually",
        "the",
        "a",
        "an",
        "it",
        "not",
        "just",
        "idk",
        "nothing",
        "none",
        "sorry",
    ]
)
_NOT_IN_A_NAME = frozenset(
    [
        "person",
        "human",
        "someone",
        "somebody",
        "clinic",
        "call",
        "phone",
        "email",
        "tomorrow",
        "today",
        "appointment",
        "book",
        "booking",
        "pain",
        "hurts",
        "ims",
        "er",
        "emergency",
        "hospital",
        "help",
        "later",
        "now",
        "question",
    ]
)


def name_in(text: str) -> Optional[str]:
    """The name in an answer to "what's your name?", or None when the
    answer does not look like one ("ok I'd rather talk to a person")."""
    candidate = _NAME_PREFIX.sub("", text.strip()).strip(" .!,")
    words = candidate.split()
    if not 1 <= len(words) <= 5 or len(candidate) > 60:
        return None
    if not all(_NAME_WORD.fullmatch(word) for word in words):
        return None
    lowered = [word.lower().strip(".") for word in words]
    if lowered[0] in _NOT_A_FIRST_WORD or _NOT_IN_A_NAME & set(lowered):
        return None
    return candidate


def contact_in(text: str) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(phone in E.164, email, why an email address is not valid) in `text`,
    read the way the contact question reads an answer."""
    email, email_error = find_email(text)
    rest = text.replace(email, "") if email else text
    if email_error:
        rest = re.sub(r"\S+@\S+", "", rest)
    return parse_phone(rest, current_profile().phone_region), email, email_error


# A clear introduction: "my name is Ana Souza", "this is Ana", or "I'm Ana"
# as the whole message. The name must pass name_in and be one to three
# capitalised words ("I'm tired", "my name is Ana and my back hurts" are not).
_INTRODUCTION = re.compile(
    r"^(?:(?:hi|hello|hey)\s+(?:there\s+)?)?"
    r"(?P<how>my name is|my name's|this is|i'm|i am|im)\s+(?P<name>.+)$",
    re.IGNORECASE,
)
_ONLY_AS_A_WHOLE_MESSAGE = ("i'm", "i am", "im")
# What "I'm ..." says instead of a name, even capitalised ("I am Diabetic").
_A_STATE_NOT_A_NAME = frozenset(
    [
        "allergic",
        "anaemic",
        "anemic",
        "arthritic",
        "asthmatic",
        "back",
        "blind",
        "confused",
        "deaf",
        "diabetic",
        "disabled",
        "done",
        "epileptic",
        "fine",
        "good",
        "here",
        "hurt",
        "hurting",
        "ill",
        "injured",
        "nervous",
        "new",
        "pregnant",
        "ready",
        "scared",
        "sick",
        "sore",
        "sorry",
        "still",
        "unwell",
        "waiting",
        "worried",
    ]
)
_CLAUSES = re.compile(r"[,;!?\n]+|\.(?:\s+|$)")
_GREETING = re.compile(r"^(hi|hello|hey)( there)?$", re.IGNORECASE)


def introduced_name(text: str) -> Optional[str]:
    """The name in a message where the person clearly introduced themselves,
    else None (when unsure, None)."""
    clauses = [c.strip() for c in _CLAUSES.split(text or "") if c and c.strip()]
    clauses = [c for c in clauses if not _GREETING.match(c)]
    for clause in clauses:
        match = _INTRODUCTION.match(clause)
        if not match:
            continue
        if match["how"].lower() in _ONLY_AS_A_WHOLE_MESSAGE and len(clauses) > 1:
            return None
        name = match["name"].strip()
        words = name.split()
        if len(words) > 3 or not all(
            len(word) > 1 and word[0].isupper() for word in words
        ):
            return None
        if _A_STATE_NOT_A_NAME & {word.lower() for word in words}:
            return None
        return name if name_in(name) == name else None
    return None


def clean(value: Any) -> str:
    """The text as typed, with control characters removed and ends trimmed."""
    text = unicodedata.normalize("NFC", str(value or ""))
    return "".join(ch for ch in text if ch not in _CONTROL).strip()


def latest_intent(tracker: Tracker) -> Optional[Text]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def latest_confidence(tracker: Tracker) -> float:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return float(intent.get("confidence") or 0.0)


def interruption(
    slot: Text,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    free_text: bool = False,
) -> Optional[Dict[Text, Any]]:
    """The slots to set when the message at `slot`'s question is a request
    of its own (a person, "are you a bot?", a question out of scope), after
    its reply is sent; None when the message is to be read as an answer.

    Asking for a person during an assessment request turns it into a call
    back and keeps what was given; the form then asks its next question."""
    intent, confidence = latest_intent(tracker), latest_confidence(tracker)
    callback = tracker.get_slot("lead_kind") == "callback"
    if free_text and (callback or intent != "request_human"):
        return None
    needed = FREE_TEXT_INTERRUPTION_CONFIDENCE if free_text else INTERRUPTION_CONFIDENCE
    if confidence < needed:
        return None
    if intent == "request_human":
        if callback:
            say(dispatcher, "utter_lead_is_callback")
            return {slot: None}
        say(dispatcher, "utter_lead_switch_to_callback")
        return {slot: None, "lead_kind": "callback"}
    if intent in INTERRUPTIONS:
        say(dispatcher, INTERRUPTIONS[intent])
        return {slot: None}
    return None


def is_cancel(text: str) -> bool:
    return bool(_CANCEL.match(text))


def yes_no(text: str, intent: Optional[Text]) -> Optional[str]:
    """'yes', 'no' or None, from the words first, then the intent."""
    if _YES.match(text):
        return "yes"
    if _NO.match(text):
        return "no"
    if intent == "affirm":
        return "yes"
    if intent == "deny":
        return "no"
    return None


def said_this_turn(tracker: Tracker) -> List[Text]:
    """The responses (by name) sent since the person's latest message."""
    names: List[Text] = []
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            name = (event.get("metadata") or {}).get("utter_action")
            if name:
                names.append(name)
    return names


def is_phone_channel(tracker: Tracker) -> bool:
    """Whether the person is texting (SMS or WhatsApp)."""
    channel = (tracker.get_latest_input_channel() or "").lower()
    return any(name in channel for name in PHONE_CHANNELS)


def sender_phone(tracker: Tracker) -> Optional[str]:
    """On SMS/WhatsApp, the sender's own number (E.164), else None."""
    if not is_phone_channel(tracker):
        return None
    # Only the Twilio channel's ids carry a number (clinic/conversation_ids.py):
    # a REST or web client naming itself '+1604...' is offered nothing.
    return number_of(tracker.sender_id)


_DURATION = re.compile(
    r"\b(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|several|a few|a couple of)\s+(?:day|week|month|year)s?\b",
    re.IGNORECASE,
)
DECLINED = "declined"


def earlier_messages(tracker: Tracker) -> List[Dict[Text, Any]]:
    """The person's messages in this session before the lead form started
    (the request itself included), newest first; not a red flag's message,
    which tells of urgent symptoms, not of what IMS should help with."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "active_loop" and event.get("name") == FORM:
            events = events[:index]
            break
    messages: List[Dict[Text, Any]] = []
    for event in reversed(events):
        if event.get("event") == "session_started":
            break
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if (
            event.get("event") == "user"
            and intent != "emergency"
            and not str(event.get("text")).startswith("/")
        ):
            messages.append(event)
    return messages


def messages_outside_the_form(tracker: Tracker) -> List[Dict[Text, Any]]:
    """The person's messages in this session while no lead form was asking
    (a chat request and the wait for someone included), newest first; not a
    red flag's message, a button's payload or a reminder."""
    messages: List[Dict[Text, Any]] = []
    in_form = False
    for event in tracker.events:
        kind = event.get("event")
        if kind == "session_started":
            messages, in_form = [], False
        elif kind == "active_loop":
            in_form = event.get("name") == FORM
        elif kind == "user" and not in_form:
            parse = event.get("parse_data") or {}
            intent = (parse.get("intent") or {}).get("name")
            text = str(event.get("text") or "")
            if intent == "emergency" or str(intent).startswith("EXTERNAL_"):
                continue
            # A red flag the rules caught under another intent (actions/safety.py).
            if any(e.get("entity") == "red_flag" for e in parse.get("entities") or []):
                continue
            if text and not text.startswith("/"):
                messages.append(event)
    return messages[::-1]


def tells_of_health(message: Dict[Text, Any]) -> bool:
    """Whether the NLU read a health matter in the message: a question about
    the treatment, or a condition or precaution it names."""
    parse = message.get("parse_data") or {}
    if (parse.get("intent") or {}).get("name") == "faq":
        return True
    health = {"condition", "precaution"}
    return any(e.get("entity") in health for e in parse.get("entities") or [])


def _pieces(text: str) -> List[str]:
    """`text` (unless longer than a contact answer), then its clauses."""
    parts = [part for part in re.split(r"[,;!?\n]+|\.\s+", text) if part.strip()]
    return ([text] if len(text) <= 64 else []) + parts


def known_details(tracker: Tracker) -> Dict[Text, Any]:
    """The call-back form's answers the person already gave in this session
    (a phone number, an email address, a name they introduced themselves
    with), as the form's own answers, so it does not ask for them again.
    Nothing else is taken: no health detail, and no name from a message
    about health ("I am Diabetic")."""
    profile = current_profile()
    # "I called 604 555 0123 and nobody answered": the clinic's, not theirs.
    clinics = (parse_phone(profile.phone, profile.phone_region), profile.email)
    phone = email = name = None
    for message in messages_outside_the_form(tracker):
        text = str(message.get("text"))
        for piece in _pieces(text):
            found = contact_in(piece)[:2]
            found_phone, found_email = (None if f in clinics else f for f in found)
            phone, email = phone or found_phone, email or found_email
        if not name and not tells_of_health(message):
            name = introduced_name(text)
    known: Dict[Text, Any] = {}
    if name:
        known["lead_name"] = name
    if phone or email:
        # Read again by validate_lead_contact when the form starts.
        known["lead_contact"] = " ".join(item for item in (phone, email) if item)
    return known


def say_what_is_kept(dispatcher: CollectingDispatcher, known: Dict[Text, Any]) -> None:
    if known.get("lead_name"):
        say(dispatcher, "utter_lead_kept_name", name=known["lead_name"])
    if not known.get("lead_contact"):
        return
    phone, email, _ = contact_in(known["lead_contact"])
    if phone and email:
        say(
            dispatcher,
            "utter_lead_kept_phone_and_email",
            phone=display_phone(phone),
            email=email,
        )
    elif phone:
        say(dispatcher, "utter_lead_kept_phone", phone=display_phone(phone))
    else:
        say(dispatcher, "utter_lead_kept_email", email=email)


def earlier_condition(tracker: Tracker) -> Optional[Tuple[str, Optional[str]]]:
    """(the words, the condition) of the latest condition the person named
    before the form ("does IMS help sciatica?" -> ("sciatica", "sciatica"))."""
    for event in earlier_messages(tracker):
        text = str(event.get("text") or "")
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            start, end = entity.get("start"), entity.get("end")
            if entity.get("entity") == "condition" and start is not None and end:
                words = clean(text[start:end])
                if words:
                    return words, entity.get("value")
    return None


def earlier_duration(tracker: Tracker) -> Optional[str]:
    """How long, as the person put it before the form ("for 8 months" ->
    "8 months")."""
    for event in earlier_messages(tracker):
        match = _DURATION.search(str(event.get("text") or ""))
        if match:
            return clean(match.group(0))
    return None


def form_started_at(tracker: Tracker) -> float:
    """Timestamp of the latest activation of the lead form."""
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == FORM:
            return float(event.get("timestamp") or 0)
    return 0.0


def submission_key(tracker: Tracker) -> str:
    """Same form, same key: a retried or doubled submit stores one lead."""
    raw = f"{tracker.sender_id}|{form_started_at(tracker):.6f}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def reset_lead_slots() -> List[EventType]:
    return [SlotSet(slot, None) for slot in LEAD_SLOTS]


def answer(slot: Text) -> Callable:
    """Decorates `validate_<slot>`: the method gets the cleaned text, and
    "cancel" / "never mind" / "stop" ends the form instead."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        async def validate(
            self: Any,
            value: Any,
            dispatcher: CollectingDispatcher,
            tracker: Tracker,
            domain: DomainDict,
        ) -> Dict[Text, Any]:
            text = clean(value)
            if is_cancel(text):
                return {slot: None, "lead_cancelled": "user"}
            return await method(self, text, dispatcher, tracker)

        return validate

    return decorate


def optional_text(slot: Text, text: str) -> Dict[Text, Any]:
    """A free-text answer that may be skipped."""
    return {slot: SKIPPED if not text or _SKIP.match(text) else text}


def fill_safe(value: Any) -> Any:
    """`value`, so that Rasa's response filling keeps it.

    Rasa 3.6's `interpolate_text` (rasa/core/nlg/interpolator.py) gives back
    the unfilled template whenever the filled text contains "0[" (its own
    marker), so a concern such as "pain 10[out of 10]" would show the
    person a literal "{summary}". A word joiner (U+2060, invisible) between
    the two characters keeps the text as the person typed it to the eye.
    """
    return value.replace("0[", "0\u2060[") if isinstance(value, str) else value


def say(dispatcher: CollectingDispatcher, response: Text, **values: Any) -> None:
    """Sends `response` (data/responses/lead_form.yml); Rasa fills in the
    clinic slots and `values`."""
    safe = {name: fill_safe(value) for name, value in values.items()}
    dispatcher.utter_message(response=response, **safe)


class ActionStartLead(Action):
    """Starts a fresh lead form: an assessment request, or a call back.

    A call back because nobody could join the chat starts with the phone
    number, email address and name the person already wrote in this
    session (known_details), and says so."""

    def name(self) -> Text:
        return "action_start_lead"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        # A call back when asked for a person, or when nobody could join the
        # chat in time (actions/handoff.py).
        callback = latest_intent(tracker) in ("request_human", TIMEOUT_INTENT)
        kind = "callback" if callback else "assessment"
        paused = bool(tracker.get_slot("lead_paused"))
        if tracker.get_slot("red_flag") and not tracker.get_slot("red_flag_safe"):
            # Urgent care first: the form ends before its first question, and
            # a paused request keeps its answers for later.
            say(dispatcher, "utter_lead_after_urgent_care")
            kept = [] if paused else reset_lead_slots()
            return [*kept, SlotSet("lead_cancelled", "urgent_first")]
        if paused:
            say(dispatcher, "utter_lead_resume")
            return [SlotSet("lead_paused", False), SlotSet("lead_cancelled", None)]
        # Its `channel: twilio` variation names the other phrase for cancelling.
        say(dispatcher, f"utter_lead_intro_{kind}")
        known: Dict[Text, Any] = {}
        if callback and tracker.get_slot(HANDOFF_SLOT) == UNAVAILABLE:
            # Nobody could join the chat: what the person already wrote is
            # kept; the form skips those questions, and the summary lets
            # them change it.
            known = known_details(tracker)
            say_what_is_kept(dispatcher, known)
        return [
            *reset_lead_slots(),
            SlotSet("lead_kind", kind),
            *(SlotSet(slot, value) for slot, value in known.items()),
        ]


class ActionPauseLead(Action):
    """A red flag in the middle of the form: the form stops, and what the
    person already answered is kept so that the request can be finished
    once they are safe (data/rules/leads.yml)."""

    def name(self) -> Text:
        return "action_pause_lead"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        stopped: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
        if not any(tracker.get_slot(slot) for slot in ANSWER_SLOTS):
            return [*stopped, *reset_lead_slots()]  # nothing to keep
        say(dispatcher, "utter_lead_paused")
        return [*stopped, SlotSet("lead_paused", True)]


class ActionCancelLead(Action):
    """Stops the lead form; nothing is stored."""

    def name(self) -> Text:
        return "action_cancel_lead"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        key = "save_abandoned" if tracker.get_slot("lead_save_failed") else "cancelled"
        say(dispatcher, f"utter_lead_{key}")
        return [*reset_lead_slots(), SlotSet("lead_save_failed", False)]


class ActionAskLeadContact(Action):
    """On SMS/WhatsApp, offers the sender's own number first."""

    def name(self) -> Text:
        return "action_ask_lead_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        phone = sender_phone(tracker)
        if phone and tracker.get_slot("lead_phone_offered") != "declined":
            say(dispatcher, "utter_ask_lead_contact_sender", phone=display_phone(phone))
            return [SlotSet("lead_phone_offered", phone)]
        say(dispatcher, "utter_ask_lead_contact")
        return []


class ActionAskLeadContactMethod(Action):
    """Offers only the ways the person can actually be reached."""

    def name(self) -> Text:
        return "action_ask_lead_contact_method"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        buttons = []
        if tracker.get_slot("lead_phone"):
            buttons += [
                {"title": "Phone call", "payload": "phone call"},
                {"title": "Text message", "payload": "text message"},
            ]
        if tracker.get_slot("lead_email"):
            buttons.append({"title": "Email", "payload": "email"})
        dispatcher.utter_message(
            response="utter_ask_lead_contact_method", buttons=buttons
        )
        return []


class ActionAskLeadConcern(Action):
    """Offers the condition the person already named for confirmation
    ("You mentioned sciatica. Is that what you'd like help with?"), or asks."""

    def name(self) -> Text:
        return "action_ask_lead_concern"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        found = earlier_condition(tracker)
        if found and tracker.get_slot("lead_concern_offered") != DECLINED:
            say(dispatcher, "utter_ask_lead_concern_offer", concern=found[0])
            return [SlotSet("lead_concern_offered", found[0])]
        say(dispatcher, "utter_ask_lead_concern")
        return []


class ActionAskLeadDuration(Action):
    """Offers how long the person already said it has been going on, or asks."""

    def name(self) -> Text:
        return "action_ask_lead_duration"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        found = earlier_duration(tracker)
        if found and tracker.get_slot("lead_duration_offered") != DECLINED:
            say(dispatcher, "utter_ask_lead_duration_offer", duration=found)
            return [SlotSet("lead_duration_offered", found)]
        say(dispatcher, "utter_ask_lead_duration")
        return []


def offered_answer(
    slot: Text, text: str, tracker: Tracker
) -> Optional[Dict[Text, Any]]:
    """The answer to "You said <x>. Is that right?": the offered value on a
    yes, the plain question again on a no; None when the person typed an
    answer of their own instead."""
    offered = tracker.get_slot(f"{slot}_offered")
    if not offered or offered == DECLINED:
        return None
    answer = yes_no(text, latest_intent(tracker))
    if answer == "yes":
        return {slot: offered}
    if answer == "no":
        return {slot: None, f"{slot}_offered": DECLINED}
    return None


def summary(slots: Dict[Text, Any]) -> str:
    """The answers as the person will confirm them (long ones shortened)."""

    def short(value: Any, limit: int = 120) -> str:
        text = str(value)
        return text if len(text) <= limit else text[: limit - 1] + "\u2026"

    screening = {"yes": "Yes", "no": "No", "prefer_not": "Prefer not to say"}
    method = {"call": "Phone call", "text": "Text message", "email": "Email"}
    rows = [
        ("Name", slots.get("lead_name")),
        (
            "Phone",
            display_phone(slots["lead_phone"]) if slots.get("lead_phone") else None,
        ),
        ("Email", slots.get("lead_email")),
        ("Contact by", method.get(slots.get("lead_contact_method") or "")),
        ("Best time", slots.get("lead_contact_time")),
        ("About", slots.get("lead_concern")),
        ("For how long", slots.get("lead_duration")),
        ("Safety question", screening.get(slots.get("lead_screening") or "")),
    ]
    return "\n".join(
        f"{label}: {short(value)}"
        for label, value in rows
        if value and value != SKIPPED
    )


class ActionAskLeadConfirmed(Action):
    """Shows the answers to be sent and asks whether they are right."""

    def name(self) -> Text:
        return "action_ask_lead_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        if "utter_ask_lead_what_to_change" in said_this_turn(tracker):
            # The person is choosing what to change: the list is the question.
            return []
        text = summary(tracker.current_slot_values())
        say(dispatcher, "utter_ask_lead_confirmed", summary=text)
        return []


class ValidateLeadForm(FormValidationAction):
    """Checks each answer; re-asks with a reason when one is not usable."""

    def name(self) -> Text:
        return "validate_lead_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        if tracker.get_slot("lead_cancelled"):
            return []
        if tracker.get_slot("lead_kind") == "callback":
            return [slot for slot in domain_slots if slot in CALLBACK_SLOTS]
        return domain_slots

    @answer("lead_name")
    async def validate_lead_name(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        name = name_in(text) if not text.startswith("/") else None
        if not name:
            other = interruption("lead_name", dispatcher, tracker)
            if other is not None:
                return other
            say(dispatcher, "utter_invalid_lead_name")
            return {"lead_name": None}
        return {"lead_name": name}

    @answer("lead_contact")
    async def validate_lead_contact(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        offered = tracker.get_slot("lead_phone_offered")
        if offered and offered != "declined":
            answer = yes_no(text, latest_intent(tracker))
            if answer == "yes":
                return self._contact_found(offered, None)
            if answer == "no":
                return {"lead_contact": None, "lead_phone_offered": "declined"}
        phone, email, email_error = contact_in(text)
        if phone or email:
            return self._contact_found(
                phone, email, tracker.get_slot("lead_contact_method")
            )
        # A try at a number or an address ("555 12", "99") is an answer,
        # however the classifier reads it (bare contact details train as out
        # of scope; a bare number may read as anything).
        attempt = re.search(r"\d{3,}|@", text) or re.fullmatch(r"[\d\s().+-]+", text)
        other = None if attempt else interruption("lead_contact", dispatcher, tracker)
        if other is not None:
            return other
        failures = int(tracker.get_slot("lead_contact_failures") or 0) + 1
        if failures >= MAX_CONTACT_FAILURES:
            say(dispatcher, "utter_lead_contact_give_up")
            return {"lead_contact": None, "lead_cancelled": "contact_failed"}
        if email_error:
            say(dispatcher, "utter_invalid_lead_contact_email", reason=email_error)
        elif re.search(r"\d{3,}", text):
            say(dispatcher, "utter_invalid_lead_contact_phone")
        else:
            say(dispatcher, "utter_invalid_lead_contact")
        return {"lead_contact": None, "lead_contact_failures": float(failures)}

    @staticmethod
    def _contact_found(
        phone: Optional[str], email: Optional[str], method: Optional[str] = None
    ) -> Dict[Text, Any]:
        found: Dict[Text, Any] = {
            "lead_contact": "given",  # the values live in lead_phone / lead_email
            "lead_phone": phone,
            "lead_email": email,
            "lead_contact_failures": 0.0,
        }
        if not phone:  # email is the only way: no need to ask
            found["lead_contact_method"] = "email"
        elif method == "email" and not email:
            found["lead_contact_method"] = None  # a method that no longer fits
        return found

    @answer("lead_contact_method")
    async def validate_lead_contact_method(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        for method, pattern in _METHODS:
            if pattern.search(text):
                needs = "lead_email" if method == "email" else "lead_phone"
                if tracker.get_slot(needs):
                    return {"lead_contact_method": method}
        other = interruption("lead_contact_method", dispatcher, tracker)
        if other is not None:
            return other
        say(dispatcher, "utter_invalid_lead_contact_method")
        return {"lead_contact_method": None}

    @answer("lead_contact_time")
    async def validate_lead_contact_time(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        other = interruption("lead_contact_time", dispatcher, tracker, free_text=True)
        return other if other is not None else optional_text("lead_contact_time", text)

    @answer("lead_concern")
    async def validate_lead_concern(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        other = interruption("lead_concern", dispatcher, tracker, free_text=True)
        if other is not None:
            return other
        offered = offered_answer("lead_concern", text, tracker)
        if offered is not None:
            found = earlier_condition(tracker)
            if offered.get("lead_concern") and found:
                offered["lead_condition"] = found[1]
            return offered
        if not text or text.startswith("/"):
            say(dispatcher, "utter_invalid_lead_concern")
            return {"lead_concern": None}
        return {
            "lead_concern": text,
            "lead_condition": latest_entity(tracker, "condition"),
        }

    @answer("lead_duration")
    async def validate_lead_duration(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        other = interruption("lead_duration", dispatcher, tracker, free_text=True)
        if other is not None:
            return other
        offered = offered_answer("lead_duration", text, tracker)
        return offered if offered is not None else optional_text("lead_duration", text)

    @answer("lead_screening")
    async def validate_lead_screening(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        if _PREFER_NOT.search(text):
            return {"lead_screening": "prefer_not"}
        answer = yes_no(text, latest_intent(tracker))
        if answer:
            return {"lead_screening": answer}
        other = interruption("lead_screening", dispatcher, tracker)
        if other is not None:
            return other
        say(dispatcher, "utter_invalid_choice")
        return {"lead_screening": None}

    @answer("lead_consent")
    async def validate_lead_consent(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        answer = yes_no(text, latest_intent(tracker))
        if answer == "yes":
            return {"lead_consent": "yes"}
        if answer == "no":
            return {"lead_consent": "no", "lead_cancelled": "no_consent"}
        other = interruption("lead_consent", dispatcher, tracker)
        if other is not None:
            return other
        say(dispatcher, "utter_invalid_choice")
        return {"lead_consent": None}

    @staticmethod
    def _new_contact(text: str, tracker: Tracker) -> Dict[Text, Any]:
        """A correction that carries the new number or email ("it should be
        604-555-0129"): applied at once, keeping the other detail."""
        phone, email, _ = contact_in(text)
        if not (phone or email):
            return {}
        phone = phone or tracker.get_slot("lead_phone")
        email = email or tracker.get_slot("lead_email")
        return ValidateLeadForm._contact_found(
            phone, email, tracker.get_slot("lead_contact_method")
        )

    @answer("lead_confirmed")
    async def validate_lead_confirmed(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        if _CHANGE.search(text):
            groups = [slots for slots, pattern in _CHANGES if pattern.search(text)]
            if not groups:
                say(dispatcher, "utter_ask_lead_what_to_change")
                return {"lead_confirmed": None}
            changed: Dict[Text, Any] = {"lead_confirmed": None}
            for slots in groups:
                given = (
                    self._new_contact(text, tracker) if "lead_phone" in slots else {}
                )
                changed.update(given or dict.fromkeys(slots))
            return changed
        answer = yes_no(text, latest_intent(tracker))
        if answer == "yes":
            return {"lead_confirmed": "yes"}
        if answer == "no":
            say(dispatcher, "utter_ask_lead_what_to_change")
            return {"lead_confirmed": None}
        other = interruption("lead_confirmed", dispatcher, tracker)
        if other is not None:
            return other
        say(dispatcher, "utter_invalid_choice")
        return {"lead_confirmed": None}


def lead_input(tracker: Tracker, now: datetime) -> LeadInput:
    """The stored form of the answers in the tracker."""
    slots = tracker.current_slot_values()

    def value(slot: Text) -> Optional[str]:
        item = slots.get(slot)
        return None if item in (None, "", SKIPPED) else str(item)

    answers: Dict[Text, Any] = {field: value(answer_slot(field)) for field in ANSWERS}
    return LeadInput(
        submission_key=submission_key(tracker),
        kind=value("lead_kind") or "assessment",
        channel=tracker.get_latest_input_channel() or "unknown",
        sender_id=tracker.sender_id,
        consent_version=CONSENT_VERSION,
        consent_at=now,
        **{**answers, "name": answers["name"] or ""},
    )


class ActionSubmitLead(Action):
    """Stores a completed, consented lead and tells the person what's next.

    A database failure is said plainly (never a false confirmation), the
    answers stay in the conversation, and "try again" resubmits them.
    """

    def name(self) -> Text:
        return "action_submit_lead"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        cancelled = tracker.get_slot("lead_cancelled")
        complete = (
            tracker.get_slot("lead_consent") == "yes"
            and tracker.get_slot("lead_confirmed") == "yes"
        )
        if cancelled or not complete:
            if cancelled == "no_consent":
                say(dispatcher, "utter_lead_no_consent")
            elif cancelled not in ("contact_failed", "urgent_first"):  # explained
                say(dispatcher, "utter_lead_cancelled")
            if cancelled == "urgent_first":  # a paused request keeps its answers
                return [
                    SlotSet("lead_cancelled", None),
                    SlotSet("lead_save_failed", False),
                ]
            return [*reset_lead_slots(), SlotSet("lead_save_failed", False)]

        settings = get_settings()
        profile = current_profile()
        notification = Notification(
            recipient=settings.staff_email or profile.staff_email or profile.email,
            staff_url=settings.public_base_url.rstrip("/") + "/staff/leads/{reference}",
        )
        try:
            data = lead_input(tracker, datetime.now(timezone.utc))
            # A blocking call: in a thread, so a database that does not answer
            # stalls this conversation only, not the whole action server.
            result = await asyncio.to_thread(
                save_lead, session_factory(), data, notification
            )
        except (SQLAlchemyError, OSError) as error:
            logger.error("Lead could not be saved: %s", type(error).__name__)
            say(dispatcher, "utter_lead_save_failed")
            return [SlotSet("lead_save_failed", True)]
        logger.info("Lead %s %s", result.reference, result.outcome)
        kind = tracker.get_slot("lead_kind") or "assessment"
        say(dispatcher, f"utter_lead_saved_{kind}", reference=result.reference)
        return [*reset_lead_slots(), SlotSet("lead_save_failed", False)]
