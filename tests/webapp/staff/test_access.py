"""Nothing under /staff without signing in; no POST without a CSRF token;
what patients typed is shown as text."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from db.models import Lead, LeadEvent, LeadStatus
from tests.webapp.staff.conftest import (
    add_lead,
    bot,
    csrf_from,
    login,
    session_start,
    user,
    write_conversation,
)

# One concrete URL per route (the test below checks none is forgotten).
GET_URLS = {
    "staff.home": "/staff/",
    "staff.leads": "/staff/leads",
    "staff.export_link": "/staff/leads/export.csv",
    "staff.lead": "/staff/leads/{reference}",
    "staff.conversation_list": "/staff/conversations",
    "staff.conversation": "/staff/conversations/view?sender=web-1",
    "staff.dashboard_page": "/staff/dashboard",
    "staff.outbox": "/staff/outbox",
    "staff.red_flag": "/staff/red-flags/RF-AAAAAA",
    "staff.two_factor_setup": "/staff/account/two-factor",
    "staff.chats": "/staff/chats",
    "staff.chat_list": "/staff/chats/list",
    "staff.chat_page": "/staff/chats/1",
    "staff.chat_transcript": "/staff/chats/1/transcript",
    "staff.htmx_script": "/staff/chats/htmx.min.js",
}
POST_URLS = {
    "staff.export_csv": "/staff/leads/export.csv",
    "staff.change_status": "/staff/leads/{reference}/status",
    "staff.delete": "/staff/leads/{reference}/delete",
    "staff.delete_conversation_view": "/staff/conversations/delete",
    "staff.mark_reviewed": "/staff/conversations/reviewed",
    "staff.review_answer": "/staff/answers/review",
    "staff.chat_availability": "/staff/chats/availability",
    "staff.take_chat": "/staff/chats/1/take",
    "staff.rejoin_chat": "/staff/chats/1/join",
    "staff.reply_chat": "/staff/chats/1/reply",
    "staff.end_chat": "/staff/chats/1/end",
}
PUBLIC = {"staff.login", "staff.login_code", "staff.logout"}


def test_every_staff_route_is_listed_here(app):
    routes = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/staff")
    }
    assert routes == set(GET_URLS) | set(POST_URLS) | PUBLIC


@pytest.mark.parametrize("endpoint", sorted(GET_URLS))
def test_pages_need_a_sign_in(client, database_url, endpoint):
    reference = add_lead(database_url)
    url = GET_URLS[endpoint].format(reference=reference)
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=")
    body = response.get_data(as_text=True)
    assert "Ana Lima" not in body and "5550111" not in body


@pytest.mark.parametrize("endpoint", sorted(POST_URLS))
def test_actions_need_a_sign_in(client, database_url, endpoint):
    reference = add_lead(database_url)
    url = POST_URLS[endpoint].format(reference=reference)
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    data = {"csrf_token": token, "status": "closed", "confirm": reference}
    response = client.post(url, data={**data, "sender": "web-1"})
    assert response.status_code == 401
    assert _status(database_url, reference) == LeadStatus.NEW


def _status(database_url, reference):
    from db.engine import session_factory

    with session_factory(database_url)() as session:
        lead = session.scalars(select(Lead).where(Lead.reference == reference)).first()
        return lead.status if lead else None


@pytest.mark.parametrize("endpoint", sorted(POST_URLS))
@pytest.mark.parametrize("token", [None, "forged-token", "ImFiYyI.Zm9v.YmFy"])
def test_posts_without_a_valid_csrf_token_are_refused(
    signed_in, database_url, endpoint, token
):
    reference = add_lead(database_url)
    url = POST_URLS[endpoint].format(reference=reference)
    data = {"status": "closed", "confirm": reference, "sender": "web-1"}
    if token:
        data["csrf_token"] = token
    response = signed_in.post(url, data=data)
    assert response.status_code == 400
    assert "did not come from the staff app" in response.get_data(as_text=True)
    assert _status(database_url, reference) == LeadStatus.NEW


def test_a_token_from_another_session_is_refused(app, database_url, staff_user):
    reference = add_lead(database_url)
    other = app.test_client()
    login(other)
    foreign = csrf_from(other.get("/staff/leads").get_data(as_text=True))
    mine = app.test_client()
    login(mine)
    response = mine.post(
        f"/staff/leads/{reference}/status",
        data={"csrf_token": foreign, "status": "closed"},
    )
    assert response.status_code == 400
    assert _status(database_url, reference) == LeadStatus.NEW


def test_logout_needs_the_csrf_token(signed_in):
    assert signed_in.post("/staff/logout").status_code == 400
    assert signed_in.get("/staff/leads").status_code == 200


def test_staff_pages_are_not_cached_or_framed(signed_in):
    response = signed_in.get("/staff/leads")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # none


def test_the_demo_page_is_not_behind_the_sign_in(client):
    assert client.get("/healthz").status_code == 200


XSS = [
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
]


@pytest.mark.parametrize("payload", XSS)
def test_what_patients_typed_is_shown_as_text(signed_in, database_url, payload):
    reference = add_lead(
        database_url,
        name=payload,
        concern=payload,
        contact_time=payload,
        sender_id="xss-1",
        submission_key=f"xss-{payload}",
    )
    at = 1_767_000_000.0
    write_conversation(
        database_url,
        "xss-1",
        [
            *session_start(at),
            user(payload, "nlu_fallback", at + 1, channel=payload[:30]),
            bot(
                f"You said {payload}",
                at + 2,
                buttons=[{"title": payload, "payload": "/x"}],
            ),
        ],
    )
    pages = [
        "/staff/leads",
        f"/staff/leads?q={payload}",
        f"/staff/leads/{reference}",
        "/staff/conversations",
        "/staff/conversations/view?sender=xss-1",
        "/staff/dashboard?from=2025-12-01&to=2026-01-31",
    ]
    for page in pages:
        response = signed_in.get(page)
        assert response.status_code == 200, page
        html = response.get_data(as_text=True)
        assert payload not in html, page
        assert re.search(r"<(script|img|svg) [^>]*on\w+=", html) is None, page
    lead_page = signed_in.get(f"/staff/leads/{reference}").get_data(as_text=True)
    assert "&lt;" in lead_page  # it is there, escaped


def test_views_of_a_lead_are_logged_with_the_user(signed_in, database_url, db_session):
    reference = add_lead(database_url)
    signed_in.get(f"/staff/leads/{reference}")
    signed_in.get(f"/staff/leads/{reference}")
    views = db_session.scalars(
        select(LeadEvent).where(
            LeadEvent.lead_reference == reference, LeadEvent.kind == "viewed"
        )
    ).all()
    assert [(v.actor, v.detail) for v in views] == [("ana", "lead page")] * 2
    assert all(v.at is not None for v in views)
