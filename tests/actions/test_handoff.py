"""Live handoff's actions (actions/handoff.py): wait for the front desk only
in chat hours with someone available, else say why; the timeout expires
the request unless it was taken; the call-back form follows either way."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rasa_sdk.events import ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import handoff as actions
from actions.leads import ActionStartLead, ValidateLeadForm
from db import handoff
from db.engine import session_factory
from db.models import OutboxMessage
from db.staff_models import HandoffChat
from tests.conftest import ROOT, make_tracker, read_yaml, user_event
from tests.db.test_handoff import add_staff

SENDER = "tel:+16045550100"
# Thursday 10:00 in Vancouver (the sample profile: Mon-Fri 08:00-18:00).
OPEN = datetime(2026, 12, 3, 18, 0, tzinfo=timezone.utc)
CLOSED = datetime(2026, 12, 6, 18, 0, tzinfo=timezone.utc)  # a Sunday


@pytest.fixture
def at(monkeypatch):
    """Sets the actions' clock."""

    def set_clock(when: datetime) -> None:
        monkeypatch.setattr(actions, "now", lambda: when)

    return set_clock


def request_tracker(intent: str = "request_human"):
    event = {**user_event("/request_human", intent), "input_channel": "twilio"}
    return make_tracker([event], sender_id=SENDER)


def responses(dispatcher):
    return [m["response"] for m in dispatcher.messages]


def chats(url):
    with session_factory(url)() as session:
        return session.scalars(select(HandoffChat)).all()


def outbox(url):
    with session_factory(url)() as session:
        return session.scalars(select(OutboxMessage)).all()


async def test_someone_available_in_hours_means_waiting_with_a_reminder(
    use_database, dispatcher, at
):
    add_staff(use_database, "ana", at=OPEN)
    at(OPEN)
    events = await actions.ActionRequestHandoff().run(dispatcher, request_tracker(), {})
    assert responses(dispatcher) == ["utter_handoff_waiting"]
    assert events[0] == SlotSet("handoff", "waiting")
    reminder = events[1]
    assert reminder["event"] == "reminder" and reminder["name"] == "handoff_timeout"
    assert reminder["intent"] == "EXTERNAL_handoff_timeout"
    expected = ReminderScheduled(
        "EXTERNAL_handoff_timeout", OPEN + timedelta(minutes=3)
    )["date_time"]
    assert reminder["date_time"] == expected
    [chat] = chats(use_database)
    assert (chat.sender_id, chat.channel, chat.status) == (SENDER, "twilio", "waiting")
    assert outbox(use_database) == []


async def test_outside_chat_hours_the_honest_answer(use_database, dispatcher, at):
    add_staff(use_database, "ana", at=OPEN)
    at(CLOSED)
    events = await actions.ActionRequestHandoff().run(dispatcher, request_tracker(), {})
    assert responses(dispatcher) == ["utter_handoff_closed"]
    assert events == [SlotSet("handoff", "unavailable")]
    assert chats(use_database) == [] and outbox(use_database) == []


async def test_signed_in_but_not_available_is_nobody_and_no_email(
    use_database, dispatcher, at
):
    add_staff(use_database, "ana", available=False, at=OPEN)
    at(OPEN)
    events = await actions.ActionRequestHandoff().run(dispatcher, request_tracker(), {})
    assert responses(dispatcher) == ["utter_handoff_nobody"]
    assert events == [SlotSet("handoff", "unavailable")]
    assert chats(use_database) == [] and outbox(use_database) == []


async def test_nobody_signed_in_emails_only_that_a_request_is_waiting(
    use_database, dispatcher, at
):
    at(OPEN)
    tracker = request_tracker()
    tracker.latest_message["text"] = "my sciatica is worse, Ana Souza 604 555 0142"
    await actions.ActionRequestHandoff().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_handoff_nobody"]
    [notice] = outbox(use_database)
    assert "chat request is waiting" in notice.body
    assert notice.body.endswith("/staff/chats\n")
    for private in ("sciatica", "Ana", "604", "0100", SENDER):
        assert private not in notice.subject + notice.body


async def test_a_database_failure_is_nobody_not_an_error(
    monkeypatch, dispatcher, at, tmp_path
):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing/x.db")
    at(OPEN)
    events = await actions.ActionRequestHandoff().run(dispatcher, request_tracker(), {})
    assert events == [SlotSet("handoff", "unavailable")]


async def waiting_chat(url, at):
    add_staff(url, "ana", at=OPEN)
    at(OPEN)
    await actions.ActionRequestHandoff().run(
        CollectingDispatcher(), request_tracker(), {}
    )
    [chat] = chats(url)
    return chat.id


