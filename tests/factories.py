"""What several test folders build: a lead as the lead form hands it to
db.leads.save_lead, and the notification settings that go with it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from db.leads import LeadInput, Notification

NOTIFY = Notification(
    recipient="staff@example.org", staff_url="/staff/leads/{reference}"
)


def lead_input(**values: Any) -> LeadInput:
    """A complete, consented lead; `values` override any field."""
    defaults: dict = dict(
        submission_key=f"key-{values.get('sender_id', 'web-1')}-{values.get('name')}",
        kind="assessment",
        channel="rest",
        sender_id="web-1",
        name="Ana Lima",
        phone="+16045550111",
        email=None,
        contact_method="call",
        contact_time="mornings",
        concern="sore neck for months",
        duration="3 to 12 months",
        screening="no",
        consent_version="2026-01",
        consent_at=datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc),
    )
    defaults.update(values)
    return LeadInput(**defaults)
