"""Everything the lead form says, in one place.

Texts may use clinic slots ({clinic_name}, {clinic_phone}, ...) and the
values passed by the caller. They live here rather than in domain.yml
because only custom actions send them, and `rasa data validate
--fail-on-warnings` rejects responses that no rule or story uses.
"""

from __future__ import annotations

import string
from typing import Any, Dict, List, Mapping, Optional, Text

YES_NO = [{"title": "Yes", "payload": "yes"}, {"title": "No", "payload": "no"}]

MESSAGES: Dict[Text, Dict[Text, Any]] = {
    "intro_assessment": {
        "text": "Great, I can pass your details to the {clinic_name} team so they "
        "can arrange an assessment. It takes about a minute, and you can say "
        '"{cancel_word}" at any time.'
    },
    "intro_callback": {
        "text": "Sure, I can ask someone from {clinic_name} to call you back. I just "
        'need a few details. You can say "{cancel_word}" at any time.'
    },
    "ask_lead_name": {"text": "What's your name?"},
    "ask_lead_contact": {
        "text": "What's the best phone number or email address to reach you? "
        "You can give both."
    },
    "ask_lead_contact_sender": {
        "text": "Is {phone} the best number to reach you?",
        "buttons": YES_NO,
    },
    "ask_lead_contact_method": {
        "text": "How would you like the clinic to contact you?"
    },
    "ask_lead_contact_time": {
        "text": 'When is a good time to reach you? (Or say "skip".)',
        "buttons": [
            {"title": "Mornings", "payload": "Mornings"},
            {"title": "Afternoons", "payload": "Afternoons"},
            {"title": "Evenings", "payload": "Evenings"},
            {"title": "Any time", "payload": "Any time"},
        ],
    },
    "ask_lead_concern": {
        "text": "In a few words, what would you like help with? For example: "
        '"low back pain that goes down my leg".'
    },
    "ask_lead_duration": {
        "text": 'How long has it been going on? (Or say "skip".)',
        "buttons": [
            {"title": "Under 6 weeks", "payload": "Under 6 weeks"},
            {"title": "6 weeks to 3 months", "payload": "6 weeks to 3 months"},
            {"title": "3 to 12 months", "payload": "3 to 12 months"},
            {"title": "Over a year", "payload": "Over a year"},
        ],
    },
    "ask_lead_screening": {
        "text": "One safety question: do any of these apply to you? Taking blood "
        "thinners, being pregnant, a bleeding or clotting disorder, HIV or "
        "hepatitis. Please just answer yes, no, or prefer not to say; don't "
        "share details here. The clinic will go over it with you.",
        "buttons": [
            {"title": "Yes", "payload": "yes"},
            {"title": "No", "payload": "no"},
            {"title": "Prefer not to say", "payload": "prefer not to say"},
        ],
    },
    "ask_lead_consent": {
        "text": "May {clinic_name} store these details and contact you about your "
        "request? Privacy notice: {clinic_privacy_url}",
        "buttons": [
            {"title": "Yes, I agree", "payload": "yes"},
            {"title": "No", "payload": "no"},
        ],
    },
    "ask_lead_confirmed": {
        "text": "Here's what I'll send to the clinic:\n{summary}\nIs this right?",
        "buttons": [
            {"title": "Yes, send it", "payload": "yes, send it"},
            {"title": "Change something", "payload": "change something"},
            {"title": "Cancel", "payload": "cancel"},
        ],
    },
    "ask_what_to_change": {
        "text": "What would you like to change?",
        "buttons": [
            {"title": "Name", "payload": "change name"},
            {"title": "Contact details", "payload": "change contact details"},
            {"title": "Best time", "payload": "change best time"},
            {"title": "What it's about", "payload": "change concern"},
        ],
    },
    "wrong_lead_name": {
        "text": "Sorry, I didn't catch a name there. What should the clinic call you?"
    },
    "wrong_lead_contact_phone": {
        "text": "That doesn't look like a complete phone number. Please include "
        "the area code, for example 604 555 0123, or give an email address."
    },
    "wrong_lead_contact_email": {
        "text": "That email address doesn't look right ({reason}). Could you check "
        "it, or give a phone number instead?"
    },
    "wrong_lead_contact": {
        "text": "I couldn't find a phone number or email address in that. What's "
        "the best number or email to reach you?"
    },
    "wrong_lead_contact_method": {
        "text": "Please choose one of the options below.",
    },
    "wrong_choice": {"text": "Sorry, please answer with one of the options."},
    "wrong_lead_concern": {
        "text": 'Could you describe it in a few words? For example: "stiff neck '
        'for months".'
    },
    "contact_give_up": {
        "text": "I'm having trouble reading your contact details, sorry. You can "
        "call {clinic_name} directly at {clinic_phone}. I haven't saved anything."
    },
    "cancelled": {
        "text": "No problem, I've cancelled that and haven't saved any of your "
        "details. Is there anything else you'd like to know about IMS?"
    },
    "no_consent": {
        "text": "Understood. I haven't saved any of your details. If you change "
        "your mind, you can call {clinic_name} at {clinic_phone}."
    },
    "saved_assessment": {
        "text": "Thank you! I've passed your details to the {clinic_name} team. "
        "Your reference is {reference}. They'll contact you to arrange an "
        "assessment; this isn't a booked appointment yet. If you need anything "
        "sooner, call {clinic_phone}."
    },
    "saved_callback": {
        "text": "Thank you! I've passed your call-back request to the {clinic_name} "
        "team. Your reference is {reference}. Someone will be in touch; this isn't "
        "a booked appointment. If it's urgent, call {clinic_phone}."
    },
    "save_failed": {
        "text": "Sorry, I couldn't save your details just now because of a problem "
        "on our side, so nothing has reached the clinic yet. I still have your "
        "answers: you can try again, or call {clinic_name} at {clinic_phone}.",
        "buttons": [
            {"title": "Try again", "payload": "/affirm"},
            {"title": "I'll call instead", "payload": "/deny"},
        ],
    },
    "save_abandoned": {
        "text": "OK. Nothing was saved. You can reach {clinic_name} at {clinic_phone}."
    },
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(
    key: Text,
    slots: Mapping[Text, Any],
    buttons: Optional[List[Dict[Text, Text]]] = None,
    **values: Any,
) -> Dict[Text, Any]:
    """`text` and `buttons` of message `key`, placeholders filled.

    Placeholders come from `values`, then from the slots; unknown ones are
    left empty rather than raising.
    """
    spec = MESSAGES[key]
    fields = _Blank({k: v for k, v in slots.items() if v is not None})
    fields.update({k: v for k, v in values.items() if v is not None})
    text = string.Formatter().vformat(spec["text"], (), fields)
    message: Dict[Text, Any] = {"text": text}
    chosen = buttons if buttons is not None else spec.get("buttons")
    if chosen:
        message["buttons"] = chosen
    return message
