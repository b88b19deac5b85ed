"""Alembic environment: migrates the database named by DATABASE_URL (or the
URL/connection the caller passes in the Alembic config)."""

from __future__ import annotations

from alembic import context

import db.models  # noqa: F401  (registers the tables)
import db.staff_models  # noqa: F401  (the staff app's tables)
from db.engine import build_engine
from db.models import Base

config = context.config
target_metadata = Base.metadata
# Rasa's tracker store owns `events` in the same database: leave it alone.
OWN_TABLES = set(target_metadata.tables)


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    if type_ == "table":
        return name in OWN_TABLES
    return True


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = build_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()


def _migrate(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
