"""The notification worker's loop (notifications/worker.py): one part
failing does not stop the others, nor the loop."""

from __future__ import annotations

import contextlib
import logging

import pytest

from clinic import rasa_api
from clinic.profile import ProfileError
from notifications import worker
from notifications.outbox import DeliveryReport


@pytest.mark.parametrize(
    "error",
    [
        rasa_api.RasaUnavailable("TimeoutError tel:+16045550100"),
        ProfileError("clinic_profile.yml: web:abc"),
        RuntimeError("web:abc"),
    ],
)
def test_a_failed_chat_request_check_leaves_the_loop_running(
    monkeypatch, caplog, error
):
    delivered = []

    class Waits:
        def __init__(self, rasa_url, token) -> None:
            pass

        def run(self, factory) -> int:
            raise error

    def deliver_due(factory, smtp):
        delivered.append(smtp)
        return DeliveryReport()

    monkeypatch.setattr(worker, "session_factory", lambda: contextlib.nullcontext)
    monkeypatch.setattr(worker, "alert_new_red_flags", lambda *args: 0)
    monkeypatch.setattr(worker, "recipient", lambda settings: None)
    monkeypatch.setattr(worker, "OverdueWaits", Waits)
    monkeypatch.setattr(worker, "deliver_due", deliver_due)
    monkeypatch.setattr(worker.RetentionSchedule, "tick", lambda self, factory: None)
    with caplog.at_level(logging.WARNING, logger="notifications.worker"):
        worker.main(["--once"])
    assert delivered == [None]  # the rest of the pass ran
    assert f"Chat requests not checked: {type(error).__name__}" in caplog.text
    assert "tel:" not in caplog.text and "web:" not in caplog.text
