"""No other site can make a signed-in browser change anything or write an
audit event (#14): every POST the browser says another site started is
refused (Sec-Fetch-Site, beside the CSRF token), and a lead or conversation
link followed from another site asks before it opens (opening is audited)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from db.models import LeadEvent, LeadStatus
from tests.webapp.staff.conftest import (
    add_lead,
    csrf_from,
    faq_chat,
    write_conversation,
)
from tests.webapp.staff.test_access import POST_URLS, _status

DAY = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def _views(db_session) -> int:
    db_session.expire_all()
    found = db_session.scalars(select(LeadEvent).where(LeadEvent.kind == "viewed"))
    return len(found.all())


@pytest.mark.parametrize("endpoint", sorted(POST_URLS))
@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_posts_another_site_started_are_refused(
    signed_in, database_url, endpoint, site
):
    reference = add_lead(database_url)
    url = POST_URLS[endpoint].format(reference=reference)
    token = csrf_from(signed_in.get("/staff/leads").get_data(as_text=True))
    data = {"csrf_token": token, "status": "closed", "confirm": reference}
    response = signed_in.post(
        url, data={**data, "sender": "web-1"}, headers={"Sec-Fetch-Site": site}
    )
    assert response.status_code == 403
    assert "came from another site" in response.get_data(as_text=True)
    assert _status(database_url, reference) == LeadStatus.NEW


def test_a_sign_in_another_site_started_is_refused(client, staff_user):
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    data = {"csrf_token": token, "username": "ana", "password": "x" * 12}
    response = client.post(
        "/staff/login", data=data, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403


def test_a_same_site_post_still_works(signed_in, database_url):
    reference = add_lead(database_url)
    page = f"/staff/leads/{reference}"
    token = csrf_from(signed_in.get(page).get_data(as_text=True))
    response = signed_in.post(
        f"{page}/status",
        data={"csrf_token": token, "status": "contacted"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303
    assert _status(database_url, reference) == LeadStatus.CONTACTED


def test_a_lead_link_from_another_site_asks_before_it_opens(
    signed_in, database_url, db_session
):
    reference = add_lead(database_url)
    page = f"/staff/leads/{reference}"
    asked = signed_in.get(page, headers={"Sec-Fetch-Site": "cross-site"})
    body = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert f'<a class="button" href="{page}">Open {reference}</a>' in body
    assert "Ana Lima" not in body and "5550111" not in body
    assert _views(db_session) == 0
    # the button is a link of the staff app: same-origin, and recorded
    opened = signed_in.get(page, headers={"Sec-Fetch-Site": "same-origin"})
    assert "Ana Lima" in opened.get_data(as_text=True)
    assert _views(db_session) == 1
    # a typed address or a bookmark ("none") opens at once
    signed_in.get(page, headers={"Sec-Fetch-Site": "none"})
    assert _views(db_session) == 2


def test_a_conversation_link_from_another_site_asks_too(
    signed_in, database_url, db_session
):
    add_lead(database_url, sender_id="web-7")
    write_conversation(database_url, "web-7", faq_chat(DAY))
    page = "/staff/conversations/view?sender=web-7"
    asked = signed_in.get(page, headers={"Sec-Fetch-Site": "cross-site"})
    body = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Open the conversation" in body
    assert "how often do I need IMS" not in body
    assert _views(db_session) == 0
    opened = signed_in.get(page, headers={"Sec-Fetch-Site": "same-origin"})
    assert "how often do I need IMS" in opened.get_data(as_text=True)
    assert _views(db_session) == 1
