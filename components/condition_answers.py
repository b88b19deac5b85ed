"""Which condition's answer a message gets, from the conditions it names,
and which precaution's (pregnancy, blood thinners, ...) from those it names.

Kept free of Rasa imports: the action server (actions/slots.py) uses it to
set the `condition` and `precaution` slots, and the NLU's ConditionExtractor
and PrecautionExtractor name the values.
"""

from __future__ import annotations

from typing import Optional, Sequence

# The conditions the catalogue answers one by one (a variation of
# utter_faq/conditions_treated each). Any other value is "unlisted": its
# answer is the honest general one, never another condition's.
CATALOGUED = frozenset(
    {
        "frozen_shoulder", "rotator_cuff", "tennis_elbow", "sciatica",
        "fibromyalgia", "headache", "osteoarthritis", "pelvic_pain",
        "postural_pain", "neck_pain", "shoulder_pain", "back_pain",
    }
)  # fmt: skip
UNLISTED = "other"
# Named problems the catalogue has no answer for. One of them wins over the
# body region it is in ("a herniated disc in my neck" is not neck pain).
DIAGNOSES = frozenset(
    {
        "rheumatoid_arthritis", "arthritis", "fibroids", "disc", "whiplash",
        "plantar_fasciitis", "carpal_tunnel",
    }
)  # fmt: skip
# When a message names several, the answer carries the one with safety
# advice in it first (sciatica's warns of bladder and bowel signs).
SAFETY_FIRST = ("sciatica",)


def answer_condition(values: Sequence[str]) -> Optional[str]:
    """The condition whose answer a message gets, from the values named in
    it (reading order): a safety-first one, else "other" when a diagnosis
    the catalogue lacks is named, else the first catalogued one, else
    "other" for any unlisted body part, else None."""
    for value in SAFETY_FIRST:
        if value in values:
            return value
    if any(value in DIAGNOSES for value in values):
        return UNLISTED
    for value in values:
        if value in CATALOGUED:
            return value
    return UNLISTED if values else None


# The precautions the contraindications answer has a variation for
# (components/precautions.py names them).
PRECAUTIONS = frozenset(
    {
        "pregnancy", "blood_thinners", "clotting_disorder", "hiv_hepatitis",
        "implant", "medication",
    }
)  # fmt: skip


def answer_precaution(values: Sequence[str]) -> Optional[str]:
    """The precaution whose answer a message gets: the one it names, or None
    (the whole list) when it names none or several. A blood thinner is the
    medicine named, not a second matter."""
    named = {value for value in values if value in PRECAUTIONS}
    if "blood_thinners" in named:
        named.discard("medication")
    return named.pop() if len(named) == 1 else None
