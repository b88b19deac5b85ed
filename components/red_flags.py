"""Red-flag safety net: urgent symptoms force the `emergency` intent.

The classifier learns `emergency` from examples too, but safety must not rest
on it alone. This component runs last in the pipeline and, when any pattern
below matches anywhere in the message (even inside an FAQ question), sets the
intent to `emergency` with confidence 1.0 and adds a `red_flag` entity naming
the category, which the assistant records on the conversation for staff.

The patterns follow the red-flag list of the FAQ catalogue. They err on the
side of caution: "is chest pain normal after IMS?" is treated as urgent too.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Pattern, Sequence, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.text import normalise_with_offsets

EMERGENCY_INTENT = "emergency"
ENTITY = "red_flag"

_CANT = r"(cant|cannot|can not|unable to|couldnt|could not)"
_NEAR = r"[\w ,.'-]{0,40}?"  # a short stretch of the same sentence

RED_FLAGS: Sequence[Tuple[str, Sequence[str]]] = (
    (
        "chest_pain",
        (
            rf"\bchest\b{_NEAR}\b(pain|pains|painful|hurts?|hurting|tight\w*|pressure"
            r"|ache|aches|aching|crush\w*|heav\w*|squeez\w*|burning|sharp)",
            rf"\b(pain|tightness|pressure|crushing|heaviness)\b{_NEAR}\b(in|on|across)"
            r" (my|the) chest\b",
            # Pain that spreads into the chest (not "knee to my chest").
            rf"\b(pain|ache|aching|tightness|pressure)\b{_NEAR}\b(spread\w*|radiat\w*|"
            rf"moved|moving|went|goes|going|shoot\w*|extend\w*)\b{_NEAR}\b(in)?to"
            r" (my|the) chest\b",
            r"\bheart attack\b",
        ),
    ),
    (
        "breathing",
        (
            r"\bshort(ness)? of breath",
            rf"\b{_CANT} (breathe|breath|catch my breath|get (a|my) breath)",
            r"\b(hard|difficult|struggl\w*|trouble|difficulty|painful|hurts) (to )?"
            r"(breathe|breath|breathing)\b",
            r"\bbreathless\w*",
            r"\bbreathing\b.{0,20}\b(hard|difficult|painful|laboured|labored|hurts|"
            r"tough|shallow|struggle)",
            r"\bmy lungs? (has |have |just )?(collapsed|punctured)",
            r"\b(pain|hurts?|sharp|stabbing)\b.{0,30}\b(when|every time|each time|as)"
            r" i (breathe|breath|take a breath)",
            r"\b(feels?|felt) like (a|my) (collapsed|punctured) lung",
            r"\bgasping\b",
            r"\b(collapsed|punctured) lung\b.{0,60}\b(breath|breathing|chest)",
            r"\b(breath|breathing)\b.{0,60}\b(collapsed|punctured) lung\b",
        ),
    ),
    (
        "bladder_bowel",
        (
            r"\b(lost|losing|loss of|lose|no|not in) (control|contol)\b.{0,30}"
            r"\b(bladder|bowels?|pee|urine|poo|stool)",
            r"\b(lost|losing|loss of|lose|no|not controlling|cant control|"
            r"cannot control|not in control of) (my )?(bladder|bowels?)\b",
            r"\b(bladder|bowels?)\b.{0,30}\b(control|incontinen\w*|accident|leak\w*)",
            r"\bincontinen\w*",
            r"\b(havent|have not|hasnt|has not) been able to (pee|urinate|wee)\b",
            rf"\b{_CANT} (pee|urinate|wee|empty my bladder"
            r"|hold (my )?(pee|urine|bowels))",
            r"\b(wet|soiled|peed|pooped) (myself|my pants)\b",
            r"\bnumb\w*\b.{0,40}\b(groin|saddle|inner thighs?|genitals?|private"
            r" parts?|between my legs|bum|buttocks)",
            r"\b(groin|saddle|inner thighs?|genitals?|private parts?|between my legs)"
            r"\b.{0,30}\bnumb\w*",
            # Saddle numbness as people put it: the bottom area gone numb or
            # without feeling.
            r"\b(bottom|bum|backside|buttocks?) (area|region)\b.{0,40}"
            r"\b(numb\w*|no feeling|lost (all )?feeling)",
            r"\b(numb\w*|no feeling|lost feeling)\b.{0,40}\b(bottom|bum|"
            r"backside) (area|region)\b",
            rf"\b{_CANT} feel\b.{{0,25}}\b(groin|saddle|inner thighs?|genitals?|"
            r"private (parts?|area)|between my legs|bum|buttocks)",
        ),
    ),
    (
        "stroke_signs",
        (
            r"\bsudden\w*\b.{0,50}\b(weak\w*|numb\w*|paraly\w*|cant move|cant feel|"
            r"collaps\w*|drooping|droop)",
            r"\b(weak\w*|numb\w*|paraly\w*)\b.{0,30}\bsudden\w*",
            r"\b(face|mouth|lip|eyelid)\b.{0,60}\b(droop\w*|numb\w*|paraly\w*|"
            r"sagging|lopsided)",
            # A limb that "went numb", "went dead", "went limp".
            r"\b(arm|leg|hand|foot|face|side)s?\b.{0,20}\b(went|gone|going|turned)"
            r" (completely|totally|suddenly) (numb|dead|limp|weak)\b",
            r"\b(arm|leg|hand|foot|face|side)s?\b.{0,20}\b(went|gone|going|turned)"
            r" (numb|dead|limp|weak) (out of nowhere|all of a sudden|suddenly)",
            r"\b(los\w*|lost|no) (all |the )?feeling in (my|both|one of my)"
            r" (legs?|arms?)",
            r"\bparaly[sz]\w*",
            rf"\b{_CANT} (move|feel|lift) (my )?(arm|leg|hand|foot|face|side)s?\b",
            r"\b(slurr\w*|garbled) (speech|words|talking)\b",
            r"\b(slurring|slurred)\b",
            r"\b(trouble|difficulty|problems?)"
            r" (speaking|talking|getting (my )?words out)",
            rf"\b{_CANT} (speak|talk|get (my )?words out)\b",
            # A stroke happening or feared now; not a past one ("I had a stroke
            # last year, can IMS help?") nor a risk ("possible to have a stroke").
            r"\b(having|think i had|think ive had|might have had|going to have)"
            r" (a |another )?(mini )?stroke\b",
            # A limb that went completely numb (not "goes numb at night").
            r"\b(arm|leg|hand|foot|face)s?\b.{0,40}\b(went|gone|turned|is|was|became)"
            r" (completely|totally|entirely) (numb|limp)\b"
            r"(?!.{0,30}\b(at night|every night|in the morning|when i sleep)\b)",
            r"\bno (sensation|feeling) (at all|whatsoever) in (my|the|both|one of my)"
            r" (right |left )?(legs?|arms?|foot|feet|hands?|face)\b",
            # "my foot stopped working", not "the heat pack on my hand stopped
            # working" nor "stopped working in March".
            r"(?<!\bon )(?<!\bin )\b(my|his|her) (right |left )?(arm|leg|hand|foot)s?"
            r" (just |suddenly |completely )?(stopped|quit) working\b",
        ),
    ),
    (
        "fever_back_pain",
        (
            r"\b(fever\w*|temperature|chills|shivering)\b.{0,80}\bback\b",
            r"\bback\b.{0,80}"
            r"\b(fever\w*|high temperature|running a temperature|chills)",
            r"\bback\b.{0,80}"
            r"\b(had|have|got|running|with) a (high |bad )?temperature",
            r"\b(had|have|got|running|with) a (high |bad )?temperature\b"
            r".{0,80}\bback\b",
        ),
    ),
    (
        "infection_signs",
        (
            # Signs described as present ("is red", "oozing"), not a question
            # about the risk of infection.
            r"\b(needle\w*|needling|treated|treatment|insertion|puncture|injection|"
            r"where (the|they|she|he)|spot|site|area)\b.{0,60}\b(hot|red|swollen|"
            r"swelling|oozing|ooze|pus|weeping|discharge)\b",
            r"\b(oozing|pus|puss)\b",
            # Fluid that keeps coming from where the needle went in.
            r"\b(still|keeps?|kept|wont stop) (leaking|weeping|oozing)\b",
            r"\b(leaking|weeping|draining) (fluid|clear fluid|blood|liquid)",
            r"\bred (streaks?|lines?)\b",
            r"\binfected (needle|needling|injection|treatment|ims|treated)?\s?"
            r"(site|spot|area|point|wound)",
            r"\b(red|hot|swollen)\b.{0,40}\b(hot|red|swollen|oozing|pus)\b.{0,40}"
            r"\b(needle|needling|treated|ims|spot|site)",
            r"\b(looks?|looking|got|gotten|is|its|getting|became|has become|think)"
            r" (really |very |a bit |kind of )?infected\b",
        ),
    ),
    (
        "self_harm",
        (
            r"\bsuicid\w*",
            r"\bkill(ing)? myself\b",  # not "my back is killing me"
            r"\bend(ing)? (my life|it all|things|myself)\b",
            r"\b(hurt|harm|harming|hurting|cut|cutting) myself\b",
            r"\bself[ -]?harm\w*",
            r"\bwant(ed)? to die\b",
            r"\bwanna die\b",
            r"\bdont want to (live|be alive|be here|wake up)\b",
            r"\bbetter off dead\b",
            r"\b(better off|happier) without me\b",
            r"\b(see |no |any )?point (of|in) (living|life|going on|being alive)\b",
            r"\bno (reason|point) (to|in) (live|living|going on)\b",
            r"\btake my (own )?life\b",
            r"\b(give|giving|gave) up on (my )?life\b",
            r"\bsurrender\w* my life\b",
        ),
    ),
    (
        # Someone asking whether to call an ambulance or 911 is told to, now:
        # the assistant cannot judge that they need not.
        "urgent_care_asked",
        (
            r"\b(should i|shall i|do i|need to|must i|have to|going to)\b.{0,15}"
            r"\b(call|phone|ring|get|go to|head to)\b.{0,15}\b(an ambulance|911|"
            r"the er|an er|the emergency( room| department)?|a and e)\b",
        ),
    ),
    (
        "severe_bleeding",
        (
            r"\b(bleed\w*|blood)\b.{0,60}\b(wont|will not|doesnt|does not|not|cant|"
            r"cannot|wouldnt|isnt|hasnt|never) (stop\w*|slow\w*)",
            r"\b(stop|control)\w* (the )?(bleed\w*|blood)\b.{0,20}\b(cant|cannot|"
            r"wont|unable)",
            rf"\b{_CANT} (stop|control) (the |my )?(bleed\w*|blood)",
            r"\b(still|keeps?|kept|wont stop|non ?stop) bleed\w*",
            r"\bbleed\w* (heavily|a lot|badly|profusely|everywhere|nonstop|non stop)",
            r"\b(heavy|severe|profuse|uncontroll\w*|gushing|lots of|so much)"
            r" (bleeding|blood)\b"
            r"(?!.{0,30}\b(risk|chance|side effect|possible|common)\b)",
            r"\bblood (everywhere|all over|pouring|gushing|soaking)",
            r"\b(bleed\w*|blood)\b.{0,30}\bsoak\w* (through|into)\b",
        ),
    ),
)

# Red flags that take two things said anywhere in the message: a context
# and a symptom, in either order and however long the story between them.
# Both must be present, so a question about a risk ("can dry needling
# collapse a lung?", "can you get a fever from IMS?") is not one.
# Needling mentioned anywhere: in a long story the symptom may come many
# sentences after it ("last week I tried dry needling ... since then ...").
_AFTER_NEEDLING = (
    r"\b(needl\w*|ims|treatment|treated|session|appointment|acupuncture|physio)\b"
)
_LUNG = (
    r"\b((collapsed|collapsing|punctured|deflated) lung|lungs? (collapse\w*|"
    r"puncture\w*)|pneumothorax|pneumo)\b"
)
_FEELS = (
    r"(hurts?|hurting|pain\w*|tight\w*|short|hard|difficult|sore|ache\w*|aching|"
    r"weird|funny|strange|heavy|pressure|sharp|struggl\w*|trouble|cant|shallow)"
)
# Where the lung lies under a needle: the breastbone, behind the breast, the
# rib cage.
_CHEST_WALL = r"(sternum|breast ?bone|behind (my|the) (right |left )?breast|rib ?cage)"
_SORE = r"(pain\w*|sore\w*|hurts?|hurting|ach\w*|tight\w*)"
COMPOUND_FLAGS: Sequence[Tuple[str, Sequence[Tuple[str, str]]]] = (
    (
        # Pain where the lung lies, after needling there.
        "chest_pain",
        (
            (_AFTER_NEEDLING, rf"\b{_CHEST_WALL}\b.{{0,80}}\b{_SORE}\b"),
            (_AFTER_NEEDLING, rf"\b{_SORE}\b.{{0,40}}\b{_CHEST_WALL}\b"),
        ),
    ),
    (
        # Worry about a collapsed lung with chest or breathing symptoms.
        "collapsed_lung",
        (
            (
                _LUNG,
                rf"\b(chest|breath\w*|breathing|inhal\w*|lungs?)\b.{{0,40}}\b{_FEELS}",
            ),
            (_LUNG, rf"\b{_FEELS}\b.{{0,40}}\b(chest|breath\w*|breathing|inhal\w*)"),
        ),
    ),
    (
        # Bladder or bowel trouble told beside leg trouble or sciatica: how the
        # warning signs of a squeezed nerve bundle (cauda equina) are told.
        "bladder_bowel",
        (
            (
                r"\b(sciatica|legs? (pain|weak\w*|numb\w*)|weak\w* (in )?(my )?legs?|"
                r"numb\w* (in )?(my )?legs?)\b",
                r"\b(bladder|bowels?)( \w+)? (problems?|issues?|trouble|changes?|"
                r"symptoms?)\b",
            ),
        ),
    ),
    (
        # Pain in the chest with breathing that sounds wrong or a cough: how a
        # collapsed lung after needling is told without naming it.
        "breathing",
        (
            (
                rf"\bchest\b.{{0,80}}\b{_SORE}\b|\b{_SORE}\b.{{0,80}}\bchest\b",
                r"\b(strange|weird|odd|abnormal|funny|new) (sounds?|noises?)\b|"
                r"\b(crackl\w*|wheez\w*|rattl\w*|gurgl\w*)\b|"
                r"(?<!\bno )(?<!\bnot )(?<!\bwithout )\bcough\w*",
            ),
        ),
    ),
    (
        # After needling: fever or chills, spreading redness, a spot turned
        # hard and inflamed.
        "needling_infection",
        (
            (
                _AFTER_NEEDLING,
                r"\b(fever\w*|chills|chilled|shivers|shivering|feverish|"
                r"(a|high|slight|low) (temp|temperature))\b",
            ),
            (
                _AFTER_NEEDLING,
                r"\bred\w*\b.{0,80}\b(spread\w*|growing|bigger|expanding|worse)|"
                r"\bspread\w* red",
            ),
            (
                _AFTER_NEEDLING,
                r"\b(hard|firm|lump\w*)\b.{0,50}\b(inflam\w*|red|hot|swollen|angry)|"
                r"\binflam\w*\b.{0,50}\b(hard|firm|lump\w*)",
            ),
        ),
    ),
)
# A question about a risk ("can I get a fever from IMS?", "does needling the
# rib cage hurt?") is not a symptom, unless it also tells of one happening
# ("could this be a pneumothorax? my chest has been tight since ...").
_QUESTION = re.compile(
    r"^(can|could|will|would|might|may|is|are|do|does|what|how|should|which)\b"
)
_HAPPENING = re.compile(
    r"\b(now|since|yesterday|today|this morning|last night|ive had|ive got|"
    r"i have had|im having|started|developed|keeps?|still)\b"
)

_COMPILED: List[Tuple[str, List[Pattern[str]]]] = [
    (category, [re.compile(p) for p in patterns]) for category, patterns in RED_FLAGS
]
_COMPOUND: List[Tuple[str, List[Tuple[Pattern[str], Pattern[str]]]]] = [
    (category, [(re.compile(a), re.compile(b)) for a, b in pairs])
    for category, pairs in COMPOUND_FLAGS
]


def _compound(norm: str) -> Optional[Tuple[str, int, int]]:
    """(category, start, end) in `norm` of the first two-part red flag."""
    if _QUESTION.match(norm) and not _HAPPENING.search(norm):
        return None
    for category, pairs in _COMPOUND:
        for context, symptom in pairs:
            found = symptom.search(norm)
            if found and context.search(norm):
                return category, found.start(), found.end()
    return None


def match_red_flag(text: str) -> Optional[Tuple[str, int, int]]:
    """(category, start, end) of the first red flag in `text`, or None;
    start and end are positions in `text` itself."""
    norm, offsets = normalise_with_offsets(text)
    hit = None
    for category, patterns in _COMPILED:
        for pattern in patterns:
            found = pattern.search(norm)
            if found and found.end() > found.start():
                hit = category, found.start(), found.end()
                break
        if hit:
            break
    hit = hit or _compound(norm)
    if hit is None:
        return None
    category, start, end = hit
    return category, offsets[start], offsets[end - 1] + 1


def find_red_flag(text: str) -> Optional[str]:
    """The first red-flag category the text matches, or None."""
    found = match_red_flag(text)
    return found[0] if found else None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class RedFlagDetector(GraphComponent):
    """Forces `emergency` when a message mentions a red-flag symptom."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RedFlagDetector:
        """Creates the component (it has nothing to train or load)."""
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data is left as it is: the patterns are not learned."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Overrides the intent of every message that carries a red flag."""
        for message in messages:
            text = message.get(TEXT) or ""
            if text.startswith("/"):
                continue  # a button payload, not something the person wrote
            found = match_red_flag(text)
            if found is None:
                continue
            category, start, end = found
            top = {INTENT_NAME_KEY: EMERGENCY_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            ranking = [top] + [
                item
                for item in message.get(INTENT_RANKING_KEY, [])
                if item.get(INTENT_NAME_KEY) != EMERGENCY_INTENT
            ]
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            entities = list(message.get(ENTITIES, []))
            entities.append(
                {
                    "entity": ENTITY,
                    "value": category,
                    "start": start,
                    "end": end,
                    "confidence_entity": 1.0,
                    "extractor": self.__class__.__name__,
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
