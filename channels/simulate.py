"""Text the assistant from the command line, in local mode.

Signs a message the way Twilio does (with the local token, or
TWILIO_AUTH_TOKEN), posts it to a running Rasa's Twilio webhook and prints
the replies the channel records:

    python -m channels.simulate "how often do I need IMS?"
    python -m channels.simulate --whatsapp --sender "+16045550123" "2"
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Dict, List

from twilio.request_validator import RequestValidator

from channels.senders import read_outbox
from channels.twilio_channel import TwilioSettings, address

WEBHOOK_PATH = "/webhooks/twilio/webhook"
TEST_NUMBER = "+16045550100"  # a 555-01xx number: reserved for fiction


def signed_form(
    settings: TwilioSettings, sender: str, body: str, whatsapp: bool
) -> Dict[str, str]:
    medium = "whatsapp" if whatsapp else "sms"
    return {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": settings.account_sid or "AC" + "0" * 32,
        "From": address(medium, sender),
        "To": address(medium, settings.number_for(medium) or TEST_NUMBER),
        "Body": body,
        "NumMedia": "0",
    }


def post(url: str, form: Dict[str, str], signature: str) -> int:
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"not an http(s) URL: {url}")
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("body", help="the message text")
    parser.add_argument("--sender", default="+16045550123", help="E.164 number")
    parser.add_argument("--whatsapp", action="store_true", help="as WhatsApp")
    parser.add_argument("--rasa", default="http://localhost:5005", help="Rasa URL")
    parser.add_argument("--wait", type=float, default=30, help="seconds to wait")
    args = parser.parse_args(argv)

    settings = TwilioSettings.from_credentials({})
    if settings.live:
        print("TWILIO_ACCOUNT_SID is set: this is for local mode only.")
        return 2
    form = signed_form(settings, args.sender, args.body, args.whatsapp)
    validator = RequestValidator(settings.signing_token())
    signature = validator.compute_signature(settings.webhook_url(WEBHOOK_PATH), form)
    before = len(read_outbox(settings.outbox_path))
    status = post(args.rasa.rstrip("/") + WEBHOOK_PATH, form, signature)
    if status != 200:
        print(f"Rasa answered HTTP {status}")
        return 1
    deadline, quiet_until = time.monotonic() + args.wait, None
    shown = before
    while time.monotonic() < deadline:
        records = read_outbox(settings.outbox_path)
        for record in records[shown:]:
            if record["to"] == form["From"]:
                print(f"--- {record['medium']} to {record['to']}\n{record['body']}")
                quiet_until = time.monotonic() + 2
        shown = len(records)
        if quiet_until and time.monotonic() > quiet_until:
            return 0
        time.sleep(0.2)
    if quiet_until is None:
        print("(no reply)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
