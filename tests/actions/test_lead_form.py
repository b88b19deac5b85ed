"""The lead form: validators, questions and submission (CollectingDispatcher)."""

from __future__ import annotations

import re

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.leads import (
    ActionAskLeadConcern,
    ActionAskLeadConfirmed,
    ActionAskLeadContact,
    ActionAskLeadContactMethod,
    ActionAskLeadDuration,
    ActionCancelLead,
    ActionStartLead,
    ActionSubmitLead,
    ValidateLeadForm,
    clean,
    is_cancel,
    submission_key,
    summary,
)
from db.engine import session_factory
from db.models import Lead, OutboxMessage
from tests.conftest import ROOT, make_tracker, read_yaml, rendered, user_event

FORM = ValidateLeadForm()


def tracker_for(
    text,
    intent="nlu_fallback",
    slots=None,
    entities=None,
    channel="rest",
    sender="web-abc",
    confidence=0.9,
):
    event = user_event(text, intent, entities, confidence=confidence)
    event["input_channel"] = channel
    return make_tracker([event], slots=slots or {}, sender_id=sender)


def responses(dispatcher):
    """The names of the responses the action sent, in order."""
    return [message["response"] for message in dispatcher.messages]


async def validate(slot, text, dispatcher, **kwargs):
    tracker = tracker_for(text, **kwargs)
    method = getattr(FORM, f"validate_{slot}")
    return await method(text, dispatcher, tracker, {})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ana", {"lead_name": "Ana"}),
        ("  Zoë O'Brien  ", {"lead_name": "Zoë O'Brien"}),
        ("<b>Bob</b> 🙂", {"lead_name": None}),  # not what a name looks like
        ("Ann\x00e\x07", {"lead_name": "Anne"}),  # control characters stripped
        ("", {"lead_name": None}),
        ("never mind", {"lead_name": None, "lead_cancelled": "user"}),
        ("cancel", {"lead_name": None, "lead_cancelled": "user"}),
    ],
)
async def test_validate_name(dispatcher, text, expected):
    assert await validate("lead_name", text, dispatcher) == expected


@pytest.mark.parametrize(
    "text, phone, email",
    [
        ("604 555 0123", "+16045550123", None),
        ("(604) 555-0123", "+16045550123", None),
        ("+44 20 7946 0958", "+442079460958", None),
        ("ana@example.org", None, "ana@example.org"),
        (
            "call 604.555.0123 or mail Ana@Example.org",
            "+16045550123",
            "ana@example.org",
        ),
    ],
)
async def test_validate_contact_accepts_phone_and_email(dispatcher, text, phone, email):
    result = await validate("lead_contact", text, dispatcher)
    assert result["lead_phone"] == phone and result["lead_email"] == email
    assert result["lead_contact"] == "given"
    if phone is None:
        assert result["lead_contact_method"] == "email"  # no need to ask
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "text, reason",
    [
        ("555 01", "utter_invalid_lead_contact_phone"),
        ("ana@example", "utter_invalid_lead_contact_email"),
        ("whenever", "utter_invalid_lead_contact"),
    ],
)
async def test_validate_contact_explains_what_is_wrong(dispatcher, text, reason):
    result = await validate("lead_contact", text, dispatcher)
    assert result == {"lead_contact": None, "lead_contact_failures": 1.0}
    [message] = dispatcher.messages
    assert message["response"] == reason
    if reason.endswith("email"):
        assert message["reason"]  # what is wrong with the address


async def test_third_bad_contact_offers_the_clinic_phone(dispatcher):
    result = await validate(
        "lead_contact",
        "dunno",
        dispatcher,
        slots={"lead_contact_failures": 2.0, "clinic_phone": "+1 604 555 0123"},
    )
    assert result == {"lead_contact": None, "lead_cancelled": "contact_failed"}
    assert responses(dispatcher) == ["utter_lead_contact_give_up"]


async def test_sms_sender_number_is_offered_and_accepted(dispatcher):
    tracker = tracker_for("x", channel="twilio", sender="tel:+14165550188")
    events = await ActionAskLeadContact().run(dispatcher, tracker, {})
    assert events == [SlotSet("lead_phone_offered", "+14165550188")]
    assert dispatcher.messages[0]["response"] == "utter_ask_lead_contact_sender"
    assert dispatcher.messages[0]["phone"] == "+1 416-555-0188"
    result = await validate(
        "lead_contact",
        "yes",
        dispatcher,
        intent="affirm",
        channel="twilio",
        sender="tel:+14165550188",
        slots={"lead_phone_offered": "+14165550188"},
    )
    assert result["lead_phone"] == "+14165550188"


