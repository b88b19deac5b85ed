"""The question "Did that answer your question?" in whole conversations with the
assistant: asked on the website after an FAQ answer, on SMS only after the
"Did you mean ...?" suggestions, never on the REST API, in a form or after
a red flag; what Yes and No lead to; and, over a real socket.io
connection, a "No" reaching the staff dashboard's answers to check."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Dict, Iterator

import pytest

from clinic.faq_topics import TOPICS
from db.engine import session_factory
from db.migrate import upgrade
from tests.conversation import Chat
from tests.servers import Servers, assistant_env, free_port
from tests.stack import Widget
from webapp.staff import reviews

pytestmark = pytest.mark.slow

QUESTION = "Did that answer your question?"
WEBSITE, SMS, REST = "socketio", "twilio", "rest"


async def test_the_website_asks_after_an_faq_answer_and_yes_gets_thanks(agent):
    chat = Chat(agent, channel=WEBSITE)
    reply = await chat.say("How often do I need IMS?")
    assert reply.endswith(QUESTION)
    assert chat.replies[-1]["buttons"] == [
        {"title": "Yes", "payload": "/answer_helpful"},
        {"title": "No", "payload": "/answer_unhelpful"},
    ]
    thanks = await chat.say("/answer_helpful")
    assert thanks.startswith("Thanks") and QUESTION not in thanks
    assert "not sure I understood" not in thanks


async def test_no_offers_a_rephrase_other_topics_and_a_person(agent):
    chat = Chat(agent, channel=WEBSITE)
    await chat.say("What should I do after IMS?")
    reply = await chat.say("/answer_unhelpful")
    assert "other words" in reply
    titles = chat.buttons
    assert titles[-1] == "Talk to the clinic"
    others = titles[:-1]
    names = {name: topic for topic, (name, _) in TOPICS.items()}
    assert others and all(title in names for title in others)
    assert TOPICS["aftercare"][0] not in others  # not the answer just given
    # A topic button asks that topic's question, and gets its answer.
    topic = names[others[0]]
    payload = next(b["payload"] for b in chat.replies[-1]["buttons"])
    assert payload == TOPICS[topic][1]
    answer = await chat.say(payload)
    assert answer.endswith(QUESTION) and "not sure I understood" not in answer
    # The person: the call-back request.
    await chat.say("/answer_unhelpful")
    await chat.say("/request_human")
    assert await chat.active_loop() == "lead_form"


async def test_a_typed_no_to_the_question_counts_as_no(agent):
    chat = Chat(agent, channel=WEBSITE)
    await chat.say("Does IMS hurt?")
    reply = await chat.say("no")
    assert "other words" in reply and "Talk to the clinic" in chat.buttons


async def test_the_question_can_be_skipped_by_asking_something_else(agent):
    chat = Chat(agent, channel=WEBSITE)
    await chat.say("Does IMS hurt?")
    reply = await chat.say("How long does an IMS session take?")
    assert "minutes" in reply and reply.endswith(QUESTION)
    assert "not sure I understood" not in reply


async def test_rest_gets_the_answer_alone(agent):
    chat = Chat(agent, channel=REST)
    reply = await chat.say("How often do I need IMS?")
    assert QUESTION not in reply
    assert "Yes" not in chat.buttons


async def test_sms_asks_only_after_the_suggestions(agent):
    chat = Chat(agent, channel=SMS, sender="+16045550155")
    assert QUESTION not in await chat.say("How often do I need IMS?")
    await chat.say("/nlu_fallback")  # "Did you mean ...?"
    reply = await chat.say("What kind of needles are used for IMS?")
    assert (
        QUESTION in reply
    )  # its SMS wording: tests/channels/test_twilio_end_to_end.py
    assert (await chat.say("yes")).startswith("Thanks")


async def test_not_asked_in_the_lead_form(agent):
    chat = Chat(agent, channel=WEBSITE)
    await chat.say("I'd like to book an assessment")
    reply = await chat.say("Does IMS hurt?")
    assert QUESTION not in reply
    assert await chat.active_loop() == "lead_form"


async def test_not_asked_while_the_urgent_advice_stands(agent):
    chat = Chat(agent, channel=WEBSITE)
    await chat.say("I have chest pain right now")
    reply = await chat.say("How often do I need IMS?")
    assert QUESTION not in reply


async def test_not_asked_after_the_candidate_answer(agent):
    chat = Chat(agent, channel=WEBSITE)
    reply = await chat.say("Am I a candidate for IMS?")
    assert QUESTION not in reply
    await chat.say("yes")
    assert await chat.active_loop() == "lead_form"


# ---- over socket.io, into the staff dashboard --------------------------------


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory) -> Iterator[Dict[str, str]]:
    tmp = tmp_path_factory.mktemp("feedback")
    database_url = f"sqlite:///{tmp / 'clinic.db'}"
    upgrade(database_url)
    actions_port, rasa_port = free_port(), free_port()
    with Servers(tmp) as servers:
        servers.assistant(
            trained_model,
            assistant_env(database_url, actions_port),
            actions_port,
            rasa_port,
        )
        yield {"url": f"http://127.0.0.1:{rasa_port}", "db": database_url}


def test_a_no_on_the_widget_is_listed_for_staff(stack):
    async def talk() -> Widget:
        widget = Widget(stack["url"])
        await widget.connect()
        try:
            assert QUESTION in await widget.ask("How often do I need IMS?")
            assert widget.replies[-1]["quick_replies"][1]["payload"] == (
                "/answer_unhelpful"
            )
            assert "other words" in await widget.ask("/answer_unhelpful")
        finally:
            await widget.close()
        return widget

    widget = asyncio.run(talk())
    now = datetime.now(timezone.utc)
    with session_factory(stack["db"])() as session:
        found = reviews.answers_to_check(
            session, now - timedelta(hours=1), now + timedelta(hours=1), 0.01
        )
    [item] = found.items
    assert item.unhelpful and item.sender_id == widget.conversation
    assert (item.text, item.topic) == ("How often do I need IMS?", "frequency")
