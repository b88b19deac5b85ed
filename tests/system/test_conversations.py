"""Whole conversations with the trained assistant and a live action server:
understanding, dialogue, actions and the database together."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.fallback import TOPIC_BUTTONS
from clinic.profile import load_profile
from db.engine import session_factory
from db.models import Lead
from tests.conftest import ROOT, read_yaml
from tests.conversation import Chat

pytestmark = pytest.mark.slow

PROFILE = load_profile()
ANSWERS = read_yaml(ROOT / "data" / "responses" / "faq.yml")["responses"]


def answer_text(topic: str) -> str:
    """The general (last) answer for a topic, with the clinic's details."""
    text = ANSWERS[f"utter_faq/{topic}"][-1]["text"]
    slots = {k: (v if v is not None else "None") for k, v in PROFILE.slots().items()}
    return text.format(**slots)


def leads_for(database_url: str, sender: str):
    with session_factory(database_url)() as session:
        return session.scalars(select(Lead).where(Lead.sender_id == sender)).all()


# cost_coverage and referral have a variation for each profile value:
# test_fees_come_from_the_profile and tests/system/test_end_to_end.py.
@pytest.mark.parametrize(
    "topic", sorted(set(TOPIC_BUTTONS) - {"cost_coverage", "referral"})
)
async def test_every_catalogue_topic_is_answered(agent, topic):
    chat = Chat(agent)
    reply = await chat.say(TOPIC_BUTTONS[topic][1])
    assert reply == answer_text(topic)


async def test_fees_come_from_the_profile(agent):
    chat = Chat(agent)
    reply = await chat.say("How much does IMS cost?")
    assert PROFILE.name in reply and "confirm" in reply  # the sample has no fees


async def test_greeting_says_what_it_is(agent):
    reply = await Chat(agent).say("hello")
    assert "automated assistant" in reply and "not medical advice" in reply
    assert PROFILE.name in reply


@pytest.mark.parametrize(
    "question, phrase",
    [
        ("can IMS help my tennis elbow?", "tennis elbow"),
        ("does ims work for sciatica", "sciatica"),
        ("would IMS help with my frozen shoulder", "frozen shoulder"),
        ("can it help migraines", "migraine"),
    ],
)
async def test_a_condition_question_gets_a_specific_answer(agent, question, phrase):
    chat = Chat(agent)
    reply = await chat.say(question)
    assert phrase in reply.lower()
    assert reply != answer_text("conditions_treated")
    # A later general question is not coloured by the earlier condition.
    assert await chat.say("What conditions does IMS treat?") == answer_text(
        "conditions_treated"
    )


@pytest.mark.parametrize(
    "question",
    [
        "can IMS help my rheumatoid arthritis?",
        "does IMS work for plantar fasciitis",
        "would IMS help with whiplash from a car accident",
        "can IMS help a herniated disc",
    ],
)
async def test_an_unlisted_condition_gets_the_honest_general_answer(agent, question):
    reply = await Chat(agent).say(question)
    assert reply.startswith("I don't have details on that particular problem")
    assert "cartilage" not in reply


async def test_with_two_conditions_the_safety_advice_comes_first(agent):
    reply = await Chat(agent).say("I have low back pain and sciatica, can IMS help?")
    assert "sciatica" in reply.lower() and "bladder" in reply


@pytest.mark.parametrize(
    "message, category",
    [
        (
            "how many sessions will I need? I also have chest pain right now",
            "chest_pain",
        ),
        (
            "can IMS help my back, I can't control my bladder since yesterday",
            "bladder_bowel",
        ),
        ("I want to end my life", "self_harm"),
    ],
)
async def test_red_flags_get_urgent_care_never_an_answer(agent, message, category):
    chat = Chat(agent)
    reply = await chat.say(message)
    assert "911" in reply
    assert "session" not in reply.lower()
    assert await chat.slot("red_flag") == category
    if category == "self_harm":
        assert "988" in reply


