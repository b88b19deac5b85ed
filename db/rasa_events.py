"""Rasa's `events` table: the conversations, as Rasa's SQL tracker store
writes them (rasa_extensions/tracker_store.py), in the same database.

Rasa owns the table: Rasa creates it when `rasa run` first starts, and its
own declaration is `rasa.core.tracker_store.SQLTrackerStore.SQLEvent`. This
is the project's one description of it, for reading (the staff app's
transcripts, reports, deletion and retention, webapp/staff/transcript.py)
and for the two indexes the reports need, which Rasa does not create (it
indexes `sender_id` only). It is never used to create the table.

Each row is one tracker event: `type_name` (user, bot, action, slot,
session_started, ...), a float `timestamp`, `intent_name` for user events,
`action_name` (the action, or the slot's name for slot events) and `data`,
the event as JSON.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    or_,
)

# A metadata of its own: never part of `db.models.Base`, so neither
# Alembic nor a create_all ever builds Rasa's table.
metadata = MetaData()
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

# For reading by time: the staff app's dated conversation lists and its
# dashboard. Created by the tracker store at start-up (add_reporting_indexes).
REPORTING_INDEXES = (
    Index("ix_events_timestamp", events.c.timestamp),
    Index("ix_events_type_name_timestamp", events.c.type_name, events.c.timestamp),
)

# A conversation is red-flagged when the person said something the red-flag
# net caught, or the assistant flagged it (which also sets the `red_flag`
# slot). Read by the staff app and the notification worker.
RED_FLAG_INTENT = "emergency"
RED_FLAG_ACTION = "action_flag_red_flag"
red_flag_event = or_(
    and_(events.c.type_name == "user", events.c.intent_name == RED_FLAG_INTENT),
    and_(events.c.type_name == "action", events.c.action_name == RED_FLAG_ACTION),
)


def event_data(raw: Optional[str]) -> Dict[str, Any]:
    """An event's `data` column as a dict; {} when it is missing or not a
    JSON object (a row this project did not write)."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
