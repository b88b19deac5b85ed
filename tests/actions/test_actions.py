"""Custom actions, run with a CollectingDispatcher."""

from __future__ import annotations

import pytest
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet

from actions.fallback import ActionFaqFallback
from actions.safety import ActionFlagRedFlag
from actions.session import ActionSessionStart
from actions.slots import ValidateSlotMappings
from clinic.profile import load_profile
from tests.conftest import ROOT, make_tracker, user_event


def selector(*topics: str) -> dict:
    ranking = [{"intent_response_key": f"faq/{t}", "confidence": 0.3} for t in topics]
    return {
        "faq": {
            "response": {"intent_response_key": f"faq/{topics[0]}", "confidence": 0.3},
            "ranking": ranking,
        }
    }


async def test_session_start_loads_the_clinic_profile(dispatcher) -> None:
    events = await ActionSessionStart().run(dispatcher, make_tracker([]), {})
    profile = load_profile()
    assert events[0] == SessionStarted()
    assert SlotSet("clinic_phone", profile.phone) in events
    assert SlotSet("clinic_name", profile.name) in events
    assert events[-1] == ActionExecuted("action_listen")


@pytest.mark.parametrize(
    "entities, expected",
    [
        ([{"entity": "condition", "value": "sciatica"}], "sciatica"),
        ([], None),
        ([{"entity": "red_flag", "value": "chest_pain"}], None),
    ],
)
async def test_condition_slot_follows_the_latest_message(
    dispatcher, entities, expected
) -> None:
    tracker = make_tracker(
        [user_event("x", "faq", entities)], slots={"condition": "back_pain"}
    )
    action = ValidateSlotMappings()
    result = await action.extract_condition(dispatcher, tracker, {})
    assert result == {"condition": expected}


@pytest.mark.parametrize(
    "entities, before, expected",
    [
        ([{"entity": "precaution", "value": "pregnancy"}], None, "pregnancy"),
        # Several named: none is chosen (the whole list answers them all).
        (
            [
                {"entity": "precaution", "value": "pregnancy"},
                {"entity": "precaution", "value": "blood_thinners"},
            ],
            "pregnancy",
            None,
        ),
        # An earlier message's precaution does not colour this one.
        ([], "pregnancy", None),
        ([{"entity": "condition", "value": "sciatica"}], "implant", None),
    ],
)
async def test_precaution_slot_follows_the_latest_message(
    dispatcher, entities, before, expected
) -> None:
    tracker = make_tracker(
        [user_event("x", "faq", entities)], slots={"precaution": before}
    )
    result = await ValidateSlotMappings().extract_precaution(dispatcher, tracker, {})
    assert result == {"precaution": expected}


async def test_an_empty_precaution_slot_is_not_set_again(dispatcher) -> None:
    tracker = make_tracker([user_event("what is ims", "faq")])
    assert (
        await ValidateSlotMappings().extract_precaution(dispatcher, tracker, {}) == {}
    )


@pytest.mark.parametrize(
    "intent, topic, expected",
    [
        ("faq", "candidate", "candidate"),
        ("faq", "frequency", None),
    ],
)
async def test_faq_topic_slot(dispatcher, intent, topic, expected) -> None:
    tracker = make_tracker([user_event("x", intent, response_selector=selector(topic))])
    result = await ValidateSlotMappings().extract_faq_topic(dispatcher, tracker, {})
    assert result == {"faq_topic": expected}


@pytest.mark.parametrize(
    "text, intent, slots, expected",
    [
        ("I went to the ER, I'm ok now", "affirm", {"red_flag": "cardiac"}, True),
        ("I've been seen by a doctor", "out_of_scope", {"red_flag": "cardiac"}, True),
        ("all sorted", "report_safe", {"red_flag": "cardiac"}, True),
        ("I'm fine", "greet", {}, None),  # no red flag: nothing to end
        ("what do I do", "out_of_scope", {"red_flag": "cardiac"}, None),
        ("I'm ok but my chest hurts again", "emergency", {"red_flag": "cardiac"}, None),
    ],
)
async def test_saying_you_are_safe_ends_the_urgent_reminder(
    dispatcher, text, intent, slots, expected
) -> None:
    tracker = make_tracker([user_event(text, intent)], slots=slots)
    found = await ValidateSlotMappings().extract_red_flag_safe(dispatcher, tracker, {})
    assert found == ({"red_flag_safe": True} if expected else {})


async def test_faq_topic_is_kept_for_the_reply_to_an_faq(dispatcher) -> None:
    events = [
        user_event("am i a candidate", "faq", response_selector=selector("candidate")),
        user_event("yes", "affirm"),
    ]
    tracker = make_tracker(events, slots={"faq_topic": "candidate"})
    assert await ValidateSlotMappings().extract_faq_topic(dispatcher, tracker, {}) == {}


@pytest.fixture(scope="module")
def domain_dict() -> dict:
    from rasa.shared.core.domain import Domain

    return Domain.load("domain.yml").as_dict()