async def test_after_a_red_flag_every_reply_repeats_the_urgent_advice(agent):
    chat = Chat(agent)
    assert "911" in await chat.say("I have chest pain right now")
    booking = await chat.say("should I still book the IMS assessment?")
    first = booking.split("\n")[0]
    assert "911" in first or "urgent care first" in first, booking
    assert "Great" not in booking and "What's your name?" not in booking
    assert await chat.active_loop() is None
    lost = await chat.say("what do I do")
    assert lost.startswith("If you haven't yet, please call 911")
    # once safe, the reminder stops and a booking can start
    safe = await chat.say("I've been seen by a doctor and I'm fine now")
    assert not safe.startswith("If you haven't yet")
    assert "What's your name?" in await chat.say("I'd like to book an assessment")


async def test_after_a_red_flag_a_did_you_mean_also_opens_with_the_urgent_advice(
    agent,
):
    """The first-miss suggestions come from the action server; they too are
    rendered by Rasa's generator, so the reminder goes in front."""
    chat = Chat(agent)
    assert "911" in await chat.say("I have chest pain right now")
    reply = await chat.say("/nlu_fallback")
    assert reply.startswith("If you haven't yet, please call 911"), reply
    assert "not sure I understood" in reply


@pytest.mark.parametrize(
    "message",
    [
        "burning pain down my left leg",
        "i've got a sore neck and it aches into my shoulder",
        "my back pain shoots into my leg when i bend over",
    ],
)
async def test_ordinary_nerve_pain_is_not_sent_to_urgent_care(agent, message):
    """Pain that travels down a limb is what IMS clinics see every day; only
    the catalogue's red flags (sudden weakness, numbness, ...) are urgent."""
    chat = Chat(agent)
    assert "911" not in await chat.say(message)
    assert await chat.slot("red_flag") is None


@pytest.mark.parametrize(
    "message",
    [
        "Is anyone there? My back hurts",
        "my back hurts",
        "hello? my neck is sore",
        "is someone there, my shoulder aches",
        "anyone? my knee hurts when I walk",
        "is anybody there? my neck hurts",
        "my shoulder hurts",
        "my back is killing me",
        "hello, anyone? my back is killing me",
    ],
)
async def test_ordinary_soreness_is_not_a_red_flag(agent, message):
    """A sore back, with or without an "is anyone there?" (live chat, #15), is
    what the clinic treats: no urgent-care reply, and the call-back form
    still starts, which a red flag on the conversation would stop (#11).
    (The out-of-scope reply names 911 too, so the urgent reply is known by
    its marking the conversation for the team.)"""
    chat = Chat(agent)
    assert "marked this conversation" not in await chat.say(message)
    assert await chat.slot("red_flag") is None
    assert "What's your name?" in await chat.say("I'd like to book an assessment")


ALL_ANSWERS = {answer_text(t) for t in TOPIC_BUTTONS}


@pytest.mark.parametrize("message", ["zxqv plorb wuggle", "asdfghjkl", "ok so", "hmm"])
async def test_unclear_messages_never_get_a_guessed_answer(agent, message):
    reply = await Chat(agent).say(message)
    assert reply not in ALL_ANSWERS


async def test_two_misses_hand_over_to_the_clinic(agent):
    chat = Chat(agent)
    first = await chat.say("/nlu_fallback")
    assert "Did you mean" in first or "another way" in first
    assert "Talk to the clinic" in chat.buttons
    second = await chat.say("/nlu_fallback")
    assert PROFILE.phone in second and "Ask for a call back" in chat.buttons