async def test_the_wait_runs_out_the_person_is_told(use_database, dispatcher, at):
    await waiting_chat(use_database, at)
    at(OPEN + timedelta(minutes=3))
    tracker = request_tracker("EXTERNAL_handoff_timeout")
    events = await actions.ActionHandoffTimeout().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_handoff_timeout"]
    assert events == [SlotSet("handoff", "unavailable")]
    assert [c.status for c in chats(use_database)] == ["expired"]


async def test_a_chat_taken_before_the_timeout_stays_held(use_database, dispatcher, at):
    chat_id = await waiting_chat(use_database, at)
    with session_factory(use_database)() as session:
        [ana] = handoff.signed_in_and_available(session, timedelta(hours=1), OPEN)
        assert handoff.take(session, chat_id, ana)
    at(OPEN + timedelta(minutes=3))
    tracker = request_tracker("EXTERNAL_handoff_timeout")
    events = await actions.ActionHandoffTimeout().run(dispatcher, tracker, {})
    assert dispatcher.messages == [] and events == [SlotSet("handoff", "held")]


async def test_an_early_timeout_keeps_waiting(use_database, dispatcher, at):
    await waiting_chat(use_database, at)
    at(OPEN + timedelta(minutes=1))
    tracker = request_tracker("EXTERNAL_handoff_timeout")
    events = await actions.ActionHandoffTimeout().run(dispatcher, tracker, {})
    assert dispatcher.messages == [] and events == [SlotSet("handoff", "waiting")]


async def test_after_the_timeout_the_form_is_a_call_back(dispatcher):
    tracker = request_tracker("EXTERNAL_handoff_timeout")
    events = await ActionStartLead().run(dispatcher, tracker, {})
    assert SlotSet("lead_kind", "callback") in events
    assert responses(dispatcher) == ["utter_lead_intro_callback"]


# The call-back form after a chat nobody could join starts with the contact
# details and name the person already wrote in this session.
ALL_SLOTS = read_yaml(ROOT / "domain.yml")["forms"]["lead_form"]["required_slots"]


def waited(*written, intent="EXTERNAL_handoff_timeout"):
    """A session where the person asked for a person, wrote `written` while
    waiting, and then `intent` (the wait ran out, or asked again when nobody
    could join) came; the handoff slot says nobody could."""
    events = [
        {"event": "session_started"},
        user_event("Talk to the clinic", "request_human"),
        {"event": "action", "name": "action_request_handoff"},
        {"event": "slot", "name": "handoff", "value": "waiting"},
    ]
    events += [user_event(text, "out_of_scope") for text in written]
    events.append(user_event(f"EXTERNAL: {intent}", intent))
    return make_tracker(events, slots={"handoff": "unavailable"}, sender_id=SENDER)


async def started(tracker):
    """What the call-back form does when it starts: ActionStartLead, then
    the form's check of the slots already filled (Rasa's FormAction.activate
    sends them to validate_lead_form), then its first question."""
    dispatcher = CollectingDispatcher()
    events = await ActionStartLead().run(dispatcher, tracker, {})
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    prefilled = {s: slots[s] for s in ALL_SLOTS if slots.get(s) is not None}
    form = make_tracker(
        [*tracker.events, *(SlotSet(s, v) for s, v in prefilled.items())],
        slots={**tracker.slots, **slots},
        sender_id=SENDER,
    )
    domain = {"forms": {"lead_form": {"required_slots": ALL_SLOTS}}}
    checked = await ValidateLeadForm().run(dispatcher, form, domain)
    slots.update({e["name"]: e["value"] for e in checked if e["event"] == "slot"})
    return slots, dispatcher


async def test_a_number_written_while_waiting_is_not_asked_again():
    slots, dispatcher = await started(waited("you can reach me at 604 555 0142"))
    assert responses(dispatcher) == [
        "utter_lead_intro_callback",
        "utter_lead_kept_phone",
    ]
    assert dispatcher.messages[1]["phone"] == "+1 604-555-0142"
    assert slots["lead_phone"] == "+16045550142" and slots["lead_contact"] == "given"
    assert slots["requested_slot"] == "lead_name"  # then the time, not the contact
    assert slots["lead_email"] is None and slots["lead_name"] is None


async def test_a_name_and_an_email_are_kept_when_nobody_is_available():
    tracker = waited(
        "Hi, my name is Ana Souza.",
        "ana.souza@example.com works best, thanks",
        intent="request_human",
    )
    slots, dispatcher = await started(tracker)
    assert responses(dispatcher) == [
        "utter_lead_intro_callback",
        "utter_lead_kept_name",
        "utter_lead_kept_email",
    ]
    assert slots["lead_name"] == "Ana Souza"
    assert slots["lead_email"] == "ana.souza@example.com"
    assert slots["requested_slot"] == "lead_contact_time"