async def test_declining_the_sender_number_asks_for_another(dispatcher):
    result = await validate(
        "lead_contact",
        "no",
        dispatcher,
        intent="deny",
        slots={"lead_phone_offered": "+14165550188"},
    )
    assert result == {"lead_contact": None, "lead_phone_offered": "declined"}
    tracker = tracker_for(
        "no",
        channel="twilio",
        sender="tel:+14165550188",
        slots={"lead_phone_offered": "declined"},
    )
    await ActionAskLeadContact().run(dispatcher, tracker, {})
    assert responses(dispatcher)[-1] == "utter_ask_lead_contact"


@pytest.mark.parametrize(
    "channel, sender",
    [("rest", "+14165550188"), ("twilio", "+14165550188"), ("rest", "rest:tel:+1416")],
)
async def test_only_a_twilio_conversation_id_offers_a_number(
    dispatcher, channel, sender
):
    """A conversation id a client chose ('+1416...') proves no number (#14)."""
    tracker = tracker_for("x", channel=channel, sender=sender)
    events = await ActionAskLeadContact().run(dispatcher, tracker, {})
    assert events == [] and responses(dispatcher) == ["utter_ask_lead_contact"]


async def test_web_visitors_are_asked_for_contact_details(dispatcher):
    events = await ActionAskLeadContact().run(dispatcher, tracker_for("x"), {})
    assert events == [] and responses(dispatcher) == ["utter_ask_lead_contact"]


async def test_contact_method_buttons_follow_the_details_given(dispatcher):
    tracker = tracker_for("x", slots={"lead_phone": "+16045550123"})
    await ActionAskLeadContactMethod().run(dispatcher, tracker, {})
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles == ["Phone call", "Text message"]


@pytest.mark.parametrize(
    "text, slots, expected",
    [
        ("phone call", {"lead_phone": "+1"}, "call"),
        ("text me", {"lead_phone": "+1"}, "text"),
        ("email", {"lead_email": "a@b.org"}, "email"),
        ("email", {"lead_phone": "+1"}, None),  # no email address given
    ],
)
async def test_validate_contact_method(dispatcher, text, slots, expected):
    result = await validate("lead_contact_method", text, dispatcher, slots=slots)
    assert result == {"lead_contact_method": expected}


@pytest.mark.parametrize(
    "slot, text, expected",
    [
        ("lead_contact_time", "Evenings after 6", "Evenings after 6"),
        ("lead_contact_time", "skip", "skipped"),
        ("lead_duration", "about 2 years", "about 2 years"),
        ("lead_duration", "not sure", "skipped"),
    ],
)
async def test_optional_questions_can_be_skipped(dispatcher, slot, text, expected):
    assert await validate(slot, text, dispatcher) == {slot: expected}


async def test_concern_keeps_text_and_condition(dispatcher):
    entities = [{"entity": "condition", "value": "sciatica"}]
    result = await validate(
        "lead_concern", "sciatica 😣 <3", dispatcher, entities=entities
    )
    assert result == {"lead_concern": "sciatica 😣 <3", "lead_condition": "sciatica"}


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("yes", "affirm", "yes"),
        ("no", "deny", "no"),
        ("prefer not to say", "deny", "prefer_not"),
        ("I'd rather not", "deny", "prefer_not"),
        ("purple", "out_of_scope", None),
    ],
)
async def test_validate_screening(dispatcher, text, intent, expected):
    result = await validate("lead_screening", text, dispatcher, intent=intent)
    assert result == {"lead_screening": expected}


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("yes", "affirm", {"lead_consent": "yes"}),
        ("I agree", "affirm", {"lead_consent": "yes"}),
        ("no", "deny", {"lead_consent": "no", "lead_cancelled": "no_consent"}),
        ("what?", "nlu_fallback", {"lead_consent": None}),
    ],
)
async def test_validate_consent(dispatcher, text, intent, expected):
    assert await validate("lead_consent", text, dispatcher, intent=intent) == expected