async def fill_assessment(chat: Chat, contact: str = "604 555 0123") -> str:
    """Runs the lead form up to the summary; returns the summary."""
    assert "What's your name?" in await chat.say("I'd like to book an assessment")
    assert "phone number or email" in await chat.say("Ana Souza")
    if "@" in contact:  # an email only: no need to ask how to get in touch
        assert "good time" in await chat.say(contact)
    else:
        assert "contact you" in await chat.say(contact)
        assert "good time" in await chat.say("text message")
    consent = await chat.say("Evenings")
    assert "Before you tell me about your health" in consent
    assert "Privacy notice" in consent
    assert "what would you like help with" in await chat.say("yes")
    assert "How long" in await chat.say("my neck has been stiff and sore")
    assert "safety question" in await chat.say("Over a year")
    return await chat.say("no")


async def assert_form_ended_cleanly(chat: Chat, last_reply: str) -> None:
    """The form's last turn says nothing more, and the next turn is normal."""
    assert "not sure I understood" not in last_reply
    assert "You're welcome" in await chat.say("thanks")


async def test_happy_path_stores_a_lead(agent, conversation_db):
    chat = Chat(agent)
    summary = await fill_assessment(chat)
    assert "Name: Ana Souza" in summary and "Phone: +1 604-555-0123" in summary
    done = await chat.say("yes, send it")
    assert "Your reference is IMS-" in done and "isn't a booked appointment" in done
    [lead] = leads_for(conversation_db, chat.sender)
    assert lead.reference in done
    assert (lead.name, lead.phone, lead.contact_method) == (
        "Ana Souza",
        "+16045550123",
        "text",
    )
    assert (lead.contact_time, lead.duration, lead.screening) == (
        "Evenings",
        "Over a year",
        "no",
    )
    assert lead.condition == "neck_pain" and lead.kind == "assessment"
    assert lead.needs_review is False
    assert await chat.active_loop() is None
    await assert_form_ended_cleanly(chat, done)


async def test_an_answer_can_be_corrected_before_saving(agent, conversation_db):
    chat = Chat(agent)
    await fill_assessment(chat)
    assert "phone number or email" in await chat.say("change my phone number")
    # a text message still fits the new number: not asked again
    summary = await chat.say("778 555 0199")
    assert "Phone: +1 778-555-0199" in summary and "Is this right?" in summary
    await chat.say("yes")
    [lead] = leads_for(conversation_db, chat.sender)
    assert lead.phone == "+17785550199" and lead.contact_method == "text"


async def test_a_correction_in_one_message_brings_the_summary_back(
    agent, conversation_db
):
    chat = Chat(agent)
    await fill_assessment(chat)
    summary = await chat.say(
        "oops, the phone number is wrong, it should be 604-555-0129"
    )
    assert "Phone: +1 604-555-0129" in summary and "Is this right?" in summary
    done = await chat.say("yes that's correct")
    assert "Your reference is IMS-" in done
    [lead] = leads_for(conversation_db, chat.sender)
    assert lead.phone == "+16045550129" and lead.contact_method == "text"


async def test_change_something_lists_every_answer_without_the_summary(agent):
    chat = Chat(agent)
    await fill_assessment(chat)
    reply = await chat.say("change something")
    assert "What would you like to change?" in reply
    assert "Is this right?" not in reply and "Name: Ana Souza" not in reply
    assert {"How long", "Safety question", "Name"} <= set(chat.buttons)
    assert "How long" in await chat.say("change how long")


async def test_an_faq_in_the_middle_of_the_form_is_answered(agent, conversation_db):
    chat = Chat(agent)
    await chat.say("sign me up for IMS")
    reply = await chat.say("wait, how often do I need IMS?")
    assert answer_text("frequency") in reply
    assert "What's your name?" in reply  # then the form goes on
    assert await chat.active_loop() == "lead_form"


async def test_cancel_stores_nothing(agent, conversation_db):
    chat = Chat(agent)
    await chat.say("book me in")
    await chat.say("Ana")
    reply = await chat.say("never mind")
    assert "cancelled" in reply
    assert await chat.active_loop() is None
    await assert_form_ended_cleanly(chat, reply)
    assert leads_for(conversation_db, chat.sender) == []


