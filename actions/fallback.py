"""First stage of the fallback: "Did you mean ...?" with the likeliest topics.

Messages the NLU is unsure about (`nlu_fallback`, from the intent OR the
response selector confidence) never get a guessed FAQ answer. The rules in
data/rules/general.yml run this action on a first miss and hand over to the
clinic (`utter_fallback_handoff`) on a second miss in a row.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from clinic.faq_keys import ranked_topics

MAX_SUGGESTIONS = 3

# Button title and the question its button sends, per FAQ topic.
TOPIC_BUTTONS: Dict[Text, Tuple[Text, Text]] = {
    "what_is_ims": ("What IMS is", "What is IMS?"),
    "how_it_works": ("How IMS works", "How does IMS work?"),
    "ims_vs_acupuncture": ("IMS vs acupuncture", "Is IMS the same as acupuncture?"),
    "origins": ("Who developed IMS", "Who invented IMS?"),
    "conditions_treated": ("Conditions IMS treats", "What conditions does IMS treat?"),
    "does_it_hurt": ("Does it hurt?", "Does IMS hurt?"),
    "twitch_response": ("The muscle twitch", "Why does my muscle twitch during IMS?"),
    "soreness_after": ("Soreness afterwards", "Will I be sore after IMS?"),
    "side_effects": ("Side effects and risks", "What are the side effects of IMS?"),
    "contraindications": ("Who should not have IMS", "Who should not have IMS?"),
    "frequency": ("How often to come", "How often do I need IMS?"),
    "number_of_sessions": ("How many sessions", "How many IMS sessions will I need?"),
    "session_length": (
        "How long a session takes",
        "How long does an IMS session take?",
    ),
    "procedure": ("What happens at a visit", "What happens during an IMS appointment?"),
    "preparation": ("How to prepare", "How should I prepare for IMS?"),
    "aftercare": ("What to do afterwards", "What should I do after IMS?"),
    "who_performs": ("Who does IMS", "Who performs IMS?"),
    "effectiveness": ("Does IMS work?", "Does IMS work?"),
    "combined_treatment": (
        "IMS with other treatment",
        "Can IMS be combined with other treatments?",
    ),
    "normal_imaging": (
        "Normal X-ray or MRI",
        "My MRI is normal but I still hurt. Can IMS help?",
    ),
    "needles": ("The needles", "What kind of needles are used for IMS?"),
    "candidate": ("Am I a candidate?", "Am I a candidate for IMS?"),
    "cost_coverage": ("Cost and insurance", "How much does IMS cost?"),
    "clinic_hours": ("Opening hours", "What are your opening hours?"),
    "clinic_location": ("Address and parking", "Where is the clinic?"),
    "clinic_contact": ("Phone and email", "How do I contact the clinic?"),
    "booking_info": ("Booking and cancelling", "How do I book an appointment?"),
    "referral": ("Do I need a referral?", "Do I need a doctor's referral?"),
    "dry_needling": ("IMS vs dry needling", "Is IMS the same as dry needling?"),
    "needle_fear": ("Afraid of needles", "I am scared of needles. Can I have IMS?"),
    "children": ("Children and teens", "Can children have IMS?"),
}
HUMAN_BUTTON = {"title": "Talk to the clinic", "payload": "/request_human"}


def likely_topics(
    parse_data: Dict[Text, Any], limit: int = MAX_SUGGESTIONS
) -> List[Text]:
    """The FAQ topics the response selector ranked highest for a message."""
    return [t for t in ranked_topics(parse_data) if t in TOPIC_BUTTONS][:limit]


class ActionFaqFallback(Action):
    """Asks "Did you mean ...?" with up to three topics and a person."""

    def name(self) -> Text:
        return "action_faq_fallback"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        topics = likely_topics(tracker.latest_message or {})
        buttons = [
            {"title": TOPIC_BUTTONS[t][0], "payload": TOPIC_BUTTONS[t][1]}
            for t in topics
        ]
        buttons.append(HUMAN_BUTTON)
        text = (
            "Sorry, I'm not sure I understood. Did you mean one of these?"
            if topics
            else "Sorry, I'm not sure I understood. Could you put it another way?"
        )
        dispatcher.utter_message(text=text, buttons=buttons)
        return []