@pytest.mark.parametrize(
    "text, cleared",
    [
        ("change my phone number", {"lead_contact", "lead_phone", "lead_email"}),
        ("actually my name is wrong", {"lead_name"}),
        ("change the time", {"lead_contact_time"}),
    ],
)
async def test_confirmation_can_correct_an_answer(dispatcher, text, cleared):
    result = await validate("lead_confirmed", text, dispatcher)
    assert result["lead_confirmed"] is None
    assert cleared <= {slot for slot, value in result.items() if value is None}


@pytest.mark.parametrize(
    "text",
    ["yes that's correct", "correct", "looks good", "yep send it", "That is right."],
)
async def test_confirmation_hears_a_yes_that_says_correct(dispatcher, text):
    assert await validate("lead_confirmed", text, dispatcher) == {
        "lead_confirmed": "yes"
    }


@pytest.mark.parametrize(
    "text", ["that's not correct", "correct my phone number", "there's a typo"]
)
async def test_confirmation_hears_a_correction_that_says_correct(dispatcher, text):
    result = await validate("lead_confirmed", text, dispatcher)
    assert result["lead_confirmed"] is None


async def test_confirmation_asks_what_to_change(dispatcher):
    result = await validate("lead_confirmed", "change something", dispatcher)
    assert result == {"lead_confirmed": None}
    assert responses(dispatcher) == ["utter_ask_lead_what_to_change"]


async def test_required_slots_for_a_call_back_and_after_cancel(dispatcher):
    all_slots = [
        "lead_name",
        "lead_contact",
        "lead_contact_method",
        "lead_contact_time",
        "lead_consent",
        "lead_concern",
        "lead_duration",
        "lead_screening",
        "lead_confirmed",
    ]
    callback = tracker_for("x", slots={"lead_kind": "callback"})
    assert await FORM.required_slots(all_slots, dispatcher, callback, {}) == [
        "lead_name",
        "lead_contact",
        "lead_contact_time",
        "lead_consent",
        "lead_confirmed",
    ]
    cancelled = tracker_for("x", slots={"lead_cancelled": "user"})
    assert await FORM.required_slots(all_slots, dispatcher, cancelled, {}) == []


@pytest.mark.parametrize(
    "text, name",
    [
        ("Ana Souza", "Ana Souza"),
        ("my name is Ana Souza", "Ana Souza"),
        ("I'm Li.", "Li"),
        ("José María O'Neil", "José María O'Neil"),
        ("Mary-Jane", "Mary-Jane"),
        ("Will", "Will"),
        ("ok I think I'd rather talk to a real person first", None),
        ("ok I'm going to the ER now. can the clinic call me tomorrow?", None),
        ("604 555 0123", None),
        ("hello", None),
        ("what do you need my name for?", None),
    ],
)
async def test_a_name_must_look_like_a_name(dispatcher, text, name):
    result = await validate("lead_name", text, dispatcher)
    assert result == {"lead_name": name}
    assert responses(dispatcher) == ([] if name else ["utter_invalid_lead_name"])


async def test_an_error_says_what_was_wrong_and_leaves_the_question_to_the_form():
    for response in (
        "utter_invalid_lead_name",
        "utter_invalid_lead_contact",
        "utter_invalid_lead_contact_email",
        "utter_invalid_lead_concern",
    ):
        text = await rendered(response, "rest", reason="no domain")
        assert "?" not in text, response


def test_clean_strips_control_characters_only():
    assert clean(" a\tb\nc\x1b[0m\x7f ") == "a\tb\nc[0m"


def test_summary_shows_what_will_be_sent():
    text = summary(
        {
            "lead_name": "Ana",
            "lead_phone": "+16045550123",
            "lead_contact_time": "skipped",
            "lead_screening": "prefer_not",
            "lead_concern": "x" * 300,
        }
    )
    assert "Name: Ana" in text and "Phone: +1 604-555-0123" in text
    assert "Best time" not in text and "Safety question: Prefer not to say" in text
    assert max(len(line) for line in text.splitlines()) < 140


async def test_start_sets_the_kind_and_clears_old_answers(dispatcher):
    tracker = make_tracker(
        [user_event("call me", "request_human")], slots={"lead_name": "Old"}
    )
    events = await ActionStartLead().run(dispatcher, tracker, {})
    assert SlotSet("lead_name", None) in events
    assert events[-1] == SlotSet("lead_kind", "callback")
    assert responses(dispatcher) == ["utter_lead_intro_callback"]


