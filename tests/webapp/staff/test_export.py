"""CSV export of the filtered queue, with formula injection neutralised."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from db.models import LeadEvent
from tests.webapp.staff.conftest import add_lead, csrf_from, export_csv, post_form
from webapp.staff.export import neutralise


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("+1+2", "'+1+2"),
        ("+12", "'+12"),  # too short for a phone number
        ("+1 604 555 0129 x", "'+1 604 555 0129 x"),
        ("-2+3", "'-2+3"),
        ("-604-555-0129", "'-604-555-0129"),
        # Phone numbers stay as written.
        ("+1 604-555-0129", "+1 604-555-0129"),
        ("+16045550111", "+16045550111"),
        ("+1 (604) 555-0129", "+1 (604) 555-0129"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("604-555-0129", "604-555-0129"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("Ana = happy", "Ana = happy"),
        ("", ""),
        (None, ""),
        (3, "3"),
    ],
)
def test_cells_that_could_be_formulas_get_an_apostrophe(value, expected):
    assert neutralise(value) == expected


def read_csv(response):
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_export_of_the_filtered_queue(signed_in, database_url, db_session):
    evil = add_lead(
        database_url,
        sender_id="evil",
        submission_key="evil",
        name='=HYPERLINK("http://evil.example","click")',
        concern="@SUM(1+1)*cmd|' /C calc'!A0",
        phone="+16045550100",
        channel="socketio",
    )
    add_lead(
        database_url, sender_id="other", submission_key="other", phone="+16045550101"
    )
    response = export_csv(signed_in, "channel=socketio")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="leads-'
    )
    assert response.headers["Cache-Control"] == "no-store"
    [row] = read_csv(response)
    assert row["Reference"] == evil
    assert row["Name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["Concern"].startswith("'@SUM")
    assert row["Phone"] == "+1 604-555-0100"  # readable, and not a formula
    assert row["Status"] == "New" and row["Needs review"] == "no"
    assert row["Consent version"] == "2026-01"
    assert row["Email"] == row["Notes"] == ""

    exported = db_session.scalars(
        select(LeadEvent).where(LeadEvent.kind == "exported")
    ).all()
    assert [(e.lead_reference, e.actor) for e in exported] == [(evil, "ana")]


def test_export_of_everything_crosses_pages(signed_in, database_url):
    for n in range(60):
        add_lead(
            database_url,
            sender_id=f"s{n}",
            submission_key=f"k{n}",
            phone=f"+1604555{n:04d}",
            name=f"Person {n}",
        )
    rows = read_csv(export_csv(signed_in))
    assert len(rows) == 60
    assert {row["Name"] for row in rows} == {f"Person {n}" for n in range(60)}


def test_an_empty_export_has_the_header(signed_in):
    response = export_csv(signed_in, "status=booked")
    assert response.status_code == 200
    assert read_csv(response) == []
    assert "Reference,Received,Status,Request," in response.get_data(as_text=True)
    assert response.get_data(as_text=True).rstrip().endswith(",Notes")


@pytest.mark.parametrize("query", ["status=x", "from=bad", "flag=?"])
def test_bad_export_filters_are_a_400(signed_in, query):
    assert export_csv(signed_in, query).status_code == 400


def test_the_export_button_posts_the_filters(signed_in, database_url):
    add_lead(database_url)
    html = signed_in.get("/staff/leads?status=new&q=ana").get_data(as_text=True)
    [form] = re.findall(r'<form id="export-form" method="post".*?</form>', html, re.S)
    assert 'action="/staff/leads/export.csv"' in form
    assert 'name="csrf_token"' in form
    assert '<input type="hidden" name="status" value="new">' in form
    assert '<input type="hidden" name="q" value="ana">' in form
    assert 'form="export-form">Export CSV</button>' in html
    assert "export.csv?" not in html  # no link that a GET could follow


def _exports(db_session) -> int:
    db_session.expire_all()
    kind = LeadEvent.kind == "exported"
    return len(db_session.scalars(select(LeadEvent).where(kind)).all())


def test_a_get_no_longer_exports(signed_in, database_url, db_session):
    """A link or an <img> on another site used to export every lead."""
    add_lead(database_url)
    response = signed_in.get("/staff/leads/export.csv?status=new")
    assert response.status_code == 303  # to the queue, whose button exports
    assert response.headers["Location"] == "/staff/leads?status=new"
    assert "Ana Lima" not in response.get_data(as_text=True)
    assert _exports(db_session) == 0


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_an_export_without_the_csrf_token_is_refused(
    signed_in, database_url, db_session, token
):
    add_lead(database_url)
    data = {"csrf_token": token} if token else {}
    response = signed_in.post("/staff/leads/export.csv", data=data)
    assert response.status_code == 400
    assert "did not come from the staff app" in response.get_data(as_text=True)
    assert _exports(db_session) == 0


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_post_another_site_started_is_refused(
    signed_in, database_url, db_session, site
):
    """Sec-Fetch-Site, a second guard beside the token (a leaked token too)."""
    add_lead(database_url)
    token = csrf_from(signed_in.get("/staff/leads").get_data(as_text=True))
    response = signed_in.post(
        "/staff/leads/export.csv",
        data={"csrf_token": token},
        headers={"Sec-Fetch-Site": site},
    )
    assert response.status_code == 403
    assert "came from another site" in response.get_data(as_text=True)
    assert _exports(db_session) == 0
    same = signed_in.post(
        "/staff/leads/export.csv",
        data={"csrf_token": token},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 200 and _exports(db_session) == 1


def test_the_export_includes_the_staff_notes(signed_in, database_url):
    reference = add_lead(database_url, sender_id="noted")
    other = add_lead(
        database_url, sender_id="quiet", submission_key="quiet", phone="+16045550102"
    )
    page = f"/staff/leads/{reference}"
    post_form(signed_in, page, f"{page}/status", {"status": "contacted",
              "note": "Left a voicemail"})  # fmt: skip
    post_form(signed_in, page, f"{page}/status", {"status": "contacted",
              "note": "=Called back, booked Monday"})  # fmt: skip
    exported = read_csv(export_csv(signed_in))
    rows = {row["Reference"]: row for row in exported}
    first, second = rows[reference]["Notes"].split("\n")
    assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d ana: Left a voicemail", first)
    assert second.endswith(" ana: =Called back, booked Monday")  # not at the start
    assert rows[other]["Notes"] == ""


def test_notes_of_leads_outside_the_filter_are_left_out(signed_in, database_url):
    reference = add_lead(database_url, sender_id="noted", channel="rest")
    page = f"/staff/leads/{reference}"
    post_form(signed_in, page, f"{page}/status", {"status": "new", "note": "private"})
    add_lead(database_url, sender_id="web", submission_key="web", channel="socketio",
             phone="+16045550103")  # fmt: skip
    response = export_csv(signed_in, "channel=socketio")
    [row] = read_csv(response)
    assert row["Notes"] == "" and "private" not in response.get_data(as_text=True)
