"""Creates the PostgreSQL database named in a URL if it does not exist yet.

    python -m deploy.ensure_database postgresql://postgres@127.0.0.1:5432/ims_scaled

Connects to the server's `postgres` database with the same credentials; a
URL of another backend is left alone (SQLite creates its file itself).
"""

from __future__ import annotations

import argparse
import re

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def ensure_database(url: str) -> bool:
    """True if the database was created, False if it was already there."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return False
    name = parsed.database or ""
    if not NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    admin = create_engine(
        parsed.set(database="postgres"), future=True, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": name},
            ).first()
            if found:
                return False
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    url = parser.parse_args().url
    created = ensure_database(url)
    name = make_url(url).database
    print(f"database {name}: {'created' if created else 'present'}")


if __name__ == "__main__":
    main()