async def test_after_a_red_flag_no_form_starts_until_the_person_is_safe(dispatcher):
    red = {"red_flag": "cardiac"}
    tracker = make_tracker([user_event("book me in", "book_assessment")], slots=red)
    events = await ActionStartLead().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_lead_after_urgent_care"]
    assert events[-1] == SlotSet("lead_cancelled", "urgent_first")
    submit = CollectingDispatcher()
    cancelled = form_tracker({"lead_cancelled": "urgent_first"})
    await ActionSubmitLead().run(submit, cancelled, {})
    assert submit.messages == []  # the urgent advice was the reply
    safe = make_tracker(
        [user_event("book me in", "book_assessment")],
        slots={**red, "red_flag_safe": True},
    )
    later = CollectingDispatcher()
    await ActionStartLead().run(later, safe, {})
    assert responses(later) == ["utter_lead_intro_assessment"]


async def test_no_reply_about_a_lead_begins_with_great():
    found = read_yaml(ROOT / "data" / "responses" / "lead_form.yml")["responses"]
    for name, variations in found.items():
        for variation in variations:
            assert not variation.get("text", "").startswith("Great"), name


@pytest.mark.parametrize("kind", ["assessment", "callback"])
@pytest.mark.parametrize(
    "channel, word", [("rest", "cancel"), ("twilio", "never mind")]
)
async def test_texters_are_not_told_to_send_a_carrier_opt_out_word(kind, channel, word):
    # On SMS a lone "cancel" unsubscribes the number at the carrier, so the
    # intro's `channel: twilio` variation names the other phrase.
    text = await rendered(f"utter_lead_intro_{kind}", channel)
    assert f'say "{word}" at any time' in text
    assert is_cancel(word)


COMPLETE = {
    "lead_kind": "assessment",
    "lead_name": "Ana",
    "lead_contact": "given",
    "lead_phone": "+16045550123",
    "lead_contact_method": "text",
    "lead_contact_time": "skipped",
    "lead_concern": "neck pain",
    "lead_condition": "neck_pain",
    "lead_duration": "a year",
    "lead_screening": "no",
    "lead_consent": "yes",
    "lead_confirmed": "yes",
    "red_flag": None,
}


def form_tracker(slots, sender="web-xyz"):
    events = [
        {"event": "active_loop", "name": "lead_form", "timestamp": 1700000000.5},
        {**user_event("yes", "affirm"), "input_channel": "rest"},
    ]
    return make_tracker(events, slots=slots, sender_id=sender)


async def test_submit_stores_the_lead_and_gives_a_reference(dispatcher, use_database):
    events = await ActionSubmitLead().run(dispatcher, form_tracker(COMPLETE), {})
    assert SlotSet("lead_save_failed", False) in events
    assert SlotSet("lead_name", None) in events  # ready for another request
    [message] = dispatcher.messages
    with session_factory(use_database)() as session:
        stored = session.scalars(select(Lead)).one()
        assert session.scalars(select(OutboxMessage)).one()
    assert message["response"] == "utter_lead_saved_assessment"
    assert message["reference"] == stored.reference
    assert (stored.name, stored.phone, stored.channel) == (
        "Ana",
        "+16045550123",
        "rest",
    )
    assert stored.contact_time is None  # skipped
    assert stored.needs_review is False and stored.consent_version


async def test_a_red_flag_earlier_marks_the_lead_for_review(dispatcher, use_database):
    slots = {**COMPLETE, "red_flag": "chest_pain"}
    await ActionSubmitLead().run(dispatcher, form_tracker(slots), {})
    with session_factory(use_database)() as session:
        assert session.scalars(select(Lead)).one().needs_review is True


async def test_submitting_the_same_form_twice_stores_one_lead(dispatcher, use_database):
    await ActionSubmitLead().run(dispatcher, form_tracker(COMPLETE), {})
    await ActionSubmitLead().run(dispatcher, form_tracker(COMPLETE), {})
    first, second = (m["reference"] for m in dispatcher.messages)
    assert first == second
    with session_factory(use_database)() as session:
        assert len(session.scalars(select(Lead)).all()) == 1


