"""Migration 0006: staff roles and TOTP columns; the accounts that existed
become admins, since until now each could do everything (#14)."""

from __future__ import annotations

from typing import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import create_engine, insert, select

from db.migrate import alembic_config
from db.models import utcnow
from tests.db_fixtures import create_postgres_database, dispose_all, sqlite_url

BEFORE = "0007_tombstones_message_sids"
# staff_users as 0003 made it (not today's model)
users = sa.table(
    "staff_users",
    *(
        sa.column(n)
        for n in ("username", "password_hash", "created_at", "password_changed_at")
    ),
)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def empty_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        dispose_all()
    else:
        yield from create_postgres_database()


def test_existing_accounts_become_admins_without_totp(empty_url):
    config = alembic_config(empty_url)
    command.upgrade(config, BEFORE)
    engine = create_engine(empty_url, future=True)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(users),
            [
                {"username": n, "password_hash": "x", "created_at": now,
                 "password_changed_at": now}
                for n in ("ana", "bea")
            ],
        )  # fmt: skip
    command.upgrade(config, "0008_staff_roles_totp")
    table = sa.Table("staff_users", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.username, table.c.role, table.c.totp_enabled_at)
        ).all()
    assert sorted(rows) == [("ana", "admin", None), ("bea", "admin", None)]
    assert not table.c.role.nullable

    command.downgrade(config, BEFORE)
    table = sa.Table("staff_users", sa.MetaData(), autoload_with=engine)
    assert "role" not in table.c and "totp_secret" not in table.c
    engine.dispose()


def test_it_is_the_only_head():
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1
