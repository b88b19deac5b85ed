"""Two roles, enforced on every staff route (#14): front desk works the
queue; only an admin exports, deletes, sees the dashboard and the outbox. A
route that declares no role is refused to everyone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Lead
from tests.webapp.staff.conftest import (
    add_lead,
    add_user,
    csrf_from,
    login,
    session_start,
    write_conversation,
)
from tests.webapp.staff.test_access import GET_URLS, POST_URLS, PUBLIC
from webapp.staff import roles

ADMIN_ONLY = {
    "staff.export_csv",
    "staff.delete",
    "staff.delete_conversation_view",
    "staff.dashboard_page",
    "staff.review_answer",
    "staff.outbox",
}


def staff_routes(app) -> set:
    return {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/staff")}


def test_every_staff_route_declares_its_role(app):
    declared = {
        endpoint: roles.declared(app.view_functions[endpoint])
        for endpoint in staff_routes(app)
    }
    assert None not in declared.values(), [e for e, r in declared.items() if not r]
    assert {e for e, r in declared.items() if r == roles.ADMIN} == ADMIN_ONLY
    assert {e for e, r in declared.items() if r == roles.PUBLIC} == PUBLIC
    # and every one is among the URLs the tests below try
    assert staff_routes(app) == set(GET_URLS) | set(POST_URLS) | PUBLIC


def test_a_route_without_a_role_is_refused_to_everyone(app, database_url):
    """A route added without @allow (here: added to the app by hand, under
    the blueprint's name) is refused, even to a signed-in admin."""
    app.add_url_rule(
        "/staff/forgotten", "staff.forgotten", lambda: "the forgotten page"
    )
    add_user(database_url)
    client = app.test_client()
    assert login(client).status_code == 303
    response = client.get("/staff/forgotten")
    assert response.status_code == 403
    assert "the forgotten page" not in response.get_data(as_text=True)


@pytest.fixture
def front_desk(app, database_url):
    add_user(database_url, "fred", role=roles.FRONT_DESK)
    client = app.test_client()
    assert login(client, "fred").status_code == 303
    return client


@pytest.fixture
def admin(app, database_url):
    add_user(database_url, "ada")
    client = app.test_client()
    assert login(client, "ada").status_code == 303
    return client


def _lead_and_conversation(database_url) -> str:
    reference = add_lead(database_url)
    write_conversation(database_url, "web-1", session_start(1_700_000_000.0))
    return reference


@pytest.mark.parametrize("endpoint", sorted(GET_URLS))
def test_each_page_by_role(front_desk, admin, database_url, endpoint):
    reference = _lead_and_conversation(database_url)
    url = GET_URLS[endpoint].format(reference=reference)
    desk, boss = front_desk.get(url), admin.get(url)
    if endpoint in ADMIN_ONLY:
        assert desk.status_code == 403
        assert "front desk account cannot do this" in desk.get_data(as_text=True)
    else:
        assert desk.status_code != 403
    assert boss.status_code != 403


@pytest.mark.parametrize("endpoint", sorted(POST_URLS))
def test_each_action_by_role(front_desk, database_url, db_session, endpoint):
    reference = _lead_and_conversation(database_url)
    url = POST_URLS[endpoint].format(reference=reference)
    token = csrf_from(front_desk.get("/staff/leads").get_data(as_text=True))
    data = {"csrf_token": token, "confirm": reference, "sender": "web-1"}
    response = front_desk.post(url, data={**data, "status": "contacted"})
    if endpoint in ADMIN_ONLY:
        assert response.status_code == 403
        assert db_session.scalars(select(Lead.reference)).all() == [reference]
    else:
        assert response.status_code != 403


def test_an_admin_may_export_and_delete(admin, database_url, db_session):
    reference = add_lead(database_url)
    token = csrf_from(admin.get("/staff/leads").get_data(as_text=True))
    assert (
        admin.post("/staff/leads/export.csv", data={"csrf_token": token}).status_code
        == 200
    )
    response = admin.post(
        f"/staff/leads/{reference}/delete",
        data={"csrf_token": token, "confirm": reference},
    )
    assert response.status_code == 303
    assert db_session.scalars(select(Lead)).all() == []


def test_front_desk_is_not_offered_what_it_cannot_do(front_desk, admin, database_url):
    reference = add_lead(database_url)
    desk_queue = front_desk.get("/staff/leads").get_data(as_text=True)
    desk_lead = front_desk.get(f"/staff/leads/{reference}").get_data(as_text=True)
    assert "Export CSV" not in desk_queue and "/staff/dashboard" not in desk_queue
    assert "Delete lead" not in desk_lead and "ask an admin" in desk_lead
    boss_queue = admin.get("/staff/leads").get_data(as_text=True)
    assert "Export CSV" in boss_queue and "/staff/dashboard" in boss_queue
    assert "Delete lead" in admin.get(f"/staff/leads/{reference}").get_data(
        as_text=True
    )
