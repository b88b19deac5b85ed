"""Migration 0006: stored Twilio conversations take their `tel:` id (#14)."""

from __future__ import annotations

import importlib
from typing import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import create_engine, insert, select

from db.migrate import alembic_config
from db.models import utcnow
from db.rasa_events import events
from db.rasa_events import metadata as rasa_metadata
from tests.db_fixtures import create_postgres_database, dispose_all, sqlite_url

MIGRATION = importlib.import_module("db.migrations.versions.0006_conversation_ids")
TEXTER = "+16045550188"
# The tables as the migration before 0006 left them (not today's models,
# which later migrations may have changed): the columns that must be given.
contacts = sa.table(
    "sms_contacts", *(sa.column(n) for n in ("phone", "first_seen_at", "last_seen_at"))
)
LEAD_COLUMNS = [
    "reference",
    "created_at",
    "updated_at",
    "kind",
    "channel",
    "sender_id",
    "name",
    "needs_review",
    "consent_version",
    "consent_at",
    "status",
]
leads = sa.table("leads", *(sa.column(n) for n in LEAD_COLUMNS))
alerts = sa.table(
    "red_flag_alerts",
    *(sa.column(n) for n in ("reference", "sender_id", "flagged_at", "notified_at")),
)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def empty_url(request, tmp_path) -> Iterator[str]:
    """A database with no tables yet, for each backend."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        dispose_all()
    else:
        yield from create_postgres_database()


def senders(engine, column) -> list:
    with engine.connect() as conn:
        return sorted(conn.execute(select(column)).scalars())


def test_old_twilio_conversations_are_renamed_and_back(empty_url):
    database_url = empty_url
    config = alembic_config(database_url)
    command.upgrade(config, MIGRATION.down_revision)
    engine = create_engine(database_url, future=True)
    rasa_metadata.create_all(engine)  # Rasa's table, as Rasa makes it
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(contacts).values(phone=TEXTER, first_seen_at=now, last_seen_at=now)
        )
        for sender in (TEXTER, TEXTER, "+16045550199", "web-abc"):
            conn.execute(
                insert(events).values(sender_id=sender, type_name="user", data="{}")
            )
        for n, sender in enumerate((TEXTER, "web-abc")):
            conn.execute(
                insert(leads).values(
                    reference=f"IMS-T{n}",
                    created_at=now,
                    updated_at=now,
                    kind="assessment",
                    channel="twilio",
                    sender_id=sender,
                    name="Jo",
                    needs_review=False,
                    consent_version="v",
                    consent_at=now,
                    status="new",
                )
            )
        conn.execute(
            insert(alerts).values(
                reference="RF-AAAAAA", sender_id=TEXTER, flagged_at=now, notified_at=now
            )
        )
    command.upgrade(config, MIGRATION.revision)
    # only the number that texted (sms_contacts) becomes a Twilio conversation;
    # a REST client's '+16045550199' stays an old id no client can reach
    assert senders(engine, events.c.sender_id) == [
        "+16045550199",
        "tel:" + TEXTER,
        "tel:" + TEXTER,
        "web-abc",
    ]
    assert senders(engine, leads.c.sender_id) == ["tel:" + TEXTER, "web-abc"]
    assert senders(engine, alerts.c.sender_id) == ["tel:" + TEXTER]

    command.downgrade(config, MIGRATION.down_revision)
    assert senders(engine, events.c.sender_id) == [
        "+16045550188",
        "+16045550188",
        "+16045550199",
        "web-abc",
    ]
    assert senders(engine, leads.c.sender_id) == [TEXTER, "web-abc"]
    engine.dispose()
