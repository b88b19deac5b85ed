"""The staff tables' migration matches the models, on both databases, and
the staff app reads Rasa's `events` table as Rasa defines it."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import db.staff_models  # noqa: F401 - registers the staff tables
from db.migrate import alembic_config
from db.models import Base
from db.rasa_events import events

STAFF_TABLES = {"staff_users", "staff_sessions", "staff_login_throttle", "lead_notes"}


def test_the_migration_matches_the_models(database_url):
    engine = create_engine(database_url, future=True)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda o, name, type_, r, c: (
                    type_ != "table" or name in Base.metadata.tables
                ),
            },
        )
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []
    assert set(Base.metadata.tables) >= STAFF_TABLES


def test_the_migration_goes_down_and_up_again(database_url):
    config = alembic_config(database_url)
    command.downgrade(config, "0002_sms_contacts")
    engine = create_engine(database_url, future=True)
    assert not STAFF_TABLES & set(inspect(engine).get_table_names())
    command.upgrade(config, "head")
    assert set(inspect(engine).get_table_names()) >= STAFF_TABLES
    engine.dispose()


def test_events_are_read_with_rasas_own_columns():
    from rasa.core.tracker_store import SQLTrackerStore

    rasa = SQLTrackerStore.SQLEvent.__table__
    assert rasa.name == events.name
    assert [(c.name, type(c.type)) for c in rasa.columns] == [
        (c.name, type(c.type)) for c in events.columns
    ]


def test_the_outbox_page(signed_in, database_url):
    from tests.webapp.staff.conftest import add_lead

    reference = add_lead(database_url)
    html = signed_in.get("/staff/outbox").get_data(as_text=True)
    assert f"[lead created] {reference}" in html
    assert "staff@example.org" in html and "waiting" in html
    assert signed_in.get("/staff/outbox?page=2").status_code == 404
    assert signed_in.get("/staff/outbox?page=x").status_code == 400
