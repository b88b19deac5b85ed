"""The lead page: fields, consent, transcript, audit trail, status changes
with notes, and deletion on request."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from db.models import Lead, LeadEvent, LeadStatus, LeadSubmission, OutboxMessage
from db.rasa_events import events
from db.staff_models import LeadNote
from tests.webapp.staff.conftest import (
    action,
    add_lead,
    bot,
    faq_chat,
    post_form,
    session_start,
    slot,
    ts,
    user,
    write_conversation,
)

DAY = datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def lead_with_chat(database_url):
    reference = add_lead(
        database_url,
        sender_id="chat-1",
        name="Zoë O'Brien",
        email="zoe@example.org",
        concern="tennis elbow, worse when typing",
        condition="tennis_elbow",
        red_flag=None,
    )
    write_conversation(
        database_url,
        "chat-1",
        faq_chat(DAY, channel="socketio")
        + [
            user("/request_human", "request_human", ts(DAY, 3), "socketio"),
            action("action_start_lead", ts(DAY, 3)),
            bot("Sure. What's your name?", ts(DAY, 3)),
            user("Zoë O'Brien", "nlu_fallback", ts(DAY, 4), "socketio"),
            slot("lead_name", "Zoë O'Brien", ts(DAY, 4)),
            bot(
                "Thanks! Your reference is " + reference,
                ts(DAY, 9),
                buttons=[{"title": "Talk to the clinic", "payload": "/request_human"}],
            ),
            *session_start(ts(DAY, 600)),
            user("thanks again", "thank", ts(DAY, 601), "socketio"),
        ],
    )
    write_conversation(database_url, "someone-else", faq_chat(DAY))
    return reference


def test_every_field_and_the_consent(signed_in, lead_with_chat):
    html = signed_in.get(f"/staff/leads/{lead_with_chat}").get_data(as_text=True)
    for text in (
        "Zoë O&#39;Brien",
        "+1 604-555-0111",
        "zoe@example.org",
        "mornings",
        "tennis elbow, worse when typing",
        "Tennis elbow",
        "3 to 12 months",
        "2026-01",  # consent wording version
        "2026-01-10 09:00:00",  # consent time
    ):
        assert text in html, text


def test_phone_and_email_are_tap_links(signed_in, lead_with_chat):
    html = signed_in.get(f"/staff/leads/{lead_with_chat}").get_data(as_text=True)
    details = html[html.index('<dl class="fields">') : html.index("</dl>")]
    assert 'href="tel:+16045550111">+1 604-555-0111</a>' in details
    assert 'href="sms:+16045550111">Text<span class="visually-hidden">' in details
    assert 'href="mailto:zoe%40example.org">zoe@example.org</a>' in details


def test_the_transcript_shows_who_said_what_when_and_where(signed_in, lead_with_chat):
    html = signed_in.get(f"/staff/leads/{lead_with_chat}").get_data(as_text=True)
    transcript = html[html.index('<ol class="transcript">') :]
    order = [
        "Person</span> · <time>2026-01-10 09:01:00</time> · Website chat</div>",
        ">hi<",
        "Hi! I&#39;m the automated assistant.",
        "<li>What is IMS?</li><li>Talk to the clinic</li>",  # buttons as shown
        "how often do I need IMS?",
        "Usually once a week at first.",
        '<span class="clicked">[button]</span> Talk to the clinic',
        "Lead form started",
        "Sure. What&#39;s your name?",
        "Thanks! Your reference is " + lead_with_chat,
        "New session",
        "thanks again",
    ]
    position = 0
    for text in order:  # each after the one before
        position = transcript.index(text, position) + len(text)
    assert "Usually once a week" in transcript  # not the other conversation's
    assert "faq/" not in transcript and "intent" not in transcript  # no tags
    assert transcript.count(">hi<") == 1


def test_a_status_change_with_a_note_is_audited(signed_in, lead_with_chat, db_session):
    page = f"/staff/leads/{lead_with_chat}"
    response = post_form(
        signed_in,
        page,
        f"{page}/status",
        {"status": "contacted", "note": "Left a voicemail <b>Tuesday</b>"},
    )
    assert response.status_code == 303 and response.headers["Location"] == page
    lead = db_session.scalars(select(Lead)).one()
    assert lead.status == LeadStatus.CONTACTED
    event = db_session.scalars(
        select(LeadEvent).where(LeadEvent.kind == "status_changed")
    ).one()
    assert (event.actor, event.detail) == ("ana", "from=new; to=contacted")
    note = db_session.scalars(select(LeadNote)).one()
    assert (note.event_id, note.author) == (event.id, "ana")
    assert note.text == "Left a voicemail <b>Tuesday</b>"

    html = signed_in.get(page).get_data(as_text=True)
    assert "New to Contacted" in html
    assert "Left a voicemail &lt;b&gt;Tuesday&lt;/b&gt;" in html
    assert "is now contacted" in html


def test_a_note_without_a_status_change(signed_in, lead_with_chat, db_session):
    page = f"/staff/leads/{lead_with_chat}"
    post_form(signed_in, page, f"{page}/status", {"status": "new", "note": "No answer"})
    kinds = db_session.scalars(
        select(LeadEvent.kind).where(LeadEvent.kind != "viewed").order_by(LeadEvent.id)
    ).all()
    assert kinds == ["created", "note"]
    assert db_session.scalars(select(LeadNote.text)).one() == "No answer"


def test_nothing_changed_adds_no_event(signed_in, lead_with_chat, db_session):
    page = f"/staff/leads/{lead_with_chat}"
    response = post_form(signed_in, page, f"{page}/status", {"status": "new"})
    assert response.status_code == 303
    kinds = db_session.scalars(select(LeadEvent.kind)).all()
    assert "status_changed" not in kinds and "note" not in kinds


@pytest.mark.parametrize(
    "data", [{"status": "lost"}, {"status": "closed", "note": "x" * 2001}, {}]
)
def test_bad_status_posts_are_a_400(signed_in, lead_with_chat, db_session, data):
    page = f"/staff/leads/{lead_with_chat}"
    response = post_form(signed_in, page, f"{page}/status", data)
    assert response.status_code == 400
    assert db_session.scalars(select(Lead.status)).one() == LeadStatus.NEW


@pytest.mark.parametrize(
    "reference", ["IMS-ZZZZZZ", "nonsense", "IMS-" + "A" * 300, "%00", "IMS-abc'--"]
)
def test_unknown_references_are_a_404(signed_in, reference):
    response = signed_in.get(f"/staff/leads/{reference}")
    assert response.status_code == 404
    assert "no lead with that reference" in response.get_data(as_text=True)
    assert signed_in.post(f"/staff/leads/{reference}/status").status_code in (400, 404)


def test_a_reference_in_lower_case_finds_the_lead(signed_in, lead_with_chat):
    assert signed_in.get(f"/staff/leads/{lead_with_chat.lower()}").status_code == 200


def _count(db_session, model, *where):
    return db_session.execute(
        select(func.count()).select_from(model).where(*where)
    ).scalar_one()


def test_delete_on_request(signed_in, lead_with_chat, database_url, db_session):
    page = f"/staff/leads/{lead_with_chat}"
    post_form(
        signed_in, page, f"{page}/status", {"status": "closed", "note": "Zoë asked"}
    )
    assert _count(db_session, events, events.c.sender_id == "chat-1") > 10

    wrong = post_form(signed_in, page, f"{page}/delete", {"confirm": "yes"})
    assert wrong.status_code == 303
    assert _count(db_session, Lead) == 1

    response = post_form(signed_in, page, f"{page}/delete", {"confirm": lead_with_chat})
    assert (
        response.status_code == 303 and response.headers["Location"] == "/staff/leads"
    )
    assert _count(db_session, Lead) == 0
    assert _count(db_session, LeadNote) == 0
    assert _count(db_session, LeadSubmission) == 0
    assert _count(db_session, events, events.c.sender_id == "chat-1") == 0
    assert _count(db_session, events, events.c.sender_id == "someone-else") > 0

    trail = db_session.scalars(
        select(LeadEvent)
        .where(LeadEvent.lead_reference == lead_with_chat)
        .order_by(LeadEvent.id)
    ).all()
    assert [e.kind for e in trail if e.kind != "viewed"] == [
        "created",
        "status_changed",
        "deleted",
    ]
    assert trail[-1].actor == "ana" and trail[-1].lead_id is None
    for event in trail:
        for private in ("Zoë", "zoe@", "5550111", "tennis", "chat-1"):
            assert private not in (event.detail or ""), (event.kind, private)
    outbox = db_session.scalars(select(OutboxMessage.body)).all()
    assert outbox and all("Zoë" not in body for body in outbox)

    gone = signed_in.get("/staff/leads").get_data(as_text=True)
    assert "deleted with its transcript" in gone  # the flash message
    assert signed_in.get(page).status_code == 404


def test_lead_page_survives_a_database_without_rasa_events(signed_in, database_url):
    reference = add_lead(database_url)
    html = signed_in.get(f"/staff/leads/{reference}").get_data(as_text=True)
    assert "No transcript" in html
