"""The staff app's live chat (webapp/staff/chats.py): the Chats page, take,
reply, end and availability, with Rasa's HTTP API replaced by a recorder."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask.testing import FlaskClient

from clinic import rasa_api
from db import handoff
from db.engine import session_factory
from db.staff_models import HandoffChat
from tests.webapp.staff.conftest import (
    add_user,
    bot,
    csrf_from,
    login,
    session_start,
    slot,
    ts,
    user,
    write_conversation,
)
from webapp.staff import chats, roles
from webapp.staff.transcript import build_transcript

SENDER = "tel:+16045550100"
DAY = datetime(2026, 12, 3, 17, 0, tzinfo=timezone.utc)


def unavailable(maybe_applied: bool) -> rasa_api.RasaUnavailable:
    """RasaUnavailable as clinic/rasa_api.py raises it."""
    return rasa_api.RasaUnavailable("down", maybe_applied=maybe_applied)


@pytest.fixture
def rasa(monkeypatch):
    """Records what would go to Rasa's HTTP API; `.down = True` fails it
    before it reaches Rasa, `.down = <RasaUnavailable>` with that error;
    `.during(sender_id)` runs while the next call is made."""

    class Recorder:
        down = False
        calls: list = []
        during = None

        def __call__(self, url, token, sender_id, events):
            if self.during is not None:
                during, self.during = self.during, None
                during(sender_id)
            if isinstance(self.down, Exception):
                raise self.down
            if self.down:
                raise unavailable(maybe_applied=False)
            self.calls.append((sender_id, events))

    recorder = Recorder()
    recorder.calls = []
    monkeypatch.setattr(rasa_api, "append_events", recorder)
    return recorder


def front_desk(app, name: str) -> FlaskClient:
    add_user(app.config["DATABASE_URL"], name, role=roles.FRONT_DESK)
    client = app.test_client()
    assert login(client, name).status_code == 303
    return client


def waiting_chat(database_url: str, sender: str = SENDER) -> int:
    write_conversation(
        database_url,
        sender,
        [
            *session_start(ts(DAY)),
            user("I have chest pain", "emergency", ts(DAY, 1), "twilio"),
            slot("red_flag", "chest_pain", ts(DAY, 1)),
            bot("Please call 911 now.", ts(DAY, 1)),
            user("/request_human", "request_human", ts(DAY, 2), "twilio"),
            user("is anyone there? my name is Ana", "greet", ts(DAY, 3), "twilio"),
        ],
    )
    with session_factory(database_url)() as session:
        chat = handoff.request_chat(session, sender, "twilio", timedelta(minutes=3))
        session.commit()
        return chat.id


def post(client: FlaskClient, page: str, action: str, **data: str):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data})


def status(database_url: str, chat_id: int) -> str:
    with session_factory(database_url)() as session:
        return session.get(HandoffChat, chat_id).status


def test_the_chats_page_lists_a_waiting_chat(app, database_url, rasa):
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    page = fay.get("/staff/chats")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1 chat waiting for a person" in html
    assert "is anyone there? my name is Ana" in html  # the last message
    assert "Red flag" in html and "<td>SMS or WhatsApp</td>" in html
    assert f"/staff/chats/{chat_id}" in html
    assert 'hx-get="/staff/chats/list"' in html and "every 3s" in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe" not in policy
    listed = fay.get("/staff/chats/list").get_data(as_text=True)
    assert "<html" not in listed  # the list alone, for htmx to swap in
    assert f'data-waiting="{chat_id}"' in listed


def test_take_reply_and_end(app, database_url, rasa):
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    page = f"/staff/chats/{chat_id}"
    assert post(fay, page, f"{page}/take").status_code == 303
    assert status(database_url, chat_id) == "held"
    [(sender, events)] = rasa.calls
    assert sender == SENDER
    assert events[0] == {"event": "cancel_reminder", "name": "handoff_timeout"}
    assert events[1] == {"event": "slot", "name": "handoff", "value": "held"}
    assert events[2]["text"].startswith("Fay from the clinic has joined")
    staff = events[2]["metadata"]["handoff"]
    assert staff["staff"] == "fay" and isinstance(staff["staff_id"], int)

    assert post(fay, page, f"{page}/reply", text="Hi, I'm here.").status_code == 303
    assert rasa.calls[-1][1] == [
        rasa_api.staff_message("Hi, I'm here.", staff["staff_id"], "fay")
    ]
    assert post(fay, page, f"{page}/end").status_code == 303
    assert rasa.calls[-1][1] == [
        {"event": "cancel_reminder", "name": "handoff_timeout"},
        {"event": "slot", "name": "handoff", "value": None},
        rasa_api.staff_message(chats.ENDED, staff["staff_id"], "fay"),
    ]
    assert status(database_url, chat_id) == "ended"


def test_a_second_taker_is_told_who_has_it(app, database_url, rasa):
    chat_id = waiting_chat(database_url)
    fay, gus = front_desk(app, "fay"), front_desk(app, "gus")
    page = f"/staff/chats/{chat_id}"
    token_fay = csrf_from(fay.get(page).get_data(as_text=True))
    token_gus = csrf_from(gus.get(page).get_data(as_text=True))
    # Both pages showed "Take"; both click.
    assert fay.post(f"{page}/take", data={"csrf_token": token_fay}).status_code == 303
    lost = gus.post(f"{page}/take", data={"csrf_token": token_gus})
    assert lost.status_code == 303 and len(rasa.calls) == 1
    assert "fay has already taken this chat" in gus.get(page).get_data(as_text=True)
    # Only the holder replies or ends.
    assert post(gus, page, f"{page}/reply", text="me too").status_code == 409
    assert post(gus, page, f"{page}/end").status_code == 409
    assert len(rasa.calls) == 1


def test_an_admin_may_take_chats_too(app, database_url, rasa, signed_in):
    chat_id = waiting_chat(database_url)
    page = f"/staff/chats/{chat_id}"
    assert post(signed_in, page, f"{page}/take").status_code == 303
    assert status(database_url, chat_id) == "held"


def test_rasa_unreachable_leaves_the_chat_waiting(app, database_url, rasa):
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    rasa.down = True
    page = f"/staff/chats/{chat_id}"
    assert post(fay, page, f"{page}/take").status_code == 303
    assert status(database_url, chat_id) == "waiting"
    assert "could not be reached" in fay.get(page).get_data(as_text=True)


@pytest.mark.parametrize(
    ("text", "code"), [("", 400), ("   ", 400), ("x" * 1001, 400), ("\x00", 400)]
)
def test_bad_replies_are_refused(app, database_url, rasa, text, code):
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    page = f"/staff/chats/{chat_id}"
    post(fay, page, f"{page}/take")
    assert post(fay, page, f"{page}/reply", text=text).status_code == code
    assert len(rasa.calls) == 1  # the take only


def test_posts_need_the_csrf_token(app, database_url, rasa):
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    for action in ("take", "reply", "end"):
        response = fay.post(f"/staff/chats/{chat_id}/{action}", data={"text": "x"})
        assert response.status_code == 400
    assert fay.post("/staff/chats/availability", data={}).status_code == 400
    assert rasa.calls == [] and status(database_url, chat_id) == "waiting"


@pytest.mark.parametrize(
    "path", ["/staff/chats/0", "/staff/chats/99999999999999999999999", "/staff/chats/x"]
)
def test_unknown_chats_are_404(app, database_url, path):
    fay = front_desk(app, "fay")
    assert fay.get(path).status_code == 404
    assert fay.get(path + "/transcript").status_code == 404


def test_everything_needs_a_sign_in(client, database_url):
    chat_id = waiting_chat(database_url)
    for path in (
        "/staff/chats",
        "/staff/chats/list",
        f"/staff/chats/{chat_id}",
        "/staff/chats/htmx.min.js",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/staff/login" in response.location
    for action in ("take", "reply", "end"):
        assert client.post(f"/staff/chats/{chat_id}/{action}").status_code in (
            400,
            401,
        )
    assert status(database_url, chat_id) == "waiting"


def test_availability_on_and_off(app, database_url):
    fay = front_desk(app, "fay")
    assert "Take chats" in fay.get("/staff/chats").get_data(as_text=True)
    assert post(fay, "/staff/chats", "/staff/chats/availability", available="on")
    assert "Stop taking chats" in fay.get("/staff/chats").get_data(as_text=True)
    with session_factory(database_url)() as session:
        assert len(handoff.signed_in_and_available(session, timedelta(hours=1))) == 1
    post(fay, "/staff/chats", "/staff/chats/availability", available="off")
    with session_factory(database_url)() as session:
        assert handoff.signed_in_and_available(session, timedelta(hours=1)) == []
    bad = post(fay, "/staff/chats", "/staff/chats/availability", available="maybe")
    assert bad.status_code == 400


def test_the_chat_page_shows_the_transcript_polled(app, database_url, rasa):
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    html = fay.get(f"/staff/chats/{chat_id}").get_data(as_text=True)
    assert "is anyone there? my name is Ana" in html and "Take this chat" in html
    assert f'hx-get="/staff/chats/{chat_id}/transcript"' in html
    part = fay.get(f"/staff/chats/{chat_id}/transcript").get_data(as_text=True)
    assert "Waiting for a person" in part and "<html" not in part


def test_the_htmx_file_is_served_to_staff(app, database_url):
    fay = front_desk(app, "fay")
    response = fay.get("/staff/chats/htmx.min.js")
    assert response.status_code == 200 and b"htmx" in response.data[:2000]


def test_staff_messages_show_who_wrote_them():
    from rasa.shared.core.events import BotUttered

    class Row:
        def __init__(self, event):
            import json

            data = event.as_dict()
            self.type_name = data["event"]
            self.timestamp = data["timestamp"]
            self.action_name = None
            self.data = json.dumps(data)

    event = BotUttered(
        "Hi, I'm here.", metadata={"handoff": {"staff_id": 1, "staff": "fay"}}
    )
    [turn] = build_transcript([Row(event)])
    assert (turn.kind, turn.author, turn.text) == ("staff", "fay", "Hi, I'm here.")


def whatsapp_chat(database_url: str, hours_ago: float) -> int:
    from db.models import utcnow

    at = (utcnow() - timedelta(hours=hours_ago)).timestamp()
    write_conversation(
        database_url,
        SENDER,
        [
            *session_start(at),
            user(
                "/request_human",
                "request_human",
                at,
                "twilio",
                metadata={"twilio_medium": "whatsapp"},
            ),
        ],
    )
    with session_factory(database_url)() as session:
        chat = handoff.request_chat(session, SENDER, "twilio", timedelta(minutes=3))
        session.commit()
        return chat.id


@pytest.mark.parametrize(("hours_ago", "sent"), [(23, True), (25, False)])
def test_whatsapp_s_24_hour_rule(app, database_url, rasa, hours_ago, sent):
    chat_id = whatsapp_chat(database_url, hours_ago)
    fay = front_desk(app, "fay")
    page = f"/staff/chats/{chat_id}"
    post(fay, page, f"{page}/take")
    post(fay, page, f"{page}/reply", text="Are you still there?")
    html = fay.get(page).get_data(as_text=True)
    replies = [e for _, events in rasa.calls for e in events if e.get("text")]
    assert ("Are you still there?" in [e["text"] for e in replies]) is sent
    assert ("more than 24 hours old" in html) is not sent
    if not sent:
        assert "Not sent: WhatsApp" in html and 'href="tel:+16045550100"' in html
        post(fay, page, f"{page}/end")  # the slot is cleared, no message sent
        assert rasa.calls[-1][1] == [
            {"event": "cancel_reminder", "name": "handoff_timeout"},
            {"event": "slot", "name": "handoff", "value": None},
        ]
        assert status(database_url, chat_id) == "ended"


def test_taking_and_ending_are_in_the_lead_s_audit_trail(app, database_url, rasa):
    from sqlalchemy import select

    from db.models import LeadEvent
    from tests.webapp.staff.conftest import add_lead

    chat_id = waiting_chat(database_url)
    reference = add_lead(database_url, sender_id=SENDER)
    fay = front_desk(app, "fay")
    page = f"/staff/chats/{chat_id}"
    post(fay, page, f"{page}/take")
    post(fay, page, f"{page}/end")
    with session_factory(database_url)() as session:
        trail = session.execute(
            select(LeadEvent.kind, LeadEvent.actor, LeadEvent.detail)
            .where(LeadEvent.lead_reference == reference)
            .where(LeadEvent.kind.like("chat_%"))
            .order_by(LeadEvent.id)
        ).all()
    assert trail == [
        ("chat_taken", "fay", f"chat {chat_id}"),
        ("chat_ended", "fay", f"chat {chat_id}"),
    ]


def append(database_url: str, events: list, sender_id: str = SENDER) -> None:
    """Events added to a stored conversation as Rasa adds them (the tracker
    retrieved, updated and saved)."""
    import asyncio

    from rasa_extensions.tracker_store import ResilientSQLTrackerStore

    store = ResilientSQLTrackerStore(host=database_url)
    try:
        tracker = asyncio.run(store.retrieve(sender_id))
        for event in events:
            tracker.update(event)
        asyncio.run(store.save(tracker))
    finally:
        store.engine.dispose()


def held_in_rasa(database_url: str, value: str = "held") -> None:
    """Rasa's side of a take (or of a reminder's late timeout): the slot,
    stored with the rest of the conversation."""
    append(database_url, [slot("handoff", value, ts(DAY, 4))])


@pytest.mark.parametrize(
    ("maybe_applied", "after"),
    [(False, "waiting"), (True, "held")],
)
def test_a_take_rasa_did_not_confirm(app, database_url, rasa, maybe_applied, after):
    """Rasa not reached: the chat waits again. Rasa perhaps reached (a
    timeout, an answer cut short): the person may have been told someone
    joined, so the chat stays taken and the page says what to do."""
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    page = f"/staff/chats/{chat_id}"
    rasa.down = unavailable(maybe_applied)
    assert post(fay, page, f"{page}/take").status_code == 303
    assert status(database_url, chat_id) == after
    html = fay.get(page).get_data(as_text=True)
    if after == "waiting":
        assert "the person was not told: the chat is still waiting" in html
        assert "Take this chat" in html and "/join" not in html
        return
    assert "did not confirm that the person was told you joined" in html
    assert f'action="/staff/chats/{chat_id}/join"' in html and "Your message" in html
    assert "Take this chat" not in html
    # Rasa is back: the join goes again, and once Rasa has the chat held the
    # page stops asking.
    rasa.down = False
    assert post(fay, page, f"{page}/join").status_code == 303
    [(_, events)] = rasa.calls
    assert events[:2] == [
        {"event": "cancel_reminder", "name": "handoff_timeout"},
        {"event": "slot", "name": "handoff", "value": "held"},
    ]
    assert events[2]["text"].startswith("Fay from the clinic has joined")
    held_in_rasa(database_url)
    part = fay.get(f"{page}/transcript").get_data(as_text=True)
    assert "Held by fay" in part and "/join" not in part


@pytest.mark.parametrize(("in_rasa", "asks"), [("waiting", True), ("held", False)])
def test_the_page_asks_to_tell_them_until_rasa_holds_the_chat(
    app, database_url, rasa, in_rasa, asks
):
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    page = f"/staff/chats/{chat_id}"
    rasa.down = unavailable(True)
    post(fay, page, f"{page}/take")
    held_in_rasa(database_url, in_rasa)
    part = fay.get(f"{page}/transcript").get_data(as_text=True)
    assert (f'action="/staff/chats/{chat_id}/join"' in part) is asks


def test_only_the_holder_tells_them_again(app, database_url, rasa):
    chat_id = waiting_chat(database_url)
    fay, gus = front_desk(app, "fay"), front_desk(app, "gus")
    page = f"/staff/chats/{chat_id}"
    rasa.down = unavailable(True)
    post(fay, page, f"{page}/take")
    rasa.down = False
    assert "/join" not in gus.get(page).get_data(as_text=True)
    assert post(gus, page, f"{page}/join").status_code == 409
    assert fay.post(f"{page}/join").status_code == 400  # no CSRF token
    assert rasa.calls == []


def end_as_a_new_session_does(database_url: str, monkeypatch) -> None:
    from actions import session

    monkeypatch.setenv("DATABASE_URL", database_url)
    assert session.end_open_chats(SENDER, datetime.now(timezone.utc)) == 1


def test_a_chat_the_person_left_for_a_new_session_shows_ended(
    app, database_url, rasa, monkeypatch
):
    """The person came back after the session expired: the assistant ended
    the chat (actions/session.py). The holder sees so, and what they send
    goes nowhere near the person (the bot is answering them now)."""
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    page = f"/staff/chats/{chat_id}"
    post(fay, page, f"{page}/take")
    end_as_a_new_session_does(database_url, monkeypatch)
    part = fay.get(f"{page}/transcript").get_data(as_text=True)
    assert "Chat ended" in part and "your messages are no longer sent" in part
    calls = len(rasa.calls)
    for action, data in (("reply", {"text": "Still there?"}), ("end", {})):
        response = post(fay, page, f"{page}/{action}", **data)
        assert response.status_code == 303
    assert len(rasa.calls) == calls
    html = fay.get(page).get_data(as_text=True)
    assert "Not sent: this chat has ended" in html
    assert "Your message" not in html and "Take this chat" not in html
    listed = fay.get("/staff/chats/list").get_data(as_text=True)
    assert f"/staff/chats/{chat_id}" not in listed


def test_a_new_session_during_the_take_gives_the_chat_back_to_the_bot(
    app, database_url, rasa, monkeypatch
):
    """The take's UPDATE, then the person's new session ends the chat, then
    the take's events reach Rasa (held, in the new session): Rasa is told
    the chat ended, so the bot does not stay silent with nobody there."""
    chat_id = waiting_chat(database_url)
    fay = front_desk(app, "fay")
    page = f"/staff/chats/{chat_id}"
    rasa.during = lambda sender: end_as_a_new_session_does(database_url, monkeypatch)
    assert post(fay, page, f"{page}/take").status_code == 303
    assert [events[1] for _, events in rasa.calls] == [
        {"event": "slot", "name": "handoff", "value": "held"},
        {"event": "slot", "name": "handoff", "value": None},
    ]
    assert status(database_url, chat_id) == "ended"
    html = fay.get(page).get_data(as_text=True)
    assert "started a new conversation with the assistant" in html


def external(intent: str, at: float):
    """A user event as Rasa makes it for a reminder or trigger_intent."""
    from rasa.shared.core.events import UserUttered

    event = UserUttered.create_external(intent, [], "twilio")
    event.timestamp = at
    return event


def test_rasa_s_external_events_are_not_the_person_s_messages():
    from rasa.shared.core.constants import EXTERNAL_MESSAGE_PREFIX, IS_EXTERNAL

    assert (chats.IS_EXTERNAL, chats.EXTERNAL_PREFIX) == (
        IS_EXTERNAL,
        EXTERNAL_MESSAGE_PREFIX,
    )
    made_up = external("EXTERNAL_handoff_timeout", 0).as_dict()
    assert chats.is_external(made_up)
    made_up["metadata"] = {}  # as a tracker store that dropped the metadata
    assert chats.is_external(made_up)
    said = user("EXTERNAL: hello", "greet", 0).as_dict()
    assert not chats.is_external(said)


@pytest.mark.parametrize("read_at_once", [20, 2])
def test_the_last_message_is_what_the_person_wrote(
    app, database_url, rasa, monkeypatch, read_at_once
):
    """A reminder that fired late (EXTERNAL_handoff_timeout while the chat is
    held) and a trigger_intent are user events too, but nobody wrote them."""
    monkeypatch.setattr(chats, "USER_EVENTS_READ", read_at_once, raising=False)
    chat_id = waiting_chat(database_url)
    append(
        database_url,
        [
            external("EXTERNAL_handoff_timeout", ts(DAY, 6)),
            external("EXTERNAL_handoff_timeout", ts(DAY, 7)),
            external("greet", ts(DAY, 8)),
        ],
    )
    fay = front_desk(app, "fay")
    listed = fay.get("/staff/chats/list").get_data(as_text=True)
    assert f"/staff/chats/{chat_id}" in listed
    assert "is anyone there? my name is Ana" in listed
    assert "EXTERNAL" not in listed


def test_whatsapp_s_24_hours_count_from_the_person_s_own_message(
    app, database_url, rasa
):
    from db.models import utcnow

    chat_id = whatsapp_chat(database_url, hours_ago=25)
    # The wait's reminder, an hour ago (Rasa's own event: no medium of its own).
    reminder = external("EXTERNAL_handoff_timeout", utcnow().timestamp() - 3600)
    append(database_url, [reminder])
    fay = front_desk(app, "fay")
    page = f"/staff/chats/{chat_id}"
    post(fay, page, f"{page}/take")
    post(fay, page, f"{page}/reply", text="Are you still there?")
    sent = [e.get("text") for _, events in rasa.calls for e in events]
    assert "Are you still there?" not in sent
    assert "Not sent: WhatsApp" in fay.get(page).get_data(as_text=True)
