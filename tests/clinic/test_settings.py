"""One settings module (clinic/settings.py): read in one place, typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clinic import settings as settings_module
from clinic.settings import SettingsError, get_settings
from tests.conftest import ROOT


def test_defaults_need_nothing_set(monkeypatch):
    for name in settings_module.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = get_settings()
    assert settings.database_url == "sqlite:///var/clinic.db"
    assert settings.chat_allowed_origins == {
        "http://localhost:8000",
        "http://127.0.0.1:8000",
    }
    assert settings.staff.timezone == "UTC" and settings.staff.retention_days == 365
    assert settings.twilio.local_dir == ROOT / "var"
    assert settings.twilio.account_sid == ""
    assert settings.web_trusted_proxies == 0  # X-Forwarded-For ignored


def test_values_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://clinic.example.org")
    monkeypatch.setenv("CHAT_ALLOWED_ORIGINS", "https://a.example, https://B.example/")
    monkeypatch.setenv("STAFF_TIMEZONE", "America/Vancouver")
    monkeypatch.setenv("TWILIO_LOCAL_DIR", "elsewhere")
    settings = get_settings()
    assert settings.database_url == "postgresql://db/x"
    assert settings.chat_allowed_origins == {"https://a.example", "https://b.example"}
    assert settings.staff.timezone == "America/Vancouver"
    assert settings.twilio.local_dir == ROOT / "elsewhere"


def test_parsed_once_until_a_variable_changes(monkeypatch):
    monkeypatch.setenv("RASA_URL", "http://one:5005")
    first = get_settings()
    assert get_settings() is first
    monkeypatch.setenv("RASA_URL", "http://two:5005")
    assert get_settings().rasa_url == "http://two:5005"


@pytest.mark.parametrize(
    "name, value",
    [
        ("SMTP_PORT", "twenty-five"),
        ("SMTP_STARTTLS", "perhaps"),
        ("STAFF_SESSION_HOURS", "0"),
        ("STAFF_TIMEZONE", "Mars/Olympus"),
        ("REPLICA_NAME", "r1.evil"),
        ("REDIS_PORT", "six"),
        ("REDIS_DB", "-1"),
        ("WEB_TRUSTED_PROXIES", "-1"),
        ("WEB_TRUSTED_PROXIES", "yes"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        settings = get_settings()
        _ = settings.staff  # the staff app's part is parsed when used


@pytest.mark.parametrize(
    "host, url",
    [
        ("", ""),  # a single process: no Redis
        ("redis.internal", "redis://redis.internal:6380/2"),
        ("::1", "redis://[::1]:6380/2"),
    ],
)
def test_the_redis_url_is_that_of_the_lock_store_s_settings(monkeypatch, host, url):
    monkeypatch.setenv("REDIS_HOST", host)
    monkeypatch.setenv("REDIS_PORT", "6380")
    monkeypatch.setenv("REDIS_DB", "2")
    monkeypatch.setenv("REDIS_PASSWORD", "not-in-the-url")
    assert get_settings().redis_url == url


def test_a_bad_staff_value_does_not_stop_the_other_processes(monkeypatch):
    monkeypatch.setenv("STAFF_TIMEZONE", "Mars/Olympus")
    assert get_settings().database_url  # the action server, Rasa, ...


def test_the_shell_scripts_read_a_setting(tmp_path):
    def run(*names):
        return subprocess.run(
            [sys.executable, "-m", "clinic.settings", *names],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:///x.db"},
        )

    assert run("database_url").stdout == "sqlite:///x.db\n"
    refused = run("no_such_setting")
    assert refused.returncode == 2 and "unknown setting" in refused.stderr


def reads_the_environment(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return "os.environ" in text or "getenv(" in text


def test_no_other_module_reads_a_setting_from_the_environment():
    allowed = {
        "clinic/settings.py",
        # The password of one CLI call, taken exactly as given, not a setting.
        "webapp/staff/cli.py",
        # Quiets TensorFlow in a developer script.
        "scripts/nlu_cv.py",
    }
    packages = [
        "actions",
        "channels",
        "clinic",
        "components",
        "db",
        "notifications",
        "rasa_extensions",
        "webapp",
        "scripts",
    ]
    readers = {
        str(path.relative_to(ROOT))
        for package in packages
        for path in (ROOT / package).rglob("*.py")
        if "bench" not in path.parts and reads_the_environment(path)
    }
    assert readers == allowed
