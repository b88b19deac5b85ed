"""`precaution` entity: a health matter the clinic must hear about first.

The contraindications topic of the catalogue names them: blood thinners,
pregnancy, a clotting disorder, HIV or hepatitis, and (its note) an implant
such as a pacemaker, or another medicine. A message that names one ("I'm 20
weeks pregnant, can I have IMS?") gets the answer for that one first
(utter_faq/contraindications has a variation per value), instead of the
whole list. Rule-based like the `condition` entity (components/conditions.py):
phrase patterns on normalised text, and one-typo matching for long words
("pregant", "warfrin").
"""

from __future__ import annotations

import re
from typing import Dict, List, Pattern, Sequence, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe

from components.phrase_extractor import PhraseExtractor
from components.text import find_phrases

ENTITY = "precaution"

_BLOOD_THINNERS = (
    "warfarin|coumadin|heparin|enoxaparin|lovenox|apixaban|eliquis|rivaroxaban|"
    "xarelto|dabigatran|pradaxa|edoxaban|clopidogrel|plavix|ticagrelor|brilinta"
)

# Most specific first: a span an earlier pattern took is not matched again
# ("blood thinning medication" is a blood thinner, not any medicine).
PATTERNS: Sequence[Tuple[str, Sequence[str]]] = (
    (
        "blood_thinners",
        (
            r"\bblood ?thin\w*( (medications?|medicines?|meds|pills|drugs?))?",
            r"\banti ?(coagula|thrombotic|platelet)\w*",
            rf"\b({_BLOOD_THINNERS})\b",
            r"\b(baby|daily|low dose) aspirin\b",
        ),
    ),
    (
        "clotting_disorder",
        (
            r"\b(bleeding|clotting|blood) (disorder|problem|condition)s?\b",
            r"\bclotting (issue|trouble)s?\b",
            r"\bha?emophil\w*",
            r"\bvon willebrand\w*",
            r"\blow platelets?\b",
            r"\bthrombocytopeni\w*",
            r"\bbleeds? (easily|a lot)\b",
        ),
    ),
    (
        "pregnancy",
        (
            r"\bpregnan\w*",
            r"\btrimester\b",
            r"\bexpecting (a baby|a child|twins)\b",
            r"\btrying (for a baby|to conceive)\b",
            r"\bivf\b",
        ),
    ),
    ("hiv_hepatitis", (r"\bhiv\b", r"\bhepatitis\w*", r"\bhep ?[abc]\b")),
    (
        "implant",
        (
            r"\bpace ?makers?\b",
            r"\bdefibrillators?\b",
            r"\bimplant\w*",
            r"\b(knee|hip|shoulder|joint|ankle) replacements?\b",
            r"\b(metal|titanium) (plates?|rods?|screws?|pins?|hardware)\b",
            r"\b(spinal cord|nerve) stimulators?\b",
            r"\bstents?\b",
        ),
    ),
    (
        "medication",
        (
            r"\bmedications?\b",
            r"\bmedicines?\b",
            r"\bmeds\b",
            r"\bpills\b",
            r"\bpain ?killers?\b",
            r"\bsteroids?\b",
            r"\bprednisone\b",
            r"\binsulin\b",
            r"\bopioids?\b",
            r"\bantidepressants?\b",
        ),
    ),
)

# Long words caught with one typo (not "medication": "meditation" is one
# letter away).
FUZZY_WORDS: Dict[str, str] = {
    "pregnant": "pregnancy",
    "pregnancy": "pregnancy",
    "warfarin": "blood_thinners",
    "coumadin": "blood_thinners",
    "hemophilia": "clotting_disorder",
    "hepatitis": "hiv_hepatitis",
    "pacemaker": "implant",
}
MIN_FUZZY_LENGTH = 7

_COMPILED: List[Tuple[str, List[Pattern[str]]]] = [
    (value, [re.compile(p) for p in patterns]) for value, patterns in PATTERNS
]


def find_precautions(text: str) -> List[Tuple[str, int, int]]:
    """Returns (value, start, end) per precaution named, in reading order;
    start and end are positions in `text` itself."""
    return find_phrases(text, _COMPILED, FUZZY_WORDS, MIN_FUZZY_LENGTH)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class PrecautionExtractor(PhraseExtractor):
    """Adds a `precaution` entity for each precaution a message names."""

    entity = ENTITY
    find = staticmethod(find_precautions)
