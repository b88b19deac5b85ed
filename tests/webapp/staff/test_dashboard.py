"""The dashboard's figures over a period, on a known set of conversations."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from db.models import Lead
from tests.webapp.staff.conftest import (
    action,
    add_lead,
    bot,
    post_form,
    session_start,
    slot,
    ts,
    user,
    write_conversation,
)
from webapp.staff import dashboard

UTC = ZoneInfo("UTC")
SMS = {"twilio_medium": "sms"}
DAY1 = datetime(2026, 1, 10, 9, tzinfo=timezone.utc)
DAY2 = datetime(2026, 1, 11, 9, tzinfo=timezone.utc)
LATER = datetime(2026, 2, 20, 9, tzinfo=timezone.utc)


@pytest.fixture
def history(database_url, db_session, signed_in):
    def chat(sender, start, channel, turns):
        write_conversation(database_url, sender, [*session_start(ts(start)), *turns])

    chat(
        "a",
        DAY1,
        "rest",
        [
            user("hi", "greet", ts(DAY1, 1), "rest"),
            bot("Hi!", ts(DAY1, 1)),
            user("how often?", "faq", ts(DAY1, 2), "rest", "frequency"),
            user("does it hurt?", "faq", ts(DAY1, 3), "rest", "does_it_hurt"),
            user("can I bring my dog", "nlu_fallback", ts(DAY1, 4), "rest"),
        ],
    )
    chat(
        "b",
        DAY1,
        "socketio",
        [
            user("how often do I come", "faq", ts(DAY1, 5), "socketio", "frequency"),
            user("chest pain", "emergency", ts(DAY1, 6), "socketio"),
            slot("red_flag", "chest_pain", ts(DAY1, 6)),
            action("action_flag_red_flag", ts(DAY1, 6)),
        ],
    )
    chat(
        "c",
        DAY2,
        "twilio",
        [
            user("weekly?", "faq", ts(DAY2, 1), "twilio", "frequency", metadata=SMS),
            user(
                "/request_human", "request_human", ts(DAY2, 2), "twilio", metadata=SMS
            ),
            action("action_start_lead", ts(DAY2, 2)),
            user(
                "can I bring my dog",
                "nlu_fallback",
                ts(DAY2, 3),
                "twilio",
                metadata=SMS,
            ),
            user("parking?", "nlu_fallback", ts(DAY2, 4), "twilio", metadata=SMS),
        ],
    )
    chat(
        "d",
        LATER,
        "rest",
        [
            user("outside the period", "nlu_fallback", ts(LATER, 1), "rest"),
            action("action_start_lead", ts(LATER, 2)),
        ],
    )

    booked = add_lead(
        database_url, sender_id="c", channel="twilio", phone="+16045550001"
    )
    unfit = add_lead(database_url, sender_id="x", channel="rest", phone="+16045550002")
    add_lead(database_url, sender_id="y", channel="rest", phone="+16045550003")
    late = add_lead(database_url, sender_id="d", channel="rest", phone="+16045550004")
    db_session.execute(update(Lead).values(created_at=DAY2))
    db_session.execute(
        update(Lead).where(Lead.reference == late).values(created_at=LATER)
    )
    db_session.commit()
    for reference, statuses in (
        (booked, ["contacted", "booked"]),
        (unfit, ["contacted", "not_a_fit"]),
        (late, ["booked"]),
    ):
        page = f"/staff/leads/{reference}"
        for status in statuses:
            post_form(signed_in, page, f"{page}/status", {"status": status})
    return db_session  # fmt: skip


def test_figures_over_a_period(history):
    board = dashboard.build(history, date(2026, 1, 10), date(2026, 1, 11), UTC)
    assert board.days == [(date(2026, 1, 10), 2), (date(2026, 1, 11), 1)]
    assert (board.conversations, board.user_messages, board.fallbacks) == (3, 10, 3)
    assert board.fallback_rate == pytest.approx(0.3)
    assert board.fallback_messages == [("can I bring my dog", 2), ("parking?", 1)]
    assert board.topics == [("How often to come", 3), ("Does it hurt?", 1)]
    assert board.red_flag_conversations == 1
    assert board.red_flag_categories == [("Chest pain", 1)]
    assert [sender for sender, _ in board.red_flag_senders] == ["b"]
    assert board.conversation_channels == [
        ("Chat API", 1),
        ("SMS", 1),  # Twilio, on SMS
        ("Website chat", 1),
    ]
    assert board.lead_channels == [("Chat API", 2), ("SMS or WhatsApp", 1)]
    assert board.funnel == [
        ("Conversations", 3),
        ("Lead form started", 1),
        ("Lead saved", 3),
        ("Contacted", 2),
        ("Booked", 1),
    ]


def test_days_follow_the_clinic_time_zone(history):
    vancouver = ZoneInfo("America/Vancouver")  # UTC-8 in January
    board = dashboard.build(history, date(2026, 1, 10), date(2026, 1, 11), vancouver)
    # 09:00 UTC is 01:00 in Vancouver: the same days, seen from there.
    assert board.days == [(date(2026, 1, 10), 2), (date(2026, 1, 11), 1)]
    board = dashboard.build(
        history, date(2026, 1, 9), date(2026, 1, 9), ZoneInfo("Pacific/Kiritimati")
    )
    assert board.conversations == 0  # UTC+14: 09:00 UTC is already the 10th


def test_an_empty_period(history):
    board = dashboard.build(history, date(2025, 1, 1), date(2025, 1, 7), UTC)
    assert board.conversations == 0 and board.fallback_rate is None
    assert [count for _, count in board.days] == [0] * 7


def test_the_page_draws_the_charts(signed_in, history):
    response = signed_in.get("/staff/dashboard?from=2026-01-10&to=2026-01-11")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<svg") == 6
    for text in (
        "30.0%",
        "<title>How often to come: 3</title>",
        "can I bring my dog",
        "<title>Chest pain: 1</title>",
        "<title>SMS: 1</title>",
        "Lead form started",
        "<title>2026-01-10: 2</title>",
        'href="/staff/conversations/view?sender=b"',
    ):
        assert text in html, text


def test_the_default_period_is_the_last_30_days(signed_in):
    html = signed_in.get("/staff/dashboard").get_data(as_text=True)
    assert html.count("<rect") == 30  # one column per day, nothing else yet


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2026-02-01&to=2026-01-01", "after the"),
        ("from=2020-01-01&to=2026-01-01", "at most 366 days"),
        ("from=tomorrow", "from must be a date"),
        ("to=2026-02-30", "to must be a date"),
        ("from=0001-01-01&to=0001-01-02", "between 2000 and 2999"),
        ("to=9999-12-31", "between 2000 and 2999"),
        ("to=0001-01-01", "between 2000 and 2999"),
        ("from=9999-12-31", "between 2000 and 2999"),
    ],
)
def test_bad_periods_are_a_clear_400(signed_in, query, message):
    response = signed_in.get(f"/staff/dashboard?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_the_dashboard_works_before_rasa_ever_ran(signed_in, database_url):
    add_lead(database_url)
    response = signed_in.get("/staff/dashboard")
    assert response.status_code == 200
    assert "Leads per channel" in response.get_data(as_text=True)