@pytest.mark.parametrize(
    "entities, intent, topic, expected",
    [
        ([{"entity": "condition", "value": "sciatica"}], "faq", "candidate",
         {"condition": "sciatica", "faq_topic": "candidate"}),
        ([], "faq", "frequency", {"condition": None, "faq_topic": None}),
        ([{"entity": "precaution", "value": "pregnancy"}], "faq", "contraindications",
         {"condition": None, "precaution": "pregnancy", "faq_topic": None}),
        ([{"entity": "red_flag", "value": "chest_pain"}], "emergency", "what_is_ims",
         {"condition": None, "red_flag": "chest_pain"}),
    ],
)  # fmt: skip
async def test_every_slot_set_on_a_turn_is_validated_without_a_warning(
    dispatcher, domain_dict, caplog, entities, intent, topic, expected
) -> None:
    """As the action server runs it: extraction, then validation. rasa_sdk
    warns "Skipping validation" for a slot without a validate_ method; that
    warning was logged on every turn."""
    user = user_event("x", intent, entities, response_selector=selector(topic))
    events = [user]
    if any(e["entity"] == "red_flag" for e in entities):  # Rasa's from_entity
        events.append({"event": "slot", "name": "red_flag", "value": "chest_pain"})
    tracker = make_tracker(events, slots=load_profile().slots())
    with caplog.at_level("WARNING"):
        result = await ValidateSlotMappings().run(dispatcher, tracker, domain_dict)
    assert {e["name"]: e["value"] for e in result} == expected
    assert not [r for r in caplog.records if "Skipping validation" in r.getMessage()]


@pytest.mark.parametrize(
    "slot, value, expected",
    [
        ("condition", "frozen_shoulder", "frozen_shoulder"),
        ("condition", "<script>", None),
        ("condition", 42, None),
        ("precaution", "blood_thinners", "blood_thinners"),
        ("precaution", "<b>", None),
        ("faq_topic", "cost_coverage", "cost_coverage"),
        ("faq_topic", "needles", None),
        ("red_flag", "cauda_equina", "cauda_equina"),
        ("red_flag", "Not A Category", "unspecified"),  # never dropped
        ("red_flag", None, None),
    ],
)
async def test_slot_validators(dispatcher, slot, value, expected) -> None:
    validate = getattr(ValidateSlotMappings(), f"validate_{slot}")
    assert validate(value, dispatcher, make_tracker([]), {}) == {slot: expected}


@pytest.mark.parametrize(
    "entities, slot, expected",
    [
        ([{"entity": "red_flag", "value": "self_harm"}], None, "self_harm"),
        ([], "chest_pain", "chest_pain"),
        ([], None, "unspecified"),
    ],
)
async def test_red_flag_marks_the_conversation(
    dispatcher, entities, slot, expected
) -> None:
    tracker = make_tracker(
        [user_event("help", "emergency", entities)], slots={"red_flag": slot}
    )
    events = await ActionFlagRedFlag().run(dispatcher, tracker, {})
    assert events == [SlotSet("red_flag", expected)]


def fallback_events() -> list:
    return [
        user_event("what is ims", "faq"),
        user_event(
            "blah",
            "nlu_fallback",
            response_selector=selector("frequency", "number_of_sessions", "needles"),
        ),
    ]


async def test_first_miss_offers_the_likeliest_topics(dispatcher) -> None:
    await ActionFaqFallback().run(dispatcher, make_tracker(fallback_events()), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_fallback_suggest"
    payloads = [b["payload"] for b in message["buttons"]]
    assert payloads == [
        "How often do I need IMS?",
        "How many IMS sessions will I need?",
        "What kind of needles are used for IMS?",
        "/request_human",
    ]


async def test_an_edited_profile_reaches_a_conversation_already_going(
    dispatcher, domain_dict, tmp_path, monkeypatch
) -> None:
    """Only the changed details are set again, on the next turn."""
    before = load_profile().slots()
    text = (ROOT / "clinic_profile.yml").read_text(encoding="utf-8")
    edited = tmp_path / "profile.yml"
    edited.write_text(
        text.replace('parking: "', 'parking: "now underground, P1; '),
        encoding="utf-8",
    )
    monkeypatch.setenv("CLINIC_PROFILE", str(edited))
    tracker = make_tracker([user_event("x", "faq")], slots=before)
    result = await ValidateSlotMappings().run(dispatcher, tracker, domain_dict)
    changed = {e["name"]: e["value"] for e in result if e["name"].startswith("clinic")}
    assert list(changed) == ["clinic_parking"]
    assert changed["clinic_parking"].startswith("now underground, P1; ")


async def test_a_half_written_profile_keeps_the_turns_own_checks(
    dispatcher, domain_dict, tmp_path, monkeypatch
) -> None:
    broken = tmp_path / "profile.yml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    monkeypatch.setenv("CLINIC_PROFILE", str(broken))
    entities = [{"entity": "condition", "value": "sciatica"}]
    tracker = make_tracker([user_event("x", "faq", entities)], slots={"a": 1})
    result = await ValidateSlotMappings().run(dispatcher, tracker, domain_dict)
    assert {e["name"]: e["value"] for e in result} == {
        "condition": "sciatica",
        "faq_topic": None,
    }


def test_the_action_server_registers_exactly_the_domains_custom_actions(domain):
    """rasa-sdk registers every Action subclass it finds, abstract-looking
    helpers included (one once became an action named `action_ask_`)."""
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    custom = {name for name in domain["actions"] if not name.startswith("utter_")}
    assert set(executor.actions) == custom
