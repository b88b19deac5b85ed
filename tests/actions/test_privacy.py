"""A person's own deletion request in chat (actions/privacy.py, #14): on the
web the current conversation and its lead; on SMS/WhatsApp every
conversation and lead of the number Twilio proved; recorded in the audit
trail with counts only; and the deleted events do not come back when Rasa
saves the tracker after the action."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from actions import privacy
from actions.privacy import ASK, ActionDeleteMyData
from db.engine import session_factory
from db.models import ConversationTombstone, Lead, LeadEvent, SmsContact
from db.rasa_events import events
from tests.webapp.staff.conftest import (
    action,
    add_lead,
    faq_chat,
    session_start,
    user,
    write_conversation,
)

NUMBER = "+16045550188"
START = datetime.now(timezone.utc) - timedelta(hours=1)


def bot(text: str, at: float, utter_action: str):
    from rasa.shared.core.events import BotUttered

    return BotUttered(text, metadata={"utter_action": utter_action}, timestamp=at)


def asked(channel: str, metadata: Any = None) -> list:
    """A conversation that asked what is kept and got the offer to delete."""
    at = START.timestamp()
    return [
        *session_start(at),
        user(
            "what do you keep about me",
            "privacy_request",
            at + 1,
            channel,
            metadata=metadata,
        ),  # fmt: skip
        action("utter_privacy", at + 1),
        bot("This chat is stored ...", at + 1, "utter_privacy"),
        action("utter_ask_privacy_delete", at + 1),
        bot("Delete it?", at + 1, ASK),
        action("action_listen", at + 1),
    ]


def answer(
    text: str, intent: str, channel: str, metadata: Any = None
) -> Dict[str, Any]:
    event = user(text, intent, START.timestamp() + 2, channel, metadata=metadata)
    return event.as_dict()


def sdk_tracker(sender_id: str, stored: list, latest: Dict[str, Any]) -> Tracker:
    history: List[Dict[str, Any]] = [e.as_dict() for e in stored] + [latest]
    return Tracker(
        sender_id=sender_id,
        slots={},
        latest_message={**latest["parse_data"], "text": latest["text"]},
        events=history,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(tracker: Tracker) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ActionDeleteMyData().run(dispatcher, tracker, {}))
    assert result == []
    return dispatcher


def senders(url: str) -> set:
    with session_factory(url)() as session:
        return set(session.scalars(select(events.c.sender_id).distinct()))


def leads(url: str) -> set:
    with session_factory(url)() as session:
        return set(session.scalars(select(Lead.sender_id)))


def trail(url: str) -> List[LeadEvent]:
    with session_factory(url)() as session:
        return list(
            session.scalars(
                select(LeadEvent).where(LeadEvent.kind == "privacy_request")
            )
        )


def test_on_the_web_the_conversation_and_its_lead_go(use_database):
    url = use_database
    write_conversation(url, "web:mine", asked("socketio"))
    add_lead(url, sender_id="web:mine", submission_key="m", phone="+16045550122")
    write_conversation(url, "web:other", faq_chat(START, "socketio"))
    add_lead(url, sender_id="web:other", submission_key="o", phone="+16045550111")
    tracker = sdk_tracker(
        "web:mine", asked("socketio"), answer("yes", "affirm", "socketio")
    )
    dispatcher = run(tracker)
    assert senders(url) == {"web:other"} and leads(url) == {"web:other"}
    [message] = dispatcher.messages
    assert message["response"] == "utter_privacy_deleted"
    assert message["leads"] == "1" and message["reference"].startswith("PR-")
    [record] = trail(url)
    assert record.detail == "privacy request: 1 conversation, 1 lead deleted, " + (
        "channel socketio"
    )
    assert record.lead_reference == message["reference"]
    assert "web:mine" not in record.detail and "0122" not in record.detail
    with session_factory(url)() as session:
        deleted = session.scalars(
            select(LeadEvent.detail).where(LeadEvent.kind == "deleted")
        ).one()
        assert message["reference"] in deleted
        assert (
            session.execute(
                select(func.count()).select_from(ConversationTombstone)
            ).scalar_one()
            >= 1
        )


def test_on_sms_every_conversation_and_lead_of_the_number_go(use_database):
    url = use_database
    sms = {"twilio_medium": "sms"}
    write_conversation(url, "tel:" + NUMBER, asked("twilio", sms))
    write_conversation(url, NUMBER, faq_chat(START, "twilio"))  # from before 0006
    add_lead(url, sender_id="tel:" + NUMBER, submission_key="t", phone=NUMBER)
    # A lead left on the website with this number is the number's too.
    write_conversation(url, "web:form", faq_chat(START, "socketio"))
    web = add_lead(url, sender_id="web:form", submission_key="w", phone="+16045550133")
    with session_factory(url)() as session:  # (save_lead would merge it into t)
        session.execute(update(Lead).where(Lead.reference == web).values(phone=NUMBER))
        session.commit()
    write_conversation(url, "tel:+16045550199", faq_chat(START, "twilio"))
    add_lead(url, sender_id="web:x", submission_key="x", phone="+16045550199")
    with session_factory(url)() as session:
        session.add_all([SmsContact(phone=NUMBER), SmsContact(phone="+16045550199")])
        session.commit()
    tracker = sdk_tracker(
        "tel:" + NUMBER, asked("twilio", sms), answer("YES", "affirm", "twilio", sms)
    )
    dispatcher = run(tracker)
    assert senders(url) == {"tel:+16045550199"}
    assert leads(url) == {"web:x"}
    [message] = dispatcher.messages
    assert message["response"] == "utter_privacy_deleted_number"
    assert (message["conversations"], message["leads"]) == ("3", "2")
    [record] = trail(url)
    assert record.detail == (
        "privacy request: 3 conversations, 2 leads deleted, channel sms"
    )
    assert NUMBER not in record.detail
    with session_factory(url)() as session:
        assert set(session.scalars(select(SmsContact.phone))) == {"+16045550199"}


def test_a_stop_opt_out_is_kept(use_database):
    url = use_database
    write_conversation(url, "tel:" + NUMBER, asked("twilio"))
    with session_factory(url)() as session:
        session.add(SmsContact(phone=NUMBER, opted_out_at=datetime.now(timezone.utc)))
        session.commit()
    run(
        sdk_tracker("tel:" + NUMBER, asked("twilio"), answer("yes", "affirm", "twilio"))
    )
    assert senders(url) == set()
    with session_factory(url)() as session:
        assert session.get(SmsContact, NUMBER) is not None


@pytest.mark.parametrize(
    "sender, channel",
    [
        ("rest:" + NUMBER, "rest"),  # a REST client naming itself the number
        ("rest:" + NUMBER, "twilio"),  # even if it claimed the channel
        ("web:" + NUMBER, "socketio"),
    ],
)
def test_no_web_or_rest_client_reaches_a_number(use_database, sender, channel):
    url = use_database
    write_conversation(url, "tel:" + NUMBER, faq_chat(START, "twilio"))
    add_lead(url, sender_id="tel:" + NUMBER, submission_key="t", phone=NUMBER)
    write_conversation(url, sender, asked(channel))
    run(sdk_tracker(sender, asked(channel), answer("yes", "affirm", channel)))
    assert senders(url) == {"tel:" + NUMBER} and leads(url) == {"tel:" + NUMBER}
    assert "1 conversation, 0 leads" in trail(url)[0].detail


@pytest.mark.parametrize(
    "stored, text, intent",
    [
        ("asked", "no", "affirm"),  # the words say no, whatever the intent
        ("asked", "tell me about IMS", "faq"),
        ("faq", "yes", "affirm"),  # a yes to something else
    ],
)
def test_nothing_is_deleted_without_a_yes_to_the_question(
    use_database, stored, text, intent
):
    url = use_database
    history = asked("socketio") if stored == "asked" else faq_chat(START, "socketio")
    write_conversation(url, "web:mine", history)
    dispatcher = run(sdk_tracker("web:mine", history, answer(text, intent, "socketio")))
    assert senders(url) == {"web:mine"}
    assert [m["response"] for m in dispatcher.messages] == ["utter_privacy_kept"]
    assert trail(url) == []


def test_a_database_error_says_nothing_was_deleted(use_database, monkeypatch):
    def broken(*args: Any, **kwargs: Any):
        raise OperationalError("DELETE", {}, Exception("database away"))

    monkeypatch.setattr(privacy, "delete_on_request", broken)
    dispatcher = run(
        sdk_tracker("web:mine", asked("socketio"), answer("yes", "affirm", "socketio"))
    )
    assert [m["response"] for m in dispatcher.messages] == [
        "utter_privacy_delete_failed"
    ]


def test_the_saved_tracker_does_not_bring_the_conversation_back(use_database):
    """Rasa saves the tracker of the turn that ran the action, holding every
    deleted event: the tombstone keeps them out, and the next message
    starts a new, empty conversation."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from rasa_extensions.tracker_store import ResilientSQLTrackerStore

    url = use_database
    history = asked("socketio")
    write_conversation(url, "web:mine", history)
    yes = answer("yes", "affirm", "socketio")
    run(sdk_tracker("web:mine", history, yes))
    store = ResilientSQLTrackerStore(host=url)
    try:
        in_flight = DialogueStateTracker.from_events(
            "web:mine",
            [
                *history,
                UserUttered("yes", intent={"name": "affirm"}, input_channel="socketio"),
                ActionExecuted("action_delete_my_data"),
                BotUttered("Done: this conversation ... deleted"),
                ActionExecuted("action_listen"),
            ],
        )
        asyncio.run(store.save(in_flight))
        assert senders(url) == set()
        assert asyncio.run(store.retrieve("web:mine")) is None
        later = DialogueStateTracker.from_events(
            "web:mine",
            [
                UserUttered(
                    "hi again", intent={"name": "greet"}, input_channel="socketio"
                )
            ],
        )
        asyncio.run(store.save(later))
        with session_factory(url)() as session:
            texts = [
                row.data
                for row in session.execute(
                    select(events.c.data).where(events.c.sender_id == "web:mine")
                )
            ]
        assert len(texts) == 1 and "hi again" in texts[0]
        assert "what do you keep" not in texts[0]
    finally:
        store.engine.dispose()
