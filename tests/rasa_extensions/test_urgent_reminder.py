"""After a red flag, each turn's first reply opens with the urgent advice
(rasa_extensions/urgent_reminder.py) until the person says they are safe."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.events import BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_extensions.urgent_reminder import (
    URGENT,
    UrgentReminderNLG,
    install_on,
    reminder_due,
)
from tests.conftest import assistant_domain

PROFILE_SLOTS = {"clinic_emergency_number": "911", "clinic_crisis_line": "988"}


@pytest.fixture(scope="module")
def domain() -> Any:
    return assistant_domain()


def tracker(domain: Any, *events: Event, slots: Optional[Dict[str, Any]] = None):
    found = DialogueStateTracker.from_events("urgent", list(events), domain.slots)
    for name, value in {**PROFILE_SLOTS, **(slots or {})}.items():
        found.update(SlotSet(name, value))
    return found


def turn(text: str) -> List[Event]:
    return [UserUttered(text, {"name": "faq", "confidence": 0.9})]


def test_due_on_each_first_reply_after_a_red_flag_until_safe(domain):
    red = {"red_flag": "cardiac"}
    assert not reminder_due(tracker(domain, *turn("hi")), "utter_greet")
    later = tracker(domain, *turn("should I still book?"), slots=red)
    assert reminder_due(later, "utter_faq")
    said = tracker(domain, *turn("and then?"), BotUttered("x"), slots=red)
    assert not reminder_due(said, "utter_faq")  # once a turn
    assert not reminder_due(later, "utter_emergency")
    assert not reminder_due(later, "utter_lead_after_urgent_care")
    safe = tracker(domain, *turn("I'm ok now"), slots={**red, "red_flag_safe": True})
    assert not reminder_due(safe, "utter_faq")


async def test_the_reminder_comes_before_the_answer(domain):
    nlg = UrgentReminderNLG(domain.responses)
    later = tracker(domain, *turn("what do I do"), slots={"red_flag": "cardiac"})
    message = await nlg.generate("utter_out_of_scope", later, "rest")
    reminder, _, answer = message["text"].partition("\n\n")
    assert reminder.startswith("If you haven't yet, please call 911")
    assert answer.startswith("Sorry, I can only help")
    crisis = tracker(domain, *turn("ok"), slots={"red_flag": "self_harm"})
    message = await nlg.generate("utter_out_of_scope", crisis, "rest")
    assert "call or text 988" in message["text"].split("\n\n")[0]
    calm = tracker(domain, *turn("what do I do"))
    message = await nlg.generate("utter_out_of_scope", calm, "rest")
    assert message["text"].startswith("Sorry, I can only help")


def test_installed_once_on_rasa_s_own_generator_only(domain):
    agent = SimpleNamespace(
        nlg=TemplatedNaturalLanguageGenerator(domain.responses),
        processor=SimpleNamespace(nlg=None),
    )
    install_on(agent)
    assert isinstance(agent.nlg, UrgentReminderNLG)
    assert agent.processor.nlg is agent.nlg
    first = agent.nlg
    install_on(agent)
    assert agent.nlg is first
    other = SimpleNamespace(nlg=object(), processor=None)
    install_on(other)
    assert not isinstance(other.nlg, UrgentReminderNLG)


def test_the_urgent_replies_are_the_ones_marked_urgent_in_the_domain(domain):
    marked = {
        name
        for name, variations in domain.responses.items()
        if any((v.get("metadata") or {}).get("urgent") for v in variations)
    }
    assert marked == URGENT
    for name in URGENT:  # every variation, whatever the condition
        assert all(v["metadata"] == {"urgent": True} for v in domain.responses[name])


async def test_the_reply_says_how_many_paragraphs_are_the_reminder(domain):
    nlg = UrgentReminderNLG(domain.responses)
    later = tracker(domain, *turn("what do I do"), slots={"red_flag": "cardiac"})
    message = await nlg.generate("utter_out_of_scope", later, "socketio")
    assert message["metadata"] == {"urgent_parts": 1}
    urgent = await nlg.generate("utter_emergency", later, "socketio")
    assert urgent["metadata"] == {"urgent": True}
    calm = tracker(domain, *turn("what do I do"))
    assert not (await nlg.generate("utter_out_of_scope", calm, "socketio")).get(
        "metadata"
    )
