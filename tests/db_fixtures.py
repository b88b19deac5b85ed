"""Throwaway databases for tests: one fixture per backend.

SQLite is a file in tmp_path; PostgreSQL is a fresh database on the
machine's server (TEST_POSTGRES_URL, default the local trust-auth server),
created for the test and dropped after it. Under CI a missing PostgreSQL
server fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db.engine import dispose_all
from db.migrate import upgrade

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES)


def _postgres_available(url: str) -> bool:
    try:
        engine = create_engine(url, future=True, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'clinic.db'}"


def create_postgres_database() -> Iterator[str]:
    admin = postgres_admin_url()
    if not _postgres_available(admin):
        message = f"PostgreSQL is not reachable at {make_url(admin).host}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"ims_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, future=True, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        dispose_all()
        with engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database_url(request, tmp_path) -> Iterator[str]:
    """A migrated, empty database URL for each backend."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        upgrade(url)
        yield url
        dispose_all()
    else:
        for url in create_postgres_database():
            upgrade(url)
            yield url


@pytest.fixture
def use_database(database_url, monkeypatch) -> str:
    """Points DATABASE_URL (and so the actions) at the test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url
