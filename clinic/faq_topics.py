"""The FAQ topics in words: a short name for each `faq/<topic>` and the
question that asks it.

The "Did you mean ...?" buttons (actions/fallback.py) show the name and send
the question; the staff app shows the name wherever a topic appears, so
staff read "Conditions IMS treats", never `faq/conditions_treated`.
"""

from __future__ import annotations

from typing import Dict, Tuple

# Name and question, per FAQ topic (every topic of data/responses/faq.yml).
TOPICS: Dict[str, Tuple[str, str]] = {
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
