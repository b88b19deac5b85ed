"""`condition` entity: which condition or body part a message is about.

Rule-based (no model to download): phrase patterns per condition, checked on
normalised text, plus one-typo matching for long single words ("sciatia",
"fibromyalga"). Values are canonical ids such as `tennis_elbow`; the FAQ
answer for `faq/conditions_treated` has a variation per id, and any other
body part (`knee`, `hip`, ...) gets the general answer.
"""

from __future__ import annotations

import re
from typing import Dict, List, Pattern, Sequence, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe

from components.phrase_extractor import PhraseExtractor
from components.text import find_phrases

ENTITY = "condition"

# Most specific first: a span taken by an earlier pattern is not matched again
# ("frozen shoulder" wins over "shoulder").
PATTERNS: Sequence[Tuple[str, Sequence[str]]] = (
    ("frozen_shoulder", (r"frozen sh\w*", r"adhesive capsulitis")),
    ("rotator_cuff", (r"rotat[eo]r ?cuff", r"\brotator\b")),
    ("tennis_elbow", (r"tennis elbow", r"(lateral )?epicondyl\w*")),
    ("sciatica", (r"\bsciat\w*", r"\bsiatic\w*")),
    # "fibro" is how people shorten it; "fibroids" is another problem.
    ("fibromyalgia", (r"\bfibromy\w*", r"\bfibro\b")),
    ("headache", (r"\bhead ?aches?\b", r"\bmigr\w*ne?s?\b")),
    # Only osteoarthritis has an answer of its own; rheumatoid and other
    # arthritis are named apart so they never get its cartilage answer.
    (
        "osteoarthritis",
        (r"\bosteo ?arthrit\w*", r"\bdegenerative joint", r"\bwear and tear arthrit"),
    ),
    ("rheumatoid_arthritis", (r"\brheumatoid\b",)),
    ("arthritis", (r"\barthrit\w*",)),
    ("fibroids", (r"\bfibroids?\b",)),
    ("pelvic_pain", (r"\bpelvi\w*",)),
    ("postural_pain", (r"\bpostur\w*", r"\bhunched\b", r"\bslouch\w*")),
    ("whiplash", (r"\bwhiplash\b",)),
    (
        "disc",
        (
            r"\b(herniat\w*|bulg\w*|slipped|ruptured|prolapsed)( a)? dis[ck]s?\b",
            r"\bdis[ck] (herniation|bulge|prolapse)",
        ),
    ),
    ("neck_pain", (r"\bneck\b", r"\bcervical\b")),
    ("shoulder_pain", (r"\bshoulders?\b",)),
    (
        "back_pain",
        (
            r"\b(lower|low|upper|mid|middle|my|bad|sore|stiff|sprained) back\b",
            r"\bback ?(pain|aches?|problems?|issues?|spasms?|injury|trouble)\b",
            r"\b(lumbar|lumbago|thoracic)\b",
        ),
    ),
    ("plantar_fasciitis", (r"\bplantar\b", r"\bfasciitis\b")),
    ("carpal_tunnel", (r"\bcarpal\b",)),
    ("jaw", (r"\bjaw\b", r"\btmj\b")),
    ("knee", (r"\bknees?\b",)),
    ("hip", (r"\bhips?\b",)),
    ("elbow", (r"\belbows?\b",)),
    ("ankle", (r"\bankles?\b", r"\bachilles\b")),
    ("foot", (r"\bfoot\b", r"\bfeet\b", r"\bheels?\b")),
    ("wrist", (r"\bwrists?\b",)),
    ("hamstring", (r"\bhamstrings?\b",)),
)

# Single words caught with one typo (only long words: short ones collide).
FUZZY_WORDS: Dict[str, str] = {
    "sciatica": "sciatica",
    "fibromyalgia": "fibromyalgia",
    "migraine": "headache",
    "migraines": "headache",
    "headache": "headache",
    "headaches": "headache",
    "osteoarthritis": "osteoarthritis",
    "shoulder": "shoulder_pain",
    "epicondylitis": "tennis_elbow",
    "whiplash": "whiplash",
}
MIN_FUZZY_LENGTH = 6

_COMPILED: List[Tuple[str, List[Pattern[str]]]] = [
    (value, [re.compile(p) for p in patterns]) for value, patterns in PATTERNS
]


def find_conditions(text: str) -> List[Tuple[str, int, int]]:
    """Returns (value, start, end) per condition named, in reading order;
    start and end are positions in `text` itself."""
    return find_phrases(text, _COMPILED, FUZZY_WORDS, MIN_FUZZY_LENGTH)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class ConditionExtractor(PhraseExtractor):
    """Adds a `condition` entity for each condition or body part mentioned."""

    entity = ENTITY
    find = staticmethod(find_conditions)
