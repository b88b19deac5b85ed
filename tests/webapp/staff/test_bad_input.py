"""No client input makes a staff page fail with a 500: known traps first,
then random query strings and form fields (Hypothesis), on both databases."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webapp.staff.conftest import add_lead, csrf_from, login

PAGES = [
    "/staff/leads",
    "/staff/leads/export.csv",
    "/staff/conversations",
    "/staff/conversations/view",
    "/staff/dashboard",
    "/staff/outbox",
]
KEYS = ["status", "channel", "flag", "from", "to", "q", "page", "show", "sender"]
TRAPS = [
    "\x00",
    "a\x00b",
    "²",
    "١٢",
    "9" * 40,
    "-1",
    "0",
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "%",
    "_",
    "\\",
    "'; DROP TABLE leads; --",
    "x" * 5000,
    "\ud7ff\ue000",
    "🙂",
]

text = st.one_of(st.sampled_from(TRAPS), st.text(max_size=60))
settings_ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def test_known_traps_in_query_strings(signed_in):
    for page in PAGES:
        for key in KEYS:
            for value in TRAPS:
                response = signed_in.get(page, query_string={key: value})
                assert response.status_code < 500, (page, key, value)


def test_known_traps_in_export_filters(signed_in):
    token = csrf_from(signed_in.get("/staff/leads").get_data(as_text=True))
    for key in KEYS:
        for value in TRAPS:
            data = {"csrf_token": token, key: value}
            response = signed_in.post("/staff/leads/export.csv", data=data)
            assert response.status_code < 500, (key, value)


@settings_
@given(
    page=st.sampled_from(PAGES),
    args=st.dictionaries(st.sampled_from(KEYS), text, max_size=4),
)
def test_random_query_strings(signed_in, page, args):
    response = signed_in.get(page, query_string=args)
    assert response.status_code < 500, (page, args)


@settings_
@given(reference=text)
def test_random_lead_references(signed_in, reference):
    response = signed_in.get("/staff/leads/" + reference.replace("/", "%2F"))
    assert response.status_code < 500


@settings_
@given(status=text, note=text, confirm=text, sender=text)
def test_random_form_posts(signed_in, database_url, status, note, confirm, sender):
    reference = add_lead(database_url)
    page = f"/staff/leads/{reference}"
    token = csrf_from(signed_in.get(page).get_data(as_text=True))
    for url, data in [
        (f"{page}/status", {"status": status, "note": note}),
        (f"{page}/status", {"status": "contacted", "note": note}),
        (f"{page}/delete", {"confirm": confirm}),
        ("/staff/conversations/delete", {"sender": sender, "confirm": confirm}),
        ("/staff/leads/export.csv", {"status": status, "q": note, "from": confirm}),
        ("/staff/leads/export.csv", {"channel": sender, "to": confirm, "flag": note}),
    ]:
        response = signed_in.post(url, data={"csrf_token": token, **data})
        assert response.status_code < 500, (url, data)


@settings_
@given(username=text, password=text)
def test_random_sign_ins(client, staff_user, username, password):
    response = login(client, username=username, password=password)
    assert response.status_code in (303, 400, 401, 429)
