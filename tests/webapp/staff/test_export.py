"""CSV export of the filtered queue, with formula injection neutralised."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from db.models import LeadEvent
from tests.webapp.staff.conftest import add_lead
from webapp.staff.export import neutralise


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+2", "'=1+2"),
        ("+16045550111", "'+16045550111"),
        ("-2+3", "'-2+3"),
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
    response = signed_in.get("/staff/leads/export.csv?channel=socketio")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="leads-'
    )
    assert response.headers["Cache-Control"] == "no-store"
    [row] = read_csv(response)
    assert row["reference"] == evil
    assert row["name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["concern"].startswith("'@SUM")
    assert row["phone"] == "'+16045550100"
    assert row["status"] == "new" and row["needs_review"] == "no"
    assert row["consent_version"] == "2026-01"

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
    rows = read_csv(signed_in.get("/staff/leads/export.csv"))
    assert len(rows) == 60
    assert {row["name"] for row in rows} == {f"Person {n}" for n in range(60)}


def test_an_empty_export_has_the_header(signed_in):
    response = signed_in.get("/staff/leads/export.csv?status=booked")
    assert response.status_code == 200
    assert read_csv(response) == []
    assert "reference,created_at,status" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["status=x", "from=bad", "flag=?"])
def test_bad_export_filters_are_a_400(signed_in, query):
    assert signed_in.get(f"/staff/leads/export.csv?{query}").status_code == 400


def test_the_export_link_carries_the_filters(signed_in, database_url):
    add_lead(database_url)
    html = signed_in.get("/staff/leads?status=new&q=ana").get_data(as_text=True)
    assert 'href="/staff/leads/export.csv?status=new&amp;q=ana"' in html
