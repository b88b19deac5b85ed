"""The red-flag safety net: phrases from the catalogue's red-flag list."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from components.red_flags import RedFlagDetector, find_red_flag


@pytest.mark.parametrize(
    "text, category",
    [
        ("I have chest pain", "chest_pain"),
        ("my chest feels really tight since the needling", "chest_pain"),
        ("crushing pressure in my chest", "chest_pain"),
        ("I'm short of breath after IMS near my ribs", "breathing"),
        ("i cant breathe properly", "breathing"),
        ("it's hard to breathe since my appointment", "breathing"),
        ("I've lost control of my bladder", "bladder_bowel"),
        ("cant control my bowels since yesterday", "bladder_bowel"),
        ("numbness in my groin and inner thighs", "bladder_bowel"),
        ("my leg suddenly went weak", "stroke_signs"),
        ("half my face is drooping", "stroke_signs"),
        ("I'm slurring my words", "stroke_signs"),
        ("I can't move my arm", "stroke_signs"),
        ("I have a fever and my back is killing me", "fever_back_pain"),
        ("the spot where the needle went in is hot red and oozing", "infection_signs"),
        ("there's pus coming from the treated area", "infection_signs"),
        ("I think the needle spot got infected", "infection_signs"),
        ("I want to kill myself", "self_harm"),
        ("sometimes I think about suicide", "self_harm"),
        ("I don't want to live anymore", "self_harm"),
        ("the bleeding won't stop", "severe_bleeding"),
        # Found by cross-validation on the training data: each slipped past.
        ("feels like my lung collapsed after needling", "breathing"),
        ("breathing is really hard since the needling near my ribs", "breathing"),
        ("my back hurts and I've had a temperature since yesterday", "fever_back_pain"),
        ("red streaks spreading from where I had IMS", "infection_signs"),
        ("infected needle site", "infection_signs"),
        ("everyone would be better off without me", "self_harm"),
        ("I don't see the point of living anymore", "self_harm"),
        ("since this morning I can't feel my private area", "bladder_bowel"),
        ("I'm still bleeding after an hour", "severe_bleeding"),
        # Inside an ordinary FAQ question: the red flag still wins.
        ("how many sessions will I need? also I have chest pain", "chest_pain"),
        (
            "Does IMS help sciatica? I can't control my bladder since Monday",
            "bladder_bowel",
        ),
        # Curly apostrophes and capitals as phones type them.
        ("I CAN\u2019T BREATHE", "breathing"),
        # Worry about a collapsed lung, with a chest or breathing symptom.
        (
            "I'm worried I might have a collapsed lung, my physio needled near my "
            "shoulder blade yesterday and now it hurts to take a deep breath",
            "collapsed_lung",
        ),
        (
            "could this be a pneumothorax? my chest has felt tight since the dry "
            "needling on tuesday",
            "chest_pain",
        ),
        (
            "had IMS on my upper back two days ago. went for a run this morning, "
            "felt fine at first, then halfway my chest felt heavy and now I keep "
            "worrying about a punctured lung",
            "chest_pain",
        ),
        # The words people use: the breastbone, behind the breast, a limb
        # that "went numb", the bottom area, a spot still weeping.
        (
            "since the needle went into my breastbone it has been sore",
            "chest_pain",
        ),
        ("aching behind my left breast since the physio needled", "chest_pain"),
        ("my bottom area has gone numb and cold", "bladder_bowel"),
        ("my arm went completely numb during the treatment", "stroke_signs"),
        ("i'm losing feeling in both legs", "stroke_signs"),
        ("the needle spot on my shin is still weeping", "infection_signs"),
        # Told without "I" or "my", or of someone else.
        ("had ims yesterday, now fever and chills", "needling_infection"),
        ("after needling the redness is spreading up the leg", "needling_infection"),
        (
            "He had IMS yesterday and now has a fever and chills",
            "needling_infection",
        ),
        # After needling: fever or chills, spreading redness, a hard spot.
        (
            "since my session on friday I've had chills and a fever",
            "needling_infection",
        ),
        ("the redness around where they needled me is spreading", "needling_infection"),
        (
            "the treated spot on my calf has gone hard and looks inflamed",
            "needling_infection",
        ),
        (
            "i felt feverish the whole night after my ims appointment",
            "needling_infection",
        ),
        # A limb with no feeling at all, or that stopped working.
        ("I got up this morning and my arm was totally numb", "stroke_signs"),
        ("there's no sensation at all in my left foot", "stroke_signs"),
        ("halfway through dinner my right hand just stopped working", "stroke_signs"),
        # Asking whether to call an ambulance or go to the ER.
        (
            "my leg feels wrong and weak, should I call an ambulance?",
            "urgent_care_asked",
        ),
        ("do I need to go to the ER for this", "urgent_care_asked"),
        # Pain that spreads to the chest; a cough and odd breath sounds.
        ("the ache moved from my shoulder blade into my chest", "chest_pain"),
        (
            "after the needles in my upper back my chest is sore and there is a "
            "crackling when I breathe in",
            "breathing",
        ),
        ("I feel like giving up on my life because of this pain", "self_harm"),
        ("some days I feel like I gave up on life", "self_harm"),
        ("I think I'm having a stroke", "stroke_signs"),
        (
            "my sciatica got worse this week and now I have bladder issues too",
            "bladder_bowel",
        ),
        # A long story, past tense, with the symptom in the middle.
        (
            "So last week I finally tried dry needling for my neck, which was great "
            "at first and the physio was lovely. But since then the spot near my "
            "collarbone went red and hard and it keeps getting bigger, anyway I "
            "was wondering if I should still go to my next session",
            "infection_signs",
        ),
    ],
)
def test_red_flags_are_recognised(text: str, category: str) -> None:
    assert find_red_flag(text) == category


@pytest.mark.parametrize(
    "text",
    [
        "Does IMS hurt?",
        "how often do I need IMS",
        "will I be sore after the treatment",
        "can IMS cause bruising or a bit of bleeding?",
        "is there a risk of excessive bleeding with IMS",
        "I felt a bit light-headed after my session, is that normal?",
        "can IMS help my back pain",
        "I'm on blood thinners, can I have IMS?",
        "what happens at the first appointment",
        "I want to book an assessment",
        "my shoulder has been stiff for months",
        "Is IMS safe during pregnancy?",
        # Idioms and questions about risks are not emergencies.
        # Near misses of the widened rules: work, stretches, carpal tunnel,
        # a past stroke, a risk, an old story, pelvic health, a clear chest.
        "I read it's possible to have a stroke after neck cracking, how would I know?",
        "can you have a stroke from IMS on the neck?",
        "I had a stroke last year, can IMS help my shoulder?",
        "I hurt my back and leg at work and stopped working in March, does"
        " WorkSafeBC cover IMS?",
        "the heat pack on my hand stopped working",
        "I get hip pain when I pull my knee to my chest",
        "my neck hurts when I tuck my chin to my chest",
        "my hand goes completely numb at night, is that carpal tunnel?",
        "my legs are completely dead after the marathon",
        "there is no feeling in my hand since my carpal tunnel surgery years ago",
        "I don't want to give up my life of running because of this knee",
        "After my car accident I had to go to the ER and now I need physio",
        "I had to call an ambulance when my back went out last year",
        "do I need to go to the hospital for IMS or is it done at the clinic?",
        "my back has been sore for years and I've had bladder issues since my"
        " pregnancy",
        "I was wondering if IMS on my back can cause bladder problems",
        "my chest is a bit sore from the stretch but my breathing sounds fine, no"
        " cough",
        "my neck is killing me, can IMS help?",
        "could the needles give me an infection?",
        "what is the risk of infection with dry needling",
        "can IMS cause a collapsed lung?",
        "what's the point of doing IMS if I still need exercises",
        "is there a red mark after the treatment",
        # Questions about a risk, ordinary soreness, pain down a leg.
        "is a collapsed lung a risk with dry needling?",
        "can dry needling near the chest cause a pneumothorax?",
        "what are the chances of a punctured lung from needling my upper back",
        "can you get a fever from IMS?",
        "Can I get a fever from IMS?",
        "Can I have IMS if I have a fever?",
        "Can IMS treat rib cage pain?",
        "Does needling the rib cage hurt?",
        "Is it sore to needle the sternum?",
        "Can IMS help costochondritis? My breastbone is sore",
        "My work is draining me",
        "My sinuses are draining, can I still have IMS?",
        "My arm went numb after sleeping on it",
        "I have tennis elbow and my arm went weak when gripping",
        "My bum area is cold after sitting",
        "how common is infection after dry needling",
        "I'm a bit sore after the needling, is that normal?",
        "my muscles feel hard and tight, will IMS help?",
        "burning pain down my left leg for months, can IMS help?",
        "the day after dry needling my legs ached like after a long hike",
    ],
)
def test_ordinary_questions_are_not_red_flags(text: str) -> None:
    assert find_red_flag(text) is None


def test_detector_overrides_the_classifier() -> None:
    message = Message(
        data={
            "text": "how often should I come? I also have chest pain",
            "intent": {"name": "faq", "confidence": 0.97},
            "intent_ranking": [
                {"name": "faq", "confidence": 0.97},
                {"name": "emergency", "confidence": 0.02},
            ],
        }
    )
    [out] = RedFlagDetector().process([message])
    assert out.get("intent") == {"name": "emergency", "confidence": 1.0}
    ranking = [item["name"] for item in out.get("intent_ranking")]
    assert ranking == ["emergency", "faq"]
    [entity] = out.get("entities")
    assert (entity["entity"], entity["value"]) == ("red_flag", "chest_pain")
    assert message.get("text")[entity["start"] : entity["end"]] == "chest pain"


def test_detector_leaves_other_messages_alone() -> None:
    intent = {"name": "faq", "confidence": 0.97}
    message = Message(data={"text": "does it hurt", "intent": intent})
    [out] = RedFlagDetector().process([message])
    assert out.get("intent") == intent
    assert not out.get("entities")


def test_button_payloads_are_not_scanned() -> None:
    message = Message(data={"text": "/faq", "intent": {"name": "faq"}})
    [out] = RedFlagDetector().process([message])
    assert out.get("intent") == {"name": "faq"}


def _training_examples():
    import yaml

    from tests.conftest import ROOT

    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            for line in block["examples"].splitlines():
                if line.strip().startswith("- "):
                    yield block["intent"], line.strip()[2:].strip()


def test_rules_alone_catch_every_red_flag_in_the_training_data() -> None:
    """The safety net must not rest on the classifier: every emergency
    example we train on is also caught by the rules."""
    missed = [
        t for i, t in _training_examples() if i == "emergency" and not find_red_flag(t)
    ]
    assert missed == []


def test_rules_flag_no_other_training_example() -> None:
    flagged = [
        (i, t) for i, t in _training_examples() if i != "emergency" and find_red_flag(t)
    ]
    assert flagged == []
