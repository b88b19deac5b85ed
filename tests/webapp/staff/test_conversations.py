"""Conversations without a lead, in particular red-flagged ones."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from db.rasa_events import events
from tests.webapp.staff.conftest import (
    action,
    add_lead,
    bot,
    faq_chat,
    post_form,
    slot,
    ts,
    user,
    write_conversation,
)

DAY = datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def chats(database_url):
    """A lead's chat, a red-flagged chat, a plain FAQ chat (a day later)."""
    write_conversation(database_url, "with-lead", faq_chat(DAY))
    add_lead(database_url, sender_id="with-lead")
    write_conversation(
        database_url,
        "red-1",
        faq_chat(DAY, channel="socketio")
        + [
            user(
                "I have crushing chest pain",
                "emergency",
                ts(DAY, 5),
                "socketio",
                entities=[{"entity": "red_flag", "value": "chest_pain"}],
            ),
            slot("red_flag", "chest_pain", ts(DAY, 5)),
            bot("Please call 911 now.", ts(DAY, 5)),
            action("action_flag_red_flag", ts(DAY, 5)),
        ],
    )
    write_conversation(
        database_url,
        "faq-only",
        faq_chat(datetime(2026, 1, 11, 15, tzinfo=timezone.utc)),
    )


def rows(html: str):
    return html.count('<a href="/staff/conversations/view?sender=')


def test_all_conversations_latest_first(signed_in, chats):
    html = signed_in.get("/staff/conversations").get_data(as_text=True)
    assert "3 conversations" in html
    assert html.index("sender=faq-only") < html.index("sender=red-1")
    assert '<td class="text">hi</td>' in html  # the first message
    assert 'class="badge red">Red flag' in html


def test_red_flagged_conversations(signed_in, chats):
    html = signed_in.get("/staff/conversations?show=red_flag").get_data(as_text=True)
    assert rows(html) == 1 and "sender=red-1" in html
    assert "<td>Website chat</td>" in html and "socketio" not in html


def test_conversations_without_a_lead(signed_in, chats):
    html = signed_in.get("/staff/conversations?show=no_lead").get_data(as_text=True)
    assert rows(html) == 2 and "sender=with-lead" not in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ("from=2026-01-11&to=2026-01-11", {"faq-only", "two-days"}),
        ("from=2026-01-12", {"two-days"}),  # active on or after the 12th
        ("to=2026-01-10", {"with-lead", "red-1", "two-days"}),  # began by the 10th
        ("from=2026-01-13", set()),
    ],
)
def test_date_filter(signed_in, chats, database_url, query, expected):
    """A conversation is listed for every day from its first to its last
    message: "two-days" began on the 10th and went on on the 12th."""
    write_conversation(
        database_url,
        "two-days",
        faq_chat(DAY) + [user("one more thing", "faq", ts(DAY, 2 * 24 * 60))],
    )
    html = signed_in.get(f"/staff/conversations?{query}").get_data(as_text=True)
    found = set(re.findall(r'href="/staff/conversations/view\?sender=([\w-]+)"', html))
    assert found == expected


def test_a_red_flagged_conversation(signed_in, chats):
    html = signed_in.get("/staff/conversations/view?sender=red-1").get_data(
        as_text=True
    )
    assert "I have crushing chest pain" in html
    assert "Red flag: Chest pain" in html and "Marked as a red flag" in html
    assert "No lead was left" in html and "Delete conversation" in html


def test_a_conversation_with_a_lead_links_to_it_and_logs_the_view(
    signed_in, chats, db_session
):
    from db.models import LeadEvent

    html = signed_in.get("/staff/conversations/view?sender=with-lead").get_data(
        as_text=True
    )
    assert 'href="/staff/leads/IMS-' in html and "Delete conversation" not in html
    views = db_session.scalars(
        select(LeadEvent.detail).where(LeadEvent.kind == "viewed")
    ).all()
    assert views == ["conversation page"]


@pytest.mark.parametrize(
    "query, code",
    [
        ("", 400),
        ("?sender=", 400),
        ("?sender=" + "x" * 300, 400),
        ("?sender=nobody", 404),
        ("?sender=%27%20OR%201%3D1--", 404),
    ],
)
def test_bad_conversation_links(signed_in, chats, query, code):
    assert signed_in.get(f"/staff/conversations/view{query}").status_code == code


@pytest.mark.parametrize(
    "query",
    [
        "show=everything",
        "page=x",
        "page=0",
        "from=2026-99-01",
        "to=soon",
        "to=9999-12-31",
        "from=0001-01-01",
    ],
)
def test_bad_list_filters_are_a_400(signed_in, chats, query):
    assert signed_in.get(f"/staff/conversations?{query}").status_code == 400


def test_a_page_past_the_end_is_a_404(signed_in, chats):
    assert signed_in.get("/staff/conversations?page=2").status_code == 404


def _events(db_session, sender):
    return db_session.execute(
        select(func.count()).select_from(events).where(events.c.sender_id == sender)
    ).scalar_one()


def test_delete_a_conversation_on_request(signed_in, chats, db_session):
    page = "/staff/conversations/view?sender=red-1"
    action_url = "/staff/conversations/delete"
    post_form(signed_in, page, action_url, {"sender": "red-1", "confirm": "no"})
    assert _events(db_session, "red-1") > 0
    response = post_form(
        signed_in, page, action_url, {"sender": "red-1", "confirm": "DELETE"}
    )
    assert response.status_code == 303
    assert _events(db_session, "red-1") == 0
    assert _events(db_session, "faq-only") > 0
    assert signed_in.get(page).status_code == 404


def test_a_lead_conversation_is_deleted_with_its_lead_only(
    signed_in, chats, db_session
):
    page = "/staff/conversations/view?sender=with-lead"
    post_form(
        signed_in,
        page,
        "/staff/conversations/delete",
        {"sender": "with-lead", "confirm": "DELETE"},
    )
    assert _events(db_session, "with-lead") > 0


def test_no_conversations_before_rasa_ever_ran(signed_in):
    response = signed_in.get("/staff/conversations?show=red_flag")
    assert response.status_code == 200
    assert "No conversations match" in response.get_data(as_text=True)
    assert signed_in.get("/staff/conversations/view?sender=x").status_code == 404