@pytest.mark.parametrize(
    "written, name",
    [
        ("my name is Ana Souza", "Ana Souza"),
        ("This is Ana, from Burnaby. Is anyone there?", "Ana"),
        ("I'm Li", "Li"),
        ("hi I'm Li.", "Li"),
        ("I'm Li, I need a call about my back", None),  # not a whole message
        ("I'm tired of waiting", None),
        ("I'm Sorry", None),
        ("my name is ana souza", None),  # unsure
        ("my name is Ana and I have sciatica", None),
        ("Ana Souza", None),  # an answer to a question nobody asked
        ("this is taking long", None),
        ("my name is J. Souza", None),
    ],
)
async def test_a_name_only_from_a_clear_introduction(written, name):
    slots, dispatcher = await started(waited(written))
    assert slots.get("lead_name") == name
    kept = "utter_lead_kept_name" in responses(dispatcher)
    assert kept == bool(name)


@pytest.mark.parametrize(
    "written",
    [
        "I'm pregnant and on blood thinners, is IMS safe?",
        "My sciatica has been bad for 8 months, 10 out of 10 pain",
        "I am Diabetic",
        "I'm Pregnant",
    ],
)
async def test_a_health_detail_never_fills_a_slot(written):
    slots, dispatcher = await started(waited(written))
    assert responses(dispatcher) == ["utter_lead_intro_callback"]
    assert {s: v for s, v in slots.items() if v is not None} == {
        "lead_kind": "callback",
        "requested_slot": "lead_name",
    }


async def test_nothing_from_a_red_flag_the_rules_caught_under_another_intent():
    tracker = waited()
    flagged = user_event(
        "Ana here, 604 555 0142, I can't feel my legs",
        "out_of_scope",
        [{"entity": "red_flag", "value": "numbness", "start": 30, "end": 43}],
    )
    tracker.events.insert(-1, flagged)
    slots, dispatcher = await started(tracker)
    assert responses(dispatcher) == ["utter_lead_intro_callback"]
    assert slots["lead_contact"] is None and slots["lead_name"] is None


async def test_nothing_from_an_earlier_session_a_red_flag_or_a_form_answer():
    tracker = waited()
    earlier_session = [
        {"event": "session_started"},
        user_event("my name is Ana Souza", "out_of_scope"),
        user_event("you can reach me at 604 555 0142", "out_of_scope"),
    ]
    tracker.events[:1] = earlier_session + tracker.events[:1]
    tracker.events[-1:-1] = [
        {"event": "active_loop", "name": "lead_form"},
        user_event("ana.souza@example.com", "out_of_scope"),  # that form's
        {"event": "active_loop", "name": None},
        user_event("chest pain, call me at 604 555 0199", "emergency"),
    ]
    slots, dispatcher = await started(tracker)
    assert responses(dispatcher) == ["utter_lead_intro_callback"]
    assert slots["lead_name"] is None and slots["lead_contact"] is None


@pytest.mark.parametrize(
    "correction, phone",
    [
        ("change my number to 604 555 0177", "+16045550177"),  # applied at once
        ("change contact details", None),  # asked again
    ],
)
async def test_a_kept_number_can_still_be_changed_at_the_summary(correction, phone):
    slots, _ = await started(waited("call me on 604 555 0142"))
    assert slots["lead_phone"] == "+16045550142" and "lead_confirmed" in ALL_SLOTS
    tracker = make_tracker([user_event(correction, "out_of_scope")], slots=slots)
    changed = await ValidateLeadForm().validate_lead_confirmed(
        correction, CollectingDispatcher(), tracker, {}
    )
    assert changed["lead_phone"] == phone and changed["lead_confirmed"] is None


async def test_the_clinics_own_number_is_not_taken_for_theirs():
    said = "I called +1 604 555 0123 twice, try me on 604 555 0142"
    slots, _ = await started(waited(said, "I rang 604-555-0123, nobody answered"))
    assert slots["lead_phone"] == "+16045550142"


async def test_an_assessment_request_keeps_nothing():
    tracker = waited("you can reach me at 604 555 0142", intent="book_assessment")
    slots, dispatcher = await started(tracker)
    assert responses(dispatcher) == ["utter_lead_intro_assessment"]
    assert slots["lead_contact"] is None


async def test_only_the_contact_details_of_a_message_about_health_are_kept():
    said = "my name is Ana, my phone is 604 555 0142 and I'm Pregnant"
    pregnancy = {"entity": "precaution", "value": "pregnancy", "start": 48}
    tracker = waited(said)
    tracker.events[4]["parse_data"]["entities"] = [{**pregnancy, "end": 56}]
    slots, dispatcher = await started(tracker)
    assert responses(dispatcher) == [
        "utter_lead_intro_callback",
        "utter_lead_kept_phone",
    ]
    assert slots["lead_phone"] == "+16045550142" and slots["lead_name"] is None
    assert not any("regnan" in str(value) for value in slots.values())
