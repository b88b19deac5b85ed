"""Files under var/ that hold personal data are owner-only (0600), whoever
makes them first, and one left with a wider mode is narrowed
(clinic/private_files.py)."""

from __future__ import annotations

import asyncio
import os
import stat

import pytest
from sqlalchemy import text

from channels.senders import LocalOutbox, Outgoing
from channels.twilio_channel import local_token
from clinic.private_files import private_dir, private_file
from db.engine import build_engine
from tests.conftest import ROOT


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def lax_umask():
    """A umask that would leave files readable by all: modes come from the
    code, not from the umask of the test run."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def write_sqlite(path) -> None:
    engine = build_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS t (x TEXT)"))
        connection.execute(text("INSERT INTO t VALUES ('Ana, 604 555 0142')"))
    engine.dispose()


def test_a_new_sqlite_database_is_owner_only(tmp_path):
    folder = tmp_path / "var"  # not there yet
    write_sqlite(folder / "clinic.db")
    assert mode(folder / "clinic.db") == 0o600
    assert mode(folder) == 0o700


def test_an_existing_wider_database_is_narrowed(tmp_path):
    path = tmp_path / "clinic.db"
    write_sqlite(path)
    os.chmod(path, 0o644)  # as an older version left it
    write_sqlite(path)
    assert mode(path) == 0o600


def test_the_tracker_stores_database_is_owner_only(tmp_path):
    from rasa_extensions.tracker_store import ResilientSQLTrackerStore

    path = tmp_path / "rasa.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    store = ResilientSQLTrackerStore(host=f"sqlite:///{path}")
    store.engine.dispose()
    assert mode(path) == 0o600


def test_the_twilio_outbox_is_owner_only(tmp_path):
    path = tmp_path / "twilio" / "twilio-outbox.jsonl"
    outbox = LocalOutbox(path)
    message = Outgoing(to="+16045550142", from_="+16045550100", body="hi", medium="sms")
    asyncio.run(outbox.send(message))
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    os.chmod(path, 0o664)
    asyncio.run(outbox.send(message))
    assert mode(path) == 0o600
    assert path.read_text().count("+16045550142") == 2


def test_the_local_twilio_token_is_owner_only(tmp_path):
    path = tmp_path / "new" / "twilio-local-token"
    assert local_token(path)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_an_existing_folder_is_left_as_it_is(tmp_path):
    """run-scaled keeps nginx's buffers under var/ (see the module)."""
    os.chmod(tmp_path, 0o755)
    private_file(tmp_path / "x")
    private_dir(tmp_path)
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "x") == 0o600


def test_make_run_makes_var_owner_only():
    script = (ROOT / "scripts" / "run.sh").read_text()
    assert "mkdir -p var && chmod 700 var" in script