@pytest.mark.parametrize(
    "slots, message",
    [
        (
            {**COMPLETE, "lead_consent": "no", "lead_cancelled": "no_consent"},
            "utter_lead_no_consent",
        ),
        ({**COMPLETE, "lead_cancelled": "user"}, "utter_lead_cancelled"),
        ({**COMPLETE, "lead_confirmed": None}, "utter_lead_cancelled"),
    ],
)
async def test_nothing_is_stored_without_consent_and_confirmation(
    dispatcher, use_database, slots, message
):
    await ActionSubmitLead().run(dispatcher, form_tracker(slots), {})
    assert responses(dispatcher) == [message]
    with session_factory(use_database)() as session:
        assert session.scalars(select(Lead)).all() == []


async def test_database_down_is_said_plainly_and_answers_are_kept(
    dispatcher, monkeypatch, tmp_path
):
    # Nothing listens on port 1: the database is down.
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    events = await ActionSubmitLead().run(dispatcher, form_tracker(COMPLETE), {})
    assert events == [SlotSet("lead_save_failed", True)]  # answers not reset
    assert responses(dispatcher) == ["utter_lead_save_failed"]


async def test_retry_after_the_database_returns_stores_the_lead(
    dispatcher, monkeypatch, use_database
):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    await ActionSubmitLead().run(dispatcher, form_tracker(COMPLETE), {})
    monkeypatch.setenv("DATABASE_URL", use_database)
    events = await ActionSubmitLead().run(dispatcher, form_tracker(COMPLETE), {})
    assert SlotSet("lead_save_failed", False) in events
    assert responses(dispatcher) == [
        "utter_lead_save_failed",
        "utter_lead_saved_assessment",
    ]
    assert dispatcher.messages[-1]["reference"].startswith("IMS-")


async def test_cancel_after_a_failed_save(dispatcher):
    tracker = form_tracker({**COMPLETE, "lead_save_failed": True})
    events = await ActionCancelLead().run(dispatcher, tracker, {})
    assert SlotSet("lead_name", None) in events
    assert responses(dispatcher) == ["utter_lead_save_abandoned"]


def test_submission_key_depends_on_sender_and_form():
    a = submission_key(form_tracker(COMPLETE, sender="a"))
    assert a == submission_key(form_tracker(COMPLETE, sender="a"))
    assert a != submission_key(form_tracker(COMPLETE, sender="b"))


async def test_confirmation_question_shows_the_summary(dispatcher):
    await ActionAskLeadConfirmed().run(dispatcher, form_tracker(COMPLETE), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_lead_confirmed"
    assert "Name: Ana" in message["summary"]
    text = await rendered(
        "utter_ask_lead_confirmed", "rest", summary=message["summary"]
    )
    assert "Name: Ana" in text and text.endswith("Is this right?")


async def test_the_summary_is_not_repeated_under_the_list_of_what_to_change(
    dispatcher,
):
    events = [
        {"event": "active_loop", "name": "lead_form"},
        {**user_event("change something", "nlu_fallback"), "input_channel": "rest"},
        {
            "event": "bot",
            "text": "What would you like to change?",
            "metadata": {"utter_action": "utter_ask_lead_what_to_change"},
        },
    ]
    tracker = make_tracker(events, slots=COMPLETE, sender_id="web-change")
    await ActionAskLeadConfirmed().run(dispatcher, tracker, {})
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "text, changed",
    [
        (
            "oops, the phone number is wrong, it should be 604-555-0129",
            {"lead_phone": "+16045550129", "lead_email": None},
        ),
        (
            "please change my email to ana@example.org",
            {"lead_phone": "+16045550123", "lead_email": "ana@example.org"},
        ),
    ],
)
async def test_a_correction_with_the_new_detail_is_applied_at_once(
    dispatcher, text, changed
):
    tracker = make_tracker(
        [{**user_event(text, "nlu_fallback"), "input_channel": "rest"}],
        slots={**COMPLETE, "lead_confirmed": None},
    )
    result = await FORM.validate_lead_confirmed(text, dispatcher, tracker, {})
    assert result["lead_confirmed"] is None  # the summary comes back
    assert {k: result[k] for k in changed} == changed
    assert result["lead_contact"] == "given"
    assert "lead_contact_method" not in result  # "text" still fits
    assert dispatcher.messages == []


