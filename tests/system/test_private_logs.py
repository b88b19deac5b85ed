"""`make run`'s logs hold none of what a person typed after a `/`, on REST,
the widget and Twilio (rasa_extensions/channel_guard.py), and its files
holding personal data are owner-only (clinic/private_files.py)."""

from __future__ import annotations

import asyncio
import os
import stat
import time
import urllib.parse

import pytest

from channels.senders import read_outbox
from tests.conftest import ROOT
from tests.rasa_extensions.test_slash_messages import TRICKS
from tests.stack import Widget, http, say

pytestmark = pytest.mark.slow

TWILIO_HOOK = "/webhooks/twilio/webhook"
SECRETS = ("Quintero", "0142")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def twilio_say(stack, body: str, number: int) -> None:
    from twilio.request_validator import RequestValidator

    from channels.twilio_channel import TwilioSettings

    settings = TwilioSettings(local_dir=stack["twilio_dir"])
    form = {
        "MessageSid": f"SMprivatelogs{number:04d}",
        "From": "+16045550142",
        "To": "+16045550100",
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(settings.signing_token()).compute_signature(
        settings.webhook_url(TWILIO_HOOK), form
    )
    status, _, _ = http(
        f"{stack['url']}{TWILIO_HOOK}",
        urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert status == 200


def test_slash_messages_leave_no_trace_in_the_logs(made_run):
    for number, text in enumerate(TRICKS):
        assert say(made_run["url"], f"private-logs-{number}", text)

    async def widget() -> None:
        client = Widget(made_run["url"])
        await client.connect()
        try:
            for text in TRICKS:
                assert await client.ask(text)
        finally:
            await client.close()

    asyncio.run(widget())
    outbox = made_run["twilio_dir"] / "twilio-outbox.jsonl"
    before = len(read_outbox(outbox))
    for number, text in enumerate(TRICKS):
        twilio_say(made_run, text, number)
    deadline = time.monotonic() + 120
    while len(read_outbox(outbox)) < before + len(TRICKS):
        assert time.monotonic() < deadline, "Twilio's replies did not come"
        time.sleep(0.5)
    say(made_run["url"], "private-logs-flush", "hello")  # the log is written

    log = made_run["servers"].log("run")
    for secret in SECRETS:
        assert secret not in log, secret
    # and the messages were answered, as words
    assert len(read_outbox(outbox)) >= before + len(TRICKS)

    assert mode(outbox) == 0o600
    assert mode(made_run["twilio_dir"].parent / "clinic.db") == 0o600
    assert mode(ROOT / "var") == 0o700
