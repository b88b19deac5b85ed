"""Engine and sessions, created lazily from DATABASE_URL (never at import)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Dict, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from clinic.private_files import private_file
from clinic.settings import PROJECT_ROOT, get_settings

_lock = threading.Lock()
_engines: Dict[str, Engine] = {}


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def build_engine(url: str) -> Engine:
    """A new engine for `url`; a relative SQLite path is under the project."""
    parsed = make_url(url)
    kwargs: Dict[str, Any] = {"future": True, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not Path(database).is_absolute():
            parsed = parsed.set(database=str(PROJECT_ROOT / database))
        if parsed.database and parsed.database != ":memory:":
            # It holds the leads and conversations: owner-only (0600), and
            # so are the journals SQLite makes beside it.
            private_file(parsed.database)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 5}
    else:
        kwargs["connect_args"] = {"connect_timeout": 5}
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys)
    return engine


def get_engine(url: Optional[str] = None) -> Engine:
    """The shared engine for `url` (default: DATABASE_URL)."""
    url = url or get_settings().database_url
    with _lock:
        if url not in _engines:
            _engines[url] = build_engine(url)
        return _engines[url]


def session_factory(url: Optional[str] = None) -> sessionmaker:
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)


def dispose_all() -> None:
    """Closes every pooled connection (tests; after a fork)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