async def test_a_new_contact_keeps_the_method_only_while_it_fits(dispatcher):
    slots = {**COMPLETE, "lead_contact": None, "lead_phone": None}
    tracker = make_tracker(
        [{**user_event("604 555 0177", "nlu_fallback"), "input_channel": "rest"}],
        slots=slots,
    )
    result = await FORM.validate_lead_contact("604 555 0177", dispatcher, tracker, {})
    assert "lead_contact_method" not in result  # text: a phone still fits
    email_only = make_tracker(
        [{**user_event("604 555 0177", "nlu_fallback"), "input_channel": "rest"}],
        slots={**slots, "lead_contact_method": "email"},
    )
    result = await FORM.validate_lead_contact(
        "604 555 0177", dispatcher, email_only, {}
    )
    assert result["lead_contact_method"] is None  # no email left: ask again


def change_buttons():
    """(lead kind, button payload) for each variation of the change list."""
    variations = read_yaml(ROOT / "data" / "responses" / "lead_form.yml")["responses"][
        "utter_ask_lead_what_to_change"
    ]
    for variation in variations:
        kind = "callback" if variation.get("condition") else "assessment"
        for button in variation["buttons"]:
            yield kind, button["payload"]


@pytest.mark.parametrize("kind, payload", list(change_buttons()))
async def test_every_change_button_opens_its_question_again(dispatcher, kind, payload):
    result = await validate("lead_confirmed", payload, dispatcher)
    cleared = {slot for slot, value in result.items() if value is None}
    assert cleared - {"lead_confirmed"}, payload


def test_the_change_list_names_every_answer_the_summary_shows():
    titles = {kind: set() for kind in ("callback", "assessment")}
    for kind, payload in change_buttons():
        titles[kind].add(payload)
    assert len(titles["assessment"]) == 6 and len(titles["callback"]) == 3


# Values the actions pass with the responses that need them.
ACTION_VALUES = {
    "utter_ask_lead_contact_sender": {"phone": "+1 416-555-0188"},
    "utter_ask_lead_confirmed": {"summary": "Name: Ana"},
    "utter_ask_lead_concern_offer": {"concern": "sciatica"},
    "utter_ask_lead_duration_offer": {"duration": "8 months"},
    "utter_invalid_lead_contact_email": {"reason": "no domain"},
    "utter_lead_saved_assessment": {"reference": "IMS-A455BC"},
    "utter_lead_saved_callback": {"reference": "IMS-A455BC"},
    "utter_lead_kept_name": {"name": "Ana Souza"},
    "utter_lead_kept_phone": {"phone": "+1 604-555-0142"},
    "utter_lead_kept_email": {"email": "ana@example.com"},
    "utter_lead_kept_phone_and_email": {
        "phone": "+1 604-555-0142",
        "email": "ana@example.com",
    },
}
LEAD_RESPONSES = sorted(
    read_yaml(ROOT / "data" / "responses" / "lead_form.yml")["responses"]
)


@pytest.mark.parametrize("channel", ["rest", "socketio", "twilio"])
@pytest.mark.parametrize("response", LEAD_RESPONSES)
async def test_every_lead_response_is_filled_in_on_every_channel(response, channel):
    text = await rendered(response, channel, **ACTION_VALUES.get(response, {}))
    assert "{" not in text and "None" not in text, text


def test_every_response_an_action_sends_exists():
    source = (ROOT / "actions" / "leads.py").read_text(encoding="utf-8")
    sent = set(re.findall(r'"(utter_[a-z_]+)"', source))
    sent.discard("utter_action")  # Rasa's metadata key naming a sent response
    sent |= {f"utter_lead_{k}" for k in ("intro_assessment", "intro_callback")}
    sent |= {f"utter_lead_saved_{k}" for k in ("assessment", "callback")}
    sent |= {"utter_lead_cancelled", "utter_lead_save_abandoned"}
    domain = read_yaml(ROOT / "domain.yml")["responses"]
    assert sent <= set(LEAD_RESPONSES) | set(domain)


def test_the_form_asks_each_question_by_a_response_or_an_action(domain):
    """Rasa's form asks `action_ask_<slot>` if the domain has it, else
    `utter_ask_<slot>`: every slot of the form must have one of the two."""
    actions = set(domain["actions"])
    for slot in domain["forms"]["lead_form"]["required_slots"]:
        assert f"action_ask_{slot}" in actions or f"utter_ask_{slot}" in LEAD_RESPONSES


