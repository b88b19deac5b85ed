"""Deleting personal data: the staff app's names for db/deletion.py (on
request by staff or by the person in chat, and retention), which the
action server and the notification worker use too."""

from __future__ import annotations

from db.deletion import (  # noqa: F401
    PERSON_ACTOR,
    RETENTION_ACTOR,
    RequestReport,
    RetentionReport,
    delete_lead,
    delete_on_request,
    periods_for,
    purge,
    request_reference,
)
