"""Staff read words, not the codes the assistant stores: channels, answers,
FAQ topics, red flags and the audit trail (webapp/staff/labels.py), on every
page, the dashboard and the CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import update

from clinic.faq_topics import TOPICS
from components.red_flags import COMPOUND_FLAGS, RED_FLAGS
from db.models import OutboxMessage, utcnow
from tests.webapp.staff.conftest import (
    add_lead,
    bot,
    export_csv,
    faq_chat,
    post_form,
    session_start,
    slot,
    ts,
    user,
    write_conversation,
)
from webapp.staff import labels

DAY = datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc)
WHATSAPP = {"twilio_medium": "whatsapp"}


@pytest.mark.parametrize(
    "name, medium, words",
    [
        ("socketio", None, "Website chat"),
        ("twilio", "sms", "SMS"),
        ("twilio", "whatsapp", "WhatsApp"),
        ("twilio", None, "SMS or WhatsApp"),
        ("rest", None, "Chat API"),
        ("unknown", None, "Unknown"),
        ("some_new_channel", None, "Some new channel"),
        (None, None, "—"),
    ],
)
def test_channels_in_words(name, medium, words):
    assert labels.channel(name, medium) == words


@pytest.mark.parametrize(
    "function, code, words",
    [
        (labels.screening, "prefer_not", "Prefer not to say"),
        (labels.screening, "yes", "Yes"),
        (labels.contact_method, "text", "Text message"),
        (labels.kind, "callback", "Call back"),
        (labels.kind, "assessment", "Booking"),
        (labels.condition, "frozen_shoulder", "Frozen shoulder"),
        (labels.red_flag, "bladder_bowel", "Bladder or bowel control"),
        (labels.status, "not_a_fit", "Not a fit"),
        (labels.topic, "faq/conditions_treated", "Conditions IMS treats"),
        (labels.topic, "frequency", "How often to come"),
        (labels.topic, "faq", "FAQ (topic not known)"),
        (labels.phone, "+16045550129", "+1 604-555-0129"),
    ],
)
def test_codes_in_words(function, code, words):
    assert function(code) == words


def test_every_red_flag_and_topic_has_a_name_of_its_own():
    categories = {name for name, _ in RED_FLAGS} | {name for name, _ in COMPOUND_FLAGS}
    assert categories - set(labels.RED_FLAGS) == set()
    assert all(labels.topic(f"faq/{topic}") == TOPICS[topic][0] for topic in TOPICS)


@pytest.mark.parametrize(
    "kind, detail, words",
    [
        ("status_changed", "from=new; to=not_a_fit", "New to Not a fit"),
        ("created", "channel=socketio; kind=callback", "Website chat; Call back"),
        ("updated", "channel=rest; fields=phone,contact_method", "Chat API; "
         "changed: phone, contact by"),
        ("notified", "transport=local", "kept in the outbox"),
        ("deleted", "deleted on request by staff; transcript events deleted=4",
         "deleted on request by staff; transcript events deleted: 4"),
        ("viewed", "lead page", "lead page"),
        ("note", None, ""),
    ],
)  # fmt: skip
def test_the_audit_trail_in_words(kind, detail, words):
    assert labels.event_detail(kind, detail) == words


# ---- on the pages ------------------------------------------------------------


@pytest.fixture
def whatsapp_lead(database_url):
    """A call-back asked for on WhatsApp, safety question not answered."""
    sender = "+16045550142"
    reference = add_lead(
        database_url,
        sender_id=sender,
        channel="twilio",
        kind="callback",
        phone=sender,
        screening="prefer_not",
        contact_method="text",
        condition="frozen_shoulder",
        red_flag="chest_pain",
    )
    write_conversation(
        database_url,
        sender,
        [
            *session_start(ts(DAY)),
            user("hi", "greet", ts(DAY, 1), "twilio", metadata=WHATSAPP),
            bot("Hi! I'm the automated assistant.", ts(DAY, 1)),
            user(
                "what conditions does IMS treat?",
                "faq",
                ts(DAY, 2),
                "twilio",
                "conditions_treated",
                metadata=WHATSAPP,
            ),
            bot("IMS treats long-lasting muscle and nerve pain.", ts(DAY, 2)),
            slot("red_flag", "chest_pain", ts(DAY, 3)),
        ],
    )
    return reference


CODES = re.compile(
    r"\b(socketio|twilio|prefer_not|frozen_shoulder|chest_pain|callback"
    r"|faq/\w+|conditions_treated|status_changed|greet|nlu_fallback)\b"
)


def visible_text(html: str) -> str:
    """The page's text and attribute values a person reads (not hrefs and
    form values, which carry the codes back to the server)."""
    html = re.sub(r'\s(href|value|action|name|id|for|class)="[^"]*"', "", html)
    return html


def test_the_lead_page_shows_no_codes(signed_in, whatsapp_lead):
    html = signed_in.get(f"/staff/leads/{whatsapp_lead}").get_data(as_text=True)
    assert CODES.findall(visible_text(html)) == []
    for words in (
        "WhatsApp",
        "Prefer not to say",
        "Text message",
        "Call back",
        "Frozen shoulder",
        "Red flag: Chest pain",
        "+1 604-555-0142",
    ):
        assert words in html, words
    assert "SMS or WhatsApp; Call back" in html  # the trail's "created" line


def test_the_transcript_has_no_intent_tags(signed_in, whatsapp_lead):
    page = signed_in.get("/staff/conversations/view?sender=%2B16045550142")
    html = page.get_data(as_text=True)
    assert CODES.findall(visible_text(html)) == []
    meta = re.findall(r'<div class="meta">(.*?)</div>', html)
    assert len(meta) == 4 and all("WhatsApp" in line for line in meta[::2])
    assert "Red flag: Chest pain" in html


def test_the_trail_says_status_changes_in_words(signed_in, whatsapp_lead):
    page = f"/staff/leads/{whatsapp_lead}"
    post_form(signed_in, page, f"{page}/status", {"status": "not_a_fit", "note": ""})
    html = signed_in.get(page).get_data(as_text=True)
    assert "New to Not a fit" in html and "from=new" not in html
    assert "Status changed" in html


def test_the_queue_and_the_conversation_list_show_channels_in_words(
    signed_in, whatsapp_lead, database_url
):
    write_conversation(database_url, "web-9", faq_chat(DAY, channel="socketio"))
    queue = signed_in.get("/staff/leads").get_data(as_text=True)
    assert "WhatsApp" in queue
    assert '<option value="twilio" >SMS or WhatsApp</option>' in queue
    listing = signed_in.get("/staff/conversations").get_data(as_text=True)
    assert "<td>WhatsApp</td>" in listing and "<td>Website chat</td>" in listing
    assert "<td>twilio</td>" not in listing and "<td>socketio</td>" not in listing


def test_the_dashboard_names_topics_channels_and_red_flags(
    signed_in, whatsapp_lead, database_url
):
    write_conversation(database_url, "web-9", faq_chat(DAY, channel="socketio"))
    html = signed_in.get("/staff/dashboard?from=2026-01-01&to=2026-01-31").get_data(
        as_text=True
    )
    for words in ("Conditions IMS treats", "How often to come", "WhatsApp",
                  "Website chat", "Chest pain"):  # fmt: skip
        assert f"<title>{words}: 1</title>" in html, words
    assert "faq/" not in html and "socketio" not in html and "chest_pain" not in html


def test_the_export_is_in_words(signed_in, whatsapp_lead):
    text = export_csv(signed_in).get_data(as_text=True)
    [row] = list(csv.DictReader(io.StringIO(text[1:])))
    assert row["Channel"] == "SMS or WhatsApp"
    assert row["Safety question"] == "Prefer not to say"
    assert (row["Request"], row["Contact by"]) == ("Call back", "Text message")
    assert (row["Red flag"], row["Condition"]) == ("Chest pain", "Frozen shoulder")
    assert row["Status"] == "New"


def test_the_outbox_says_how_each_message_went(signed_in, whatsapp_lead, db_session):
    db_session.execute(
        update(OutboxMessage).values(sent_at=utcnow(), transport="local")
    )
    db_session.commit()
    html = signed_in.get("/staff/outbox").get_data(as_text=True)
    assert "Kept here (no email server set up) · " in html
    assert ">local" not in html
