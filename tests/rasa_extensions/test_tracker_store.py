"""The tracker store's reporting indexes on Rasa's `events` table."""

from __future__ import annotations

from typing import Set

import pytest
from sqlalchemy import create_engine, inspect, text

from rasa_extensions.tracker_store import (
    ResilientSQLTrackerStore,
    add_reporting_indexes,
)

REPORTING = {"ix_events_timestamp", "ix_events_type_name_timestamp"}


def index_names(url: str) -> Set[str]:
    engine = create_engine(url, future=True)
    try:
        return {i["name"] for i in inspect(engine).get_indexes("events")}
    finally:
        engine.dispose()


def test_the_tracker_store_adds_the_indexes_once(database_url):
    store = ResilientSQLTrackerStore(host=database_url)
    try:
        assert index_names(database_url) >= REPORTING
        assert add_reporting_indexes(store.engine) == []  # already there
    finally:
        store.engine.dispose()
    again = ResilientSQLTrackerStore(host=database_url)  # a restart
    again.engine.dispose()
    assert index_names(database_url) >= REPORTING


def test_a_table_made_before_the_indexes_gets_them(database_url):
    from rasa.core.tracker_store import SQLTrackerStore

    plain = SQLTrackerStore(host=database_url)  # as an older deployment left it
    plain.engine.dispose()
    assert not index_names(database_url) & REPORTING
    store = ResilientSQLTrackerStore(host=database_url)
    store.engine.dispose()
    assert index_names(database_url) >= REPORTING


def test_rasas_table_definition_is_left_alone():
    from rasa.core.tracker_store import SQLTrackerStore

    names = {i.name for i in SQLTrackerStore.SQLEvent.__table__.indexes}
    assert not names & REPORTING


@pytest.mark.parametrize(
    "where, index",
    [
        ("type_name = 'user' AND timestamp >= 1 AND timestamp < 2",
         "ix_events_type_name_timestamp"),  # the dashboard's user messages
        ("timestamp >= 1", "ix_events_timestamp"),  # "active since" lists
    ],
)  # fmt: skip
def test_time_queries_use_the_indexes(tmp_path, where, index):
    """SQLite's plan for the staff app's time filters (PostgreSQL's planner
    rightly scans a table this small, so its plan would say nothing)."""
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    ResilientSQLTrackerStore(host=url).engine.dispose()
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        plan = connection.execute(
            text(f"EXPLAIN QUERY PLAN SELECT sender_id FROM events WHERE {where}")
        ).all()
    engine.dispose()
    assert index in " ".join(str(row) for row in plan)