async def test_no_consent_stores_nothing(agent, conversation_db):
    chat = Chat(agent)
    await chat.say("I want to book an assessment")
    for answer in (
        "Ana",
        "ana@example.org",
        "Mornings",
    ):
        await chat.say(answer)
    reply = await chat.say("no")  # asked before any health detail
    assert "haven't saved" in reply and "help with" not in reply
    assert leads_for(conversation_db, chat.sender) == []
    await assert_form_ended_cleanly(chat, reply)


async def test_three_bad_phone_numbers_offer_the_clinic_phone(agent, conversation_db):
    chat = Chat(agent)
    await chat.say("book an appointment please")
    await chat.say("Ana")
    assert "area code" in await chat.say("555 12")
    assert "phone number or email" in await chat.say("99")
    reply = await chat.say("12345")
    assert PROFILE.phone in reply and "haven't saved" in reply
    assert await chat.active_loop() is None
    assert leads_for(conversation_db, chat.sender) == []


@pytest.mark.parametrize(
    "when, phone",
    [("Afternoons", "0142"), ("after 5pm", "0143"), ("weekdays after work", "0144")],
)
async def test_call_back_request_is_a_shorter_form(agent, conversation_db, when, phone):
    """The best time is always taken as an answer: "after 5pm" reads like the
    aftercare question to the classifier."""
    chat = Chat(agent)
    assert "call you back" in await chat.say("can someone call me back?")
    await chat.say("Sam Lee")
    assert "good time" in await chat.say(f"604-555-{phone}")  # one lead each
    consent = await chat.say(when)
    assert "keep these details to call you back" in consent
    summary = await chat.say("yes")
    assert f"Best time: {when}" in summary
    assert "call-back request" in await chat.say("yes")
    [lead] = leads_for(conversation_db, chat.sender)
    assert lead.kind == "callback" and lead.phone == f"+1604555{phone}"


async def test_a_red_flag_earlier_marks_the_lead_for_review(agent, conversation_db):
    chat = Chat(agent)
    assert "911" in await chat.say("I have a fever and my back really hurts")
    await chat.say("I saw my doctor and I'm ok now")  # a booking can start
    await fill_assessment(chat, contact="ana.review@example.org")
    await chat.say("yes")
    [lead] = leads_for(conversation_db, chat.sender)
    assert lead.needs_review is True and lead.red_flag == "fever_back_pain"


async def test_yes_to_am_i_a_candidate_starts_lead_capture(agent):
    chat = Chat(agent)
    reply = await chat.say("Am I a candidate for IMS?")
    assert "pass your details" in reply
    assert "What's your name?" in await chat.say("yes please")
    assert await chat.active_loop() == "lead_form"


async def test_sms_offers_the_senders_number(agent, conversation_db):
    chat = Chat(agent, channel="twilio", sender="tel:+14165550177")
    await chat.say("book me in please")
    assert "+1 416-555-0177" in await chat.say("Jo")
    assert "contact you" in await chat.say("yes")
    assert await chat.slot("lead_phone") == "+14165550177"


async def test_a_red_flag_mid_form_keeps_the_answers_for_later(agent, conversation_db):
    chat = Chat(agent)
    await chat.say("I'd like to book an assessment")
    await chat.say("Ana Souza")
    urgent = await chat.say("my left arm just went numb and I can't lift it")
    assert "911" in urgent.split("\n")[0]
    assert "kept what you told me" in urgent and "What's your name?" not in urgent
    assert await chat.active_loop() is None
    assert await chat.slot("lead_name") == "Ana Souza"
    offer = await chat.say("I went to the ER and I'm fine now")
    assert "still have the details" in offer and "Yes, carry on" in chat.buttons
    resumed = await chat.say("/affirm")
    assert "carry on where we stopped" in resumed
    assert "phone number or email" in resumed  # the name is not asked again
    assert await chat.active_loop() == "lead_form"