def test_the_lead_schema_has_one_owner(domain):
    """LeadInput is the one list of a lead's fields: each is a column, and
    each answer is read from a slot the domain declares."""
    from dataclasses import fields

    from db.leads import ANSWERS, LeadInput, answer_slot
    from db.models import Lead

    columns = {column.name for column in Lead.__table__.columns}
    assert {field.name for field in fields(LeadInput)} - columns == {"submission_key"}
    assert {answer_slot(field) for field in ANSWERS} <= set(domain["slots"])


def test_every_lead_slot_is_cleared_for_a_new_request(domain):
    from actions.leads import LEAD_SLOTS

    declared = {s for s in domain["slots"] if s.startswith("lead_")}
    assert set(LEAD_SLOTS) == declared - {"lead_save_failed"}
    assert set(domain["forms"]["lead_form"]["required_slots"]) <= set(LEAD_SLOTS)


async def test_a_summary_with_rasas_own_marker_is_still_shown(dispatcher):
    # "0[" in the filled text makes Rasa 3.6 send the unfilled template.
    slots = {**COMPLETE, "lead_concern": "pain 10[out of 10]"}
    await ActionAskLeadConfirmed().run(dispatcher, form_tracker(slots), {})
    [message] = dispatcher.messages
    text = await rendered(
        "utter_ask_lead_confirmed", "rest", summary=message["summary"]
    )
    assert "{summary}" not in text
    assert "pain 10\u2060[out of 10]" in text


@pytest.mark.parametrize(
    "slot, text",
    [
        ("lead_name", "ok I think I'd rather talk to a real person first"),
        ("lead_contact", "can I just speak to someone instead"),
        ("lead_screening", "actually can a person phone me"),
        ("lead_concern", "I'd rather talk to a person"),
    ],
)
async def test_asking_for_a_person_mid_form_turns_it_into_a_call_back(
    dispatcher, slot, text
):
    result = await validate(
        slot, text, dispatcher, intent="request_human", slots={"lead_kind": "x"}
    )
    assert result == {slot: None, "lead_kind": "callback"}
    assert responses(dispatcher) == ["utter_lead_switch_to_callback"]


async def test_asking_for_a_person_in_a_call_back_says_that_is_what_this_is(
    dispatcher,
):
    result = await validate(
        "lead_name",
        "can I talk to a human",
        dispatcher,
        intent="request_human",
        slots={"lead_kind": "callback"},
    )
    assert result == {"lead_name": None}
    assert responses(dispatcher) == ["utter_lead_is_callback"]


@pytest.mark.parametrize(
    "intent, response",
    [
        ("bot_challenge", "utter_bot_challenge"),
        ("out_of_scope", "utter_out_of_scope"),
        ("privacy_request", "utter_privacy"),
    ],
)
async def test_a_request_at_a_question_gets_its_own_reply(dispatcher, intent, response):
    result = await validate("lead_name", "what is this for?", dispatcher, intent=intent)
    assert result == {"lead_name": None}  # so the form asks its question again
    assert responses(dispatcher) == [response]


@pytest.mark.parametrize(
    "slot, text, intent, confidence",
    [
        # an answer that fits is an answer, whatever the classifier says
        ("lead_name", "Ana Souza", "request_human", 0.95),
        ("lead_contact", "604 555 0123", "out_of_scope", 0.95),
        ("lead_screening", "no", "out_of_scope", 0.95),
        # free text is only interrupted by a sure request for a person
        ("lead_contact_time", "call me after 5pm", "request_human", 0.6),
        ("lead_concern", "what is this pain in my neck", "out_of_scope", 0.99),
        ("lead_duration", "since I saw a doctor", "request_human", 0.7),
    ],
)
async def test_an_answer_is_not_taken_for_a_request(
    dispatcher, slot, text, intent, confidence
):
    result = await validate(
        slot, text, dispatcher, intent=intent, confidence=confidence
    )
    assert result.get(slot) is not None, result
    assert "lead_kind" not in result


async def test_a_shaky_guess_is_not_an_interruption(dispatcher):
    result = await validate(
        "lead_name", "what is this", dispatcher, intent="out_of_scope", confidence=0.3
    )
    assert result == {"lead_name": None}
    assert responses(dispatcher) == ["utter_invalid_lead_name"]


