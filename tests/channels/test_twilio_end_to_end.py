"""SMS and WhatsApp end to end: real Rasa (the trained model, with the
Twilio channel as credentials.yml registers it) and action servers, in
local mode, on a throwaway database per backend. Requests are signed with
the `twilio` library as Twilio signs them; replies are read from the
channel's local outbox file."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Callable, Dict, Iterator, List

import pytest
import yaml
from sqlalchemy import create_engine, select
from twilio.request_validator import RequestValidator

from channels.senders import read_outbox
from clinic.conversation_ids import twilio_conversation_id
from db.migrate import upgrade
from db.models import Lead, SmsContact
from tests.conftest import ROOT
from tests.conversation import tracker_events
from tests.db_fixtures import create_postgres_database, sqlite_url
from tests.servers import Servers, assistant_env, free_port
from tests.stack import (
    CLINIC_SMS,
    CLINIC_WHATSAPP,
    TWILIO_PUBLIC_URL,
    TWILIO_TOKEN,
    twilio_local_env,
)

pytestmark = pytest.mark.slow

CHANNEL = "channels.twilio_channel.TwilioChannel"
PATH = "/webhooks/twilio/webhook"
NAME, CONCERN = "Wilhelmina Ostrander", "a stiff neck since the winter"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("sms-db"))
        upgrade(url)
        yield url
    else:
        for url in create_postgres_database():
            upgrade(url)
            yield url


@pytest.fixture(scope="module")
def stack(trained_model, database, tmp_path_factory) -> Iterator[Dict[str, object]]:
    tmp = tmp_path_factory.mktemp("sms-e2e")
    # the Twilio entry exactly as the project's credentials.yml has it
    entry = yaml.safe_load((ROOT / "credentials.yml").read_text())[CHANNEL]
    credentials = tmp / "credentials.yml"
    credentials.write_text(yaml.safe_dump({CHANNEL: entry}))
    actions_port, rasa_port = free_port(), free_port()
    env = twilio_local_env(assistant_env(database, actions_port), tmp)
    with Servers(tmp) as servers:
        servers.assistant(
            trained_model, env, actions_port, rasa_port, credentials=str(credentials)
        )
        yield {
            "url": f"http://127.0.0.1:{rasa_port}",
            "db": database,
            "outbox": tmp / "twilio-outbox.jsonl",
            "logs": [tmp / "actions.log", tmp / "rasa.log"],
            "env": env,
        }


class Phone:
    """One person texting the clinic from `number`."""

    def __init__(self, stack: Dict[str, object], number: str) -> None:
        self.url = f"{stack['url']}{PATH}"
        self.outbox = stack["outbox"]
        self.number = number

    def form(self, body: str, medium: str) -> Dict[str, str]:
        prefix = "whatsapp:" if medium == "whatsapp" else ""
        clinic = CLINIC_WHATSAPP if medium == "whatsapp" else CLINIC_SMS
        return {
            "MessageSid": f"SM{uuid.uuid4().hex}",
            "AccountSid": "AC" + "0" * 32,
            "From": prefix + self.number,
            "To": prefix + clinic,
            "Body": body,
            "NumMedia": "0",
        }

    def post(self, form: Dict[str, str], signature: str | None) -> int:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        request = urllib.request.Request(
            self.url, data=urllib.parse.urlencode(form).encode(), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read().decode()
                assert "<Response/>" in body
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def text(self, body: str, medium: str = "sms") -> int:
        """Sends a correctly signed message; the index of the next reply."""
        index = len(read_outbox(self.outbox))
        form = self.form(body, medium)
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            TWILIO_PUBLIC_URL + PATH, form
        )
        assert self.post(form, signature) == 200
        return index

    def replies(self, since: int = 0) -> List[dict]:
        return [
            r for r in read_outbox(self.outbox)[since:] if r["to"].endswith(self.number)
        ]

    def wait_for(
        self, found: Callable[[str], bool], since: int, timeout: float = 120
    ) -> List[dict]:
        """The replies since `since`, once one of them satisfies `found`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = self.replies(since)
            if any(found(r["body"]) for r in replies):
                return replies
            time.sleep(0.2)
        raise AssertionError(f"no such reply; got {[r['body'] for r in replies]}")

    def ask(self, body: str, expect: str, medium: str = "sms") -> str:
        """Sends `body`; the replies (joined) once one contains `expect`."""
        since = self.text(body, medium)
        replies = self.wait_for(lambda reply: expect in reply, since)
        return "\n".join(r["body"] for r in replies)


def said(database: str, number: str) -> List[str]:
    """What the number said, from its conversation `tel:<number>`."""
    events = tracker_events(database, twilio_conversation_id(number))
    return [data["text"] for kind, data in events if kind == "user"]


def said_by_now(database: str, number: str, expected: List[str]) -> List[str]:
    """`said`, once it matches `expected` or after 20 s: Rasa stores a turn
    just after sending its replies, so the reply can arrive first."""
    deadline = time.monotonic() + 20
    while True:
        texts = said(database, number)
        if texts[-len(expected) :] == expected or time.monotonic() > deadline:
            return texts
        time.sleep(0.2)


def contacts(database: str) -> Dict[str, SmsContact]:
    engine = create_engine(database, future=True)
    with engine.connect() as conn:
        rows = conn.execute(select(SmsContact)).all()
    engine.dispose()
    return {row.phone: row for row in rows}


def test_a_signed_sms_is_answered(stack):
    phone = Phone(stack, "+16045550131")
    answer = phone.ask("how often do I need IMS?", "week")
    assert "week" in answer
    assert all(r["from"] == CLINIC_SMS for r in phone.replies())
    question = ["how often do I need IMS?"]
    assert said_by_now(stack["db"], "+16045550131", question) == question


