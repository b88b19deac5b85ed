"""The question "Did that answer your question?" and the reply to a "No"
(actions/feedback.py), run with a CollectingDispatcher."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.events import SlotSet

from actions.feedback import ActionAskFeedback, ActionFeedbackUnhelpful
from clinic.faq_topics import TOPICS
from rasa_extensions.action_fallback import LOCAL_ACTIONS
from tests.conftest import make_tracker, user_event


def selector(*topics: str) -> Dict[str, Any]:
    """A response selector result answering topics[0], ranking them all."""
    ranking = [
        {"intent_response_key": f"faq/{t}", "confidence": 0.5 - n / 10}
        for n, t in enumerate(topics)
    ]
    return {
        "faq": {
            "response": {"intent_response_key": f"faq/{topics[0]}", "confidence": 0.5},
            "ranking": ranking,
        }
    }


def faq(text: str, channel: Optional[str], *topics: str) -> Dict[str, Any]:
    event = user_event(text, "faq", response_selector=selector(*topics))
    event["input_channel"] = channel
    return event


def said(event: Dict[str, Any], channel: Optional[str]) -> Dict[str, Any]:
    return {**event, "input_channel": channel}


def action(name: str) -> Dict[str, Any]:
    return {"event": "action", "name": name}


async def ask(dispatcher, events: List[Dict[str, Any]], **kwargs: Any) -> list:
    return await ActionAskFeedback().run(dispatcher, make_tracker(events, **kwargs), {})


@pytest.mark.parametrize(
    "channel, asked",
    [("socketio", True), ("rest", False), ("twilio", False), (None, False)],
)
async def test_the_website_asks_after_every_faq_answer(
    dispatcher, channel, asked
) -> None:
    events = await ask(dispatcher, [faq("how often?", channel, "frequency")])
    assert events == [SlotSet("feedback_asked", asked)]
    expected = [{"response": "utter_ask_feedback"}] if asked else []
    assert [{"response": m["response"]} for m in dispatcher.messages] == expected


async def test_sms_asks_only_after_the_did_you_mean_suggestions(dispatcher) -> None:
    after_suggestions = [
        said(user_event("needle thing??", "nlu_fallback"), "twilio"),
        action("action_faq_fallback"),
        action("action_listen"),
        faq("What kind of needles are used for IMS?", "twilio", "needles"),
    ]
    assert await ask(dispatcher, after_suggestions) == [SlotSet("feedback_asked", True)]
    after_an_answer = [
        faq("does it hurt", "twilio", "does_it_hurt"),
        action("utter_faq"),
        action("action_ask_feedback"),
        action("action_listen"),
        faq("how often?", "twilio", "frequency"),
    ]
    assert await ask(dispatcher, after_an_answer) == [SlotSet("feedback_asked", False)]
    # The suggestions were two messages ago: this answer did not come from them.
    later = [*after_suggestions, action("utter_faq"), *after_an_answer[2:]]
    assert await ask(dispatcher, later) == [SlotSet("feedback_asked", False)]
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_feedback"]


@pytest.mark.parametrize(
    "events, slots, active_loop",
    [
        # A form is open (the FAQ was answered in the middle of it).
        ([faq("does it hurt", "socketio", "does_it_hurt")], {}, {"name": "lead_form"}),
        # The urgent-care advice still stands.
        (
            [faq("does it hurt", "socketio", "does_it_hurt")],
            {"red_flag": "cardiac"},
            {},
        ),
        # The candidate answer ends with a question of its own.
        ([faq("am i a candidate", "socketio", "candidate")], {}, {}),
        # Not an FAQ answer.
        ([said(user_event("hi", "greet"), "socketio")], {}, {}),
    ],
)
async def test_never_asked(dispatcher, events, slots, active_loop) -> None:
    result = await ask(dispatcher, events, slots=slots, active_loop=active_loop)
    assert result == [SlotSet("feedback_asked", False)]
    assert dispatcher.messages == []


async def test_asked_again_once_the_person_is_safe(dispatcher) -> None:
    slots = {"red_flag": "cardiac", "red_flag_safe": True}
    events = [faq("does it hurt", "socketio", "does_it_hurt")]
    assert await ask(dispatcher, events, slots=slots) == [
        SlotSet("feedback_asked", True)
    ]


async def test_no_offers_the_next_likeliest_topics_and_a_person(dispatcher) -> None:
    events = [
        faq("what do I wear", "socketio", "preparation", "aftercare", "procedure"),
        action("utter_faq"),
        action("action_ask_feedback"),
        action("action_listen"),
        said(user_event("/answer_unhelpful", "answer_unhelpful"), "socketio"),
    ]
    result = await ActionFeedbackUnhelpful().run(dispatcher, make_tracker(events), {})
    assert result == []
    [message] = dispatcher.messages
    assert message["response"] == "utter_feedback_unhelpful_topics"
    assert message["buttons"] == [
        {"title": TOPICS["aftercare"][0], "payload": TOPICS["aftercare"][1]},
        {"title": TOPICS["procedure"][0], "payload": TOPICS["procedure"][1]},
        {"title": "Talk to the clinic", "payload": "/request_human"},
    ]


async def test_no_without_an_faq_answer_before_offers_a_rephrase_and_a_person(
    dispatcher,
) -> None:
    events = [
        said(user_event("hi", "greet"), "socketio"),
        action("utter_greet"),
        action("action_listen"),
        said(user_event("that's not what I asked", "answer_unhelpful"), "socketio"),
    ]
    await ActionFeedbackUnhelpful().run(dispatcher, make_tracker(events), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_feedback_unhelpful"
    assert message["buttons"] == [
        {"title": "Talk to the clinic", "payload": "/request_human"}
    ]


def test_both_actions_run_inside_rasa() -> None:
    """They read only the conversation, so an FAQ turn never waits for the
    action server (rasa_extensions/action_fallback.py)."""
    assert "actions.feedback.ActionAskFeedback" in LOCAL_ACTIONS
    assert "actions.feedback.ActionFeedbackUnhelpful" in LOCAL_ACTIONS


@pytest.mark.parametrize(
    "channel, text, buttons",
    [
        ("socketio", "Did that answer your question?", ["Yes", "No"]),
        ("rest", "Did that answer your question?", ["Yes", "No"]),
        # On SMS a number must keep picking one of the answer's own options.
        ("twilio", "Did that answer your question? Reply YES or NO.", []),
    ],
)
async def test_the_question_as_each_channel_gets_it(channel, text, buttons) -> None:
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.trackers import DialogueStateTracker

    from tests.conftest import assistant_domain

    domain = assistant_domain()
    tracker = DialogueStateTracker.from_events("x", [], domain.slots)
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    message = await nlg.generate("utter_ask_feedback", tracker, channel)
    assert message["text"] == text
    assert [b["title"] for b in message.get("buttons") or []] == buttons