def earlier_tracker(messages, slots=None):
    """A tracker where the person said `messages` (text, entities), then the
    lead form started."""
    events = [{"event": "session_started"}]
    for text, entities in messages:
        events.append(user_event(text, "faq", entities))
    events.append({"event": "active_loop", "name": "lead_form"})
    events.append(user_event("Ana Souza", "out_of_scope"))
    return make_tracker(events, slots=slots or {})


SCIATICA = [
    {"entity": "condition", "value": "sciatica", "start": 14, "end": 22},
]


async def test_a_condition_named_before_the_form_is_offered(dispatcher):
    tracker = earlier_tracker(
        [("does IMS help sciatica?", SCIATICA), ("book me in", [])]
    )
    events = await ActionAskLeadConcern().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_ask_lead_concern_offer"]
    assert dispatcher.messages[0]["concern"] == "sciatica"
    assert events == [SlotSet("lead_concern_offered", "sciatica")]


async def test_without_an_earlier_condition_the_question_is_asked(dispatcher):
    tracker = earlier_tracker([("book me in", [])])
    assert await ActionAskLeadConcern().run(dispatcher, tracker, {}) == []
    assert responses(dispatcher) == ["utter_ask_lead_concern"]
    declined = earlier_tracker(
        [("does IMS help sciatica?", SCIATICA)],
        slots={"lead_concern_offered": "declined"},
    )
    dispatcher.messages.clear()
    await ActionAskLeadConcern().run(dispatcher, declined, {})
    assert responses(dispatcher) == ["utter_ask_lead_concern"]


async def test_only_this_sessions_messages_are_offered(dispatcher):
    tracker = earlier_tracker([("does IMS help sciatica?", SCIATICA)])
    tracker.events.insert(2, {"event": "session_started"})  # after that message
    await ActionAskLeadConcern().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_ask_lead_concern"]


@pytest.mark.parametrize(
    "said, offered",
    [
        ("my knee has hurt for 8 months", "8 months"),
        ("it's been about two years now", "two years"),
        ("a few weeks ago my back went", "a few weeks"),
        ("how many sessions will I need?", None),
    ],
)
async def test_how_long_said_before_the_form_is_offered(dispatcher, said, offered):
    tracker = earlier_tracker([(said, [])])
    events = await ActionAskLeadDuration().run(dispatcher, tracker, {})
    if offered:
        assert dispatcher.messages[0]["duration"] == offered
        assert events == [SlotSet("lead_duration_offered", offered)]
    else:
        assert responses(dispatcher) == ["utter_ask_lead_duration"]


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("yes", "affirm", {"lead_duration": "8 months"}),
        ("no", "deny", {"lead_duration": None, "lead_duration_offered": "declined"}),
        ("more like a year", "out_of_scope", {"lead_duration": "more like a year"}),
    ],
)
async def test_an_offered_duration_is_confirmed_declined_or_replaced(
    dispatcher, text, intent, expected
):
    result = await validate(
        "lead_duration",
        text,
        dispatcher,
        intent=intent,
        slots={"lead_duration_offered": "8 months"},
    )
    assert result == expected


async def test_a_red_flag_message_is_not_offered_as_the_concern(dispatcher):
    events = [{"event": "session_started"}]
    events.append(
        user_event(
            "I have a fever and my back really hurts",
            "emergency",
            [{"entity": "condition", "value": "back_pain", "start": 23, "end": 30}],
        )
    )
    events.append({"event": "active_loop", "name": "lead_form"})
    await ActionAskLeadConcern().run(dispatcher, make_tracker(events, slots={}), {})
    assert responses(dispatcher) == ["utter_ask_lead_concern"]


async def test_a_short_number_is_told_why_whatever_the_classifier_says(dispatcher):
    result = await validate(
        "lead_contact", "555 12", dispatcher, intent="out_of_scope", confidence=0.95
    )
    assert result["lead_contact"] is None
    assert responses(dispatcher) == ["utter_invalid_lead_contact_phone"]


@pytest.mark.parametrize("text", ["99", "(60) 4", "+1"])
async def test_a_bare_bit_of_a_number_is_a_failed_try_whatever_it_reads_as(
    dispatcher, text
):
    """Not a question out of scope, however sure the classifier is of it."""
    result = await validate(
        "lead_contact", text, dispatcher, intent="out_of_scope", confidence=0.99
    )
    assert result == {"lead_contact": None, "lead_contact_failures": 1.0}