async def test_a_paused_request_can_wait(agent):
    chat = Chat(agent)
    await chat.say("can someone call me back?")
    await chat.say("Sam Lee")
    await chat.say("I have crushing chest pain right now")
    await chat.say("I've been seen by a doctor, all good")
    assert "anything else" in await chat.say("/deny")
    assert await chat.slot("lead_name") == "Sam Lee"
    # asking again later carries on with what was given
    assert "phone number or email" in await chat.say("please call me back")


@pytest.mark.parametrize(
    "message",
    [
        "ok I think I'd rather talk to a real person first",
        "actually can someone just phone me",
    ],
)
async def test_asking_for_a_person_at_the_name_is_not_taken_as_a_name(agent, message):
    chat = Chat(agent)
    await chat.say("I'd like to book an assessment")
    reply = await chat.say(message)
    assert "call you back instead" in reply and "What's your name?" in reply
    assert await chat.slot("lead_name") is None
    assert await chat.slot("lead_kind") == "callback"


async def test_a_question_at_a_question_gets_its_answer_then_the_question(agent):
    chat = Chat(agent)
    await chat.say("can someone call me back?")
    reply = await chat.say("wait, am I talking to a bot?")
    assert "automated" in reply.lower() and "What's your name?" in reply
    assert await chat.slot("lead_name") is None


@pytest.mark.parametrize(
    "message",
    [
        "can I bring someone with me to hold my hand?",
        "is it ok if my husband comes in with me for the appointment",
    ],
)
async def test_bringing_someone_along_does_not_start_a_call_back(agent, message):
    chat = Chat(agent)
    reply = await chat.say(message)
    assert await chat.active_loop() is None
    assert "What's your name?" not in reply and "call you back" not in reply


async def test_what_was_said_before_the_form_is_offered_not_asked_again(
    agent, conversation_db
):
    chat = Chat(agent)
    await chat.say("does IMS help sciatica? I've had it for 8 months")
    await chat.say("I'd like to book an assessment")
    for answer in ("Ana Souza", "ana.before@example.org", "Evenings"):
        await chat.say(answer)
    offer = await chat.say("yes")  # consent
    assert "You mentioned sciatica" in offer
    assert "going on for 8 months" in await chat.say("yes")
    assert "safety question" in await chat.say("yes")
    summary = await chat.say("no")
    assert "About: sciatica" in summary and "For how long: 8 months" in summary
    await chat.say("yes, send it")
    [lead] = leads_for(conversation_db, chat.sender)
    assert (lead.concern, lead.duration, lead.condition) == (
        "sciatica",
        "8 months",
        "sciatica",
    )


# A person's own deletion request (#14, actions/privacy.py). Needs a model
# trained with data/rules/privacy.yml.
async def test_a_privacy_question_offers_deletion_and_a_yes_deletes(
    agent, conversation_db
):
    from db.models import LeadEvent

    chat = Chat(agent)
    reply = await chat.say("who has access to my information")
    assert "Only clinic staff who sign in can see them" in reply
    assert "Delete it?" in reply
    assert chat.buttons == ["Yes, delete it", "No, keep it"]
    reply = await chat.say("yes")
    assert reply.startswith("Done: this conversation and 0 request(s)")
    reference = reply.split("Reference ")[1].split(":")[0]
    with session_factory(conversation_db)() as session:
        detail = session.scalars(
            select(LeadEvent.detail).where(LeadEvent.lead_reference == reference)
        ).one()
    assert detail == "privacy request: 1 conversation, 0 leads deleted, channel rest"


async def test_a_no_to_the_offer_deletes_nothing(agent):
    chat = Chat(agent)
    assert "Delete it?" in await chat.say("how long do you keep my records")
    assert "nothing was deleted" in await chat.say("no")