@pytest.mark.parametrize(
    "number, signature",
    [("+16045550141", None), ("+16045550142", "forged"), ("+16045550143", "wrong")],
)
def test_a_forged_or_missing_signature_gets_403_and_no_tracker_event(
    stack, number, signature
):
    phone = Phone(stack, number)
    form = phone.form("I'd like to book an assessment", "sms")
    if signature == "forged":
        signature = "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA=="
    elif signature == "wrong":
        signature = RequestValidator("guessed").compute_signature(
            TWILIO_PUBLIC_URL + PATH, form
        )
    assert phone.post(form, signature) == 403
    # the channel's own later messages would come first: a signed HELP is the
    # marker that everything sent before it from this number was handled
    phone.ask("HELP", "STOP")
    assert [r["body"] for r in phone.replies()][:-1] == []
    assert tracker_events(stack["db"], number) == []
    assert said(stack["db"], number) == []


def test_an_sms_conversation_ends_in_a_lead_with_the_senders_number(stack):
    number = "+16045550166"
    phone = Phone(stack, number)
    phone.ask("I'd like to book an assessment", "name")
    offer = phone.ask(NAME, "best number")
    assert "+1 604-555-0166" in offer and "\n1. Yes\n2. No" in offer
    assert "1. Phone call\n2. Text message" in phone.ask("1", "How would you like")
    assert "1. Mornings" in phone.ask("2", "good time")
    phone.ask("1", "Privacy notice")
    phone.ask("1", "what would you like help with")
    assert "3. 3 to 12 months" in phone.ask(CONCERN, "How long")
    phone.ask("3", "safety question")
    summary = phone.ask("2", "Is this right?")
    assert "Phone: +1 604-555-0166" in summary
    assert "Contact by: Text message" in summary
    assert "Best time: Mornings" in summary
    final = phone.ask("1", "Your reference is IMS-")

    engine = create_engine(stack["db"], future=True)
    with engine.connect() as conn:
        lead = conn.execute(
            select(Lead).where(Lead.sender_id == twilio_conversation_id(number))
        ).one()
    engine.dispose()
    assert lead.reference in final
    assert (lead.name, lead.phone, lead.concern) == (NAME, number, CONCERN)
    assert (lead.contact_method, lead.contact_time) == ("text", "Mornings")
    assert (lead.duration, lead.screening) == ("3 to 12 months", "no")
    assert lead.channel == "twilio"
    # the numbers reached Rasa as the buttons' payloads
    last = ["no", "yes, send it"]
    assert said_by_now(stack["db"], number, last)[-2:] == last


def test_after_stop_a_question_gets_no_reply_until_start(stack):
    number = "+16045550133"
    phone = Phone(stack, number)
    phone.ask("hello", "IMS")
    phone.ask("STOP", "START")
    since = phone.text("how often do I need IMS?")
    phone.ask("HELP", "call")  # answered after the question was handled
    replies = [r["body"] for r in phone.replies(since)]
    assert len(replies) == 1 and "STOP" in replies[0]  # only HELP's answer
    assert said(stack["db"], number) == ["hello"]  # never reached the assistant
    assert contacts(stack["db"])[number].opted_out_at is not None

    phone.ask("START", "Welcome back")
    assert contacts(stack["db"])[number].opted_out_at is None
    assert "week" in phone.ask("how often do I need IMS?", "week")


def test_whatsapp_and_sms_from_one_number_are_one_contact(stack):
    number = "+16045550134"
    phone = Phone(stack, number)
    phone.ask("how often do I need IMS?", "week")
    phone.ask("Does IMS hurt?", "needle", medium="whatsapp")
    sms, *_, whatsapp = phone.replies()
    assert (sms["to"], sms["from"]) == (number, CLINIC_SMS)
    assert (whatsapp["to"], whatsapp["from"]) == (
        f"whatsapp:{number}",
        f"whatsapp:{CLINIC_WHATSAPP}",
    )
    both = ["how often do I need IMS?", "Does IMS hurt?"]
    assert said_by_now(stack["db"], number, both) == both
    assert tracker_events(stack["db"], f"whatsapp:{number}") == []
    rows = [phone for phone in contacts(stack["db"]) if phone.endswith("5550134")]
    assert rows == [number]
    assert contacts(stack["db"])[number].last_channel == "whatsapp"


def test_phone_numbers_and_messages_stay_out_of_the_logs(stack):
    Phone(stack, "+16045550135").ask("hello", "IMS")
    assert "+1********35" in stack["logs"][1].read_text()  # masked, this log
    for log in stack["logs"]:
        content = log.read_text(errors="replace")
        for private in ("5550166", "604-555-0166", NAME, CONCERN, "5550133"):
            assert private not in content, (log.name, private)


def test_the_simulator_texts_the_assistant_and_prints_its_reply(stack):
    result = subprocess.run(
        [sys.executable, "-m", "channels.simulate", "how often do I need IMS?"]
        + ["--sender", "+16045550136", "--rasa", str(stack["url"])],
        cwd=ROOT,
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--- sms to +16045550136" in result.stdout and "week" in result.stdout


def test_sms_does_not_ask_whether_a_plain_answer_helped(stack):
    """Only an answer picked from "Did you mean ...?" is followed by the
    question on SMS (tests/system/test_feedback.py, which can send the
    fallback intent itself)."""
    phone = Phone(stack, "+16045550177")
    answer = phone.ask("how often do I need IMS?", "week")
    time.sleep(1)  # the question would come right after the answer
    replies = "\n".join(r["body"] for r in phone.replies())
    assert "week" in answer and "answer your question" not in replies
