"""Staff hear of each red-flagged chat (notifications/red_flags.py): one
email per conversation with a reference and a link, no words of the chat;
the conversation page marks it reviewed, into the audit trail."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from db.models import LeadEvent, OutboxMessage, RedFlagAlert
from notifications.red_flags import Recipient, alert_new_red_flags
from tests.webapp.staff.conftest import (
    action,
    csrf_from,
    faq_chat,
    session_start,
    slot,
    ts,
    user,
    write_conversation,
)

DAY = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
TO = Recipient(
    "front@clinic.example.org", "https://clinic.example.org/staff/red-flags/{reference}"
)


def red_flag_chat(sender: str) -> list:
    return [
        *session_start(ts(DAY)),
        user(
            "my chest hurts and I can't breathe",
            "emergency",
            ts(DAY, 1),
            entities=[{"entity": "red_flag", "value": "chest_pain"}],
        ),
        slot("red_flag", "chest_pain", ts(DAY, 1)),
        action("action_flag_red_flag", ts(DAY, 1)),
    ]


def test_one_alert_per_red_flagged_chat_with_no_health_details(
    database_url, db_session
):
    write_conversation(database_url, "web-red", red_flag_chat("web-red"))
    write_conversation(database_url, "web-calm", faq_chat(DAY))
    seen = alert_new_red_flags(db_session, TO)
    assert seen > 0
    [alert] = db_session.scalars(select(RedFlagAlert)).all()
    assert alert.sender_id == "web-red" and alert.reference.startswith("RF-")
    [email] = db_session.scalars(select(OutboxMessage)).all()
    assert email.recipient == TO.email and alert.reference in email.subject
    assert f"/staff/red-flags/{alert.reference}" in email.body
    assert "chest" not in email.body.lower() and "breathe" not in email.body
    # the same chat again, later events or a fresh worker: no second email
    write_conversation(
        database_url, "web-red", [action("action_flag_red_flag", ts(DAY, 9))]
    )
    assert alert_new_red_flags(db_session, TO, seen) > seen
    alert_new_red_flags(db_session, TO, 0)
    assert len(db_session.scalars(select(OutboxMessage)).all()) == 1


def test_staff_open_the_alert_and_mark_it_reviewed(signed_in, database_url, db_session):
    write_conversation(database_url, "web-red", red_flag_chat("web-red"))
    alert_new_red_flags(db_session, TO)
    reference = db_session.scalars(select(RedFlagAlert.reference)).one()
    queue = signed_in.get("/staff/leads").get_data(as_text=True)
    assert "1 conversation with a red flag to review" in queue
    opened = signed_in.get(f"/staff/red-flags/{reference}")
    assert opened.status_code == 302 and "sender=web-red" in opened.headers["Location"]
    page = signed_in.get("/staff/conversations/view?sender=web-red").get_data(
        as_text=True
    )
    assert reference in page and "Mark reviewed" in page
    done = signed_in.post(
        "/staff/conversations/reviewed",
        data={"sender": "web-red", "csrf_token": csrf_from(page)},
    )
    assert done.status_code == 303
    db_session.expire_all()
    alert = db_session.scalars(select(RedFlagAlert)).one()
    assert alert.reviewed_at is not None and alert.reviewed_by
    [event] = db_session.scalars(
        select(LeadEvent).where(LeadEvent.kind == "red_flag_reviewed")
    ).all()
    assert event.lead_reference == reference
    assert "to review" not in signed_in.get("/staff/leads").get_data(as_text=True)
    assert signed_in.get("/staff/red-flags/RF-NOSUCH").status_code == 404


def test_deleting_the_conversation_deletes_its_alert(
    signed_in, database_url, db_session
):
    from webapp.staff.transcript import delete_conversation

    write_conversation(database_url, "web-red", red_flag_chat("web-red"))
    alert_new_red_flags(db_session, TO)
    delete_conversation(db_session, ["web-red"])
    db_session.commit()
    assert db_session.scalars(select(RedFlagAlert)).all() == []
