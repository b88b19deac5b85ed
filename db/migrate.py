"""Migrates the database to the newest schema: `python -m db.migrate`.

Uses DATABASE_URL (default sqlite:///var/clinic.db). `--revision "message"`
writes a new migration from the difference between the models and the
database instead (for developers).
"""

from __future__ import annotations

import argparse
from typing import Optional

from alembic import command
from alembic.config import Config

from clinic.settings import PROJECT_ROOT, get_settings


def alembic_config(url: Optional[str] = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "db" / "migrations"))
    config.set_main_option("sqlalchemy.url", url or get_settings().database_url)
    return config


def upgrade(url: Optional[str] = None) -> None:
    """Brings the database at `url` (default: DATABASE_URL) to head."""
    command.upgrade(alembic_config(url), "head")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revision", metavar="MESSAGE")
    args = parser.parse_args()
    if args.revision:
        command.revision(alembic_config(), message=args.revision, autogenerate=True)
    else:
        upgrade()


if __name__ == "__main__":
    main()
