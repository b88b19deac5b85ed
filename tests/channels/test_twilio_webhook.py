"""The Twilio channel's webhook over real HTTP, in process: Sanic serving
the channel's blueprint, requests signed with the `twilio` library as Twilio
signs them, a stand-in for Rasa's agent (a script of answers and an
in-memory tracker store), and a throwaway database for each backend.

The conversation with the real model is in test_twilio_end_to_end.py.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Dict, List, Optional

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic
from sqlalchemy import create_engine, select
from twilio.request_validator import RequestValidator

from channels.contacts import ContactStore
from channels.sms_text import MAX_MESSAGE, units
from channels.twilio_channel import TwilioChannel, TwilioSettings
from clinic.profile import current_profile
from db.models import SmsContact
from scripts.ports import free_port

TOKEN = "test-auth-token"
PUBLIC = "https://assistant.clinic.example.org"  # the proxy's host, not ours
PATH = "/webhooks/twilio/webhook"
PHONE = "+16045550123"
NEW_PHONE = "+16045550188"
CONVERSATION = "tel:" + PHONE  # clinic/conversation_ids.py
CLINIC_SMS, CLINIC_WHATSAPP = "+16045550100", "+16045550199"
MENU = [
    {"title": "How often?", "payload": "How often do I need IMS?"},
    {"title": "Talk to the clinic", "payload": "/request_human"},
]
ESSAY = " ".join(f"Here is sentence {i} of a long answer." for i in range(120))


class ScriptedAgent:
    """Stands in for Rasa's agent: answers by a script and keeps the
    conversation in an in-memory tracker store, as Rasa does."""

    def __init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.received: List[UserMessage] = []
        self.gate = asyncio.Event()

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        store = self.tracker_store
        tracker = await store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, input_channel=message.input_channel))
        for reply in await self.answers(message.text):
            if reply is None:
                await self.gate.wait()
                continue
            await message.output_channel.send_response(message.sender_id, dict(reply))
            tracker.update(
                BotUttered(reply["text"], data={"buttons": reply.get("buttons")})
            )
        await store.save(tracker)

    async def answers(self, text: str) -> List[Optional[Dict[str, Any]]]:
        if text == "menu":
            return [{"text": "What would you like to know?", "buttons": MENU}]
        if text == "essay":
            return [{"text": ESSAY}]
        if text.startswith("slow"):
            await asyncio.sleep(0.3)
        if text == "two parts":  # waits for the test between its messages
            return [{"text": "Part one."}, None, {"text": "Part two."}]
        return [{"text": f"You said: {text}"}]


def sign(url: str, form: Dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


class Webhook:
    """Posts Twilio-style messages to the channel and reads what it sent."""

    def __init__(self, base: str, channel: TwilioChannel, agent, database_url: str):
        self.base, self.channel, self.agent = base, channel, agent
        self.database_url = database_url

    def form(self, body: str, sender: str = PHONE, medium: str = "sms", **extra):
        prefix = "whatsapp:" if medium == "whatsapp" else ""
        clinic = CLINIC_WHATSAPP if medium == "whatsapp" else CLINIC_SMS
        form = {
            "ToCountry": "CA",
            "SmsMessageSid": "SM" + uuid.uuid4().hex,
            "NumMedia": "0",
            "FromCity": "",  # Twilio sends (and signs) empty fields too
            "Body": body,
            "From": prefix + sender,
            "To": prefix + clinic,
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
        }
        form["MessageSid"] = form["SmsMessageSid"]
        form.update(extra)
        return form

    async def post_form(
        self,
        form: Dict[str, str],
        signature: Optional[str] = "sign",
        signed_url: str = PUBLIC + PATH,
        query: str = "",
    ):
        headers = {}
        if signature == "sign":
            signature = sign(signed_url, form)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        url = f"{self.base}{PATH}" + (f"?{query}" if query else "")
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=form, headers=headers) as response,
        ):
            return response.status, await response.text()

    async def say(self, body: str, **kwargs) -> List[str]:
        """Sends a signed message; the bodies of the replies it got."""
        before = len(self.sent())
        status, text = await self.post_form(self.form(body, **kwargs))
        assert status == 200 and "<Response/>" in text
        await self.channel.idle()
        return [r["body"] for r in self.sent()[before:]]

    def sent(self) -> List[Dict[str, Any]]:
        return self.channel.sender.sent

    def contacts(self) -> List[SmsContact]:
        engine = create_engine(self.database_url, future=True)
        with engine.connect() as conn:
            rows = conn.execute(select(SmsContact)).all()
        engine.dispose()
        return rows


async def serve(channel: TwilioChannel, agent: Any) -> tuple:
    Sanic.test_mode = True  # several apps in one process (Sanic's own tests do)
    app = Sanic(f"twilio_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent

    async def on_new_message(message: UserMessage) -> None:
        await app.ctx.agent.handle_message(message)

    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/twilio")
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    return server, f"http://127.0.0.1:{port}"


async def shut(server) -> None:
    await server.before_stop()
    server.close()
    await server.wait_closed()


def known_store(database_url: str) -> ContactStore:
    """The contacts, where PHONE has texted the clinic before: these tests
    are about what follows; the first-contact notice has its own (NEW_PHONE)."""
    store = ContactStore(database_url)
    store.touch(PHONE, "sms")
    return store


@pytest.fixture
async def webhook(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    settings = TwilioSettings(
        auth_token=TOKEN,
        public_url=PUBLIC,
        sms_number=CLINIC_SMS,
        whatsapp_number=CLINIC_WHATSAPP,
        local_dir=tmp_path,
    )
    channel = TwilioChannel(settings, store=known_store(database_url))
    agent = ScriptedAgent()
    server, base = await serve(channel, agent)
    try:
        yield Webhook(base, channel, agent, database_url)
    finally:
        agent.gate.set()
        await shut(server)


async def test_a_signed_message_is_answered(webhook):
    assert await webhook.say("hello there") == ["You said: hello there"]
    (message,) = webhook.agent.received
    assert (message.sender_id, message.input_channel) == (CONVERSATION, "twilio")
    assert message.metadata == {"twilio_medium": "sms"}
    (record,) = webhook.sent()
    assert (record["to"], record["from"], record["medium"]) == (
        PHONE,
        CLINIC_SMS,
        "sms",
    )
    # recorded in the local outbox file as well
    assert webhook.channel.settings.outbox_path.read_text().count("hello there") == 1


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "empty",
        "wrong token",
        "tampered body",
        "url this server sees",
        "added field",
    ],
)
async def test_a_missing_or_wrong_signature_is_refused_untouched(webhook, case):
    contacts = webhook.contacts()
    form = webhook.form("book me in")
    signature: Optional[str] = sign(PUBLIC + PATH, form)
    signed_url = PUBLIC + PATH
    if case == "missing":
        signature = None
    elif case == "empty":
        signature = ""
    elif case == "wrong token":
        signature = sign(PUBLIC + PATH, form, token="not-the-token")
    elif case == "tampered body":
        form["Body"] = "something else"
    elif case == "url this server sees":
        signature = sign(webhook.base + PATH, form)
    elif case == "added field":
        form["Extra"] = "1"
    status, _ = await webhook.post_form(
        form, signature=signature, signed_url=signed_url
    )
    await webhook.channel.idle()
    assert status == 403
    assert webhook.agent.received == [] and webhook.sent() == []
    assert await webhook.agent.tracker_store.retrieve(CONVERSATION) is None
    assert webhook.contacts() == contacts  # not even marked as seen


async def test_the_query_string_is_part_of_what_twilio_signs(webhook):
    form = webhook.form("hi")
    status, _ = await webhook.post_form(
        form, signed_url=PUBLIC + PATH + "?clinic=main", query="clinic=main"
    )
    assert status == 200
    status, _ = await webhook.post_form(
        form, signed_url=PUBLIC + PATH, query="clinic=x"
    )
    assert status == 403


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b"x=" + b"a" * (1024 * 1024), "application/x-www-form-urlencoded", 413),
        (b'{"Body": "hi"}', "application/json", 400),
        (b"Body=\xff\xfe", "application/x-www-form-urlencoded", 400),
        (
            b"&".join(b"f%d=1" % i for i in range(500)),
            "application/x-www-form-urlencoded",
            400,
        ),
    ],
)
async def test_odd_requests_get_a_4xx_not_an_error(webhook, body, content_type, status):
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            webhook.base + PATH,
            data=body,
            headers={"Content-Type": content_type, "X-Twilio-Signature": "x"},
        ) as response,
    ):
        assert response.status == status
    assert webhook.agent.received == []


async def test_buttons_are_numbered_and_a_number_picks_one(webhook):
    (menu,) = await webhook.say("menu")
    assert (
        menu == "What would you like to know?\n\n1. How often?\n2. Talk to the clinic"
    )
    await webhook.say("2")
    assert webhook.agent.received[-1].text == "/request_human"
    # the answer to "2" had no buttons: a number is now just text
    await webhook.say("1")
    assert webhook.agent.received[-1].text == "1"
    await webhook.say("menu")
    await webhook.say("3")  # no third option
    assert webhook.agent.received[-1].text == "3"
    await webhook.say("menu")
    await webhook.say("1.")
    assert webhook.agent.received[-1].text == "How often do I need IMS?"


async def test_typed_intent_syntax_does_not_reach_rasa_as_an_intent(webhook):
    await webhook.say('/request_human{"lead_phone": "+15555550100"}')
    assert not webhook.agent.received[-1].text.startswith("/")


async def test_a_long_answer_arrives_in_order_in_messages_of_at_most_1600(webhook):
    parts = await webhook.say("essay")
    assert len(parts) >= 3
    assert all(units(part) <= MAX_MESSAGE for part in parts)
    assert " ".join(parts) == ESSAY
    assert all(part.endswith("answer.") for part in parts)


async def test_one_senders_messages_are_answered_in_the_order_sent(webhook):
    # each POST is acknowledged at once; the first takes longest to answer
    for body in ["slow first", "second", "third"]:
        status, _ = await webhook.post_form(webhook.form(body))
        assert status == 200
    await webhook.channel.idle()
    assert [r["body"] for r in webhook.sent()] == [
        "You said: slow first",
        "You said: second",
        "You said: third",
    ]


async def test_a_message_twilio_delivers_twice_is_answered_once(webhook):
    form = webhook.form("hello")
    for _ in range(2):
        status, _ = await webhook.post_form(form)
        assert status == 200
    await webhook.channel.idle()
    assert len(webhook.sent()) == 1 and len(webhook.agent.received) == 1


async def test_stop_silences_the_number_until_start(webhook):
    profile = current_profile()
    (confirmation,) = await webhook.say("STOP")
    assert "START" in confirmation
    (contact,) = webhook.contacts()
    assert contact.opted_out_at is not None

    assert await webhook.say("how often do I need IMS?") == []
    assert await webhook.say("menu") == []
    assert webhook.agent.received == []  # after STOP nothing reaches the bot

    (help_text,) = await webhook.say("help")  # HELP is answered even now
    assert profile.phone in help_text and profile.email in help_text

    (welcome,) = await webhook.say("start")
    assert "Welcome back" in welcome
    assert webhook.contacts()[0].opted_out_at is None
    assert await webhook.say("how often?") == ["You said: how often?"]


async def test_yes_is_an_answer_unless_the_number_has_opted_out(webhook):
    assert await webhook.say("YES") == ["You said: YES"]
    await webhook.say("stop")
    (welcome,) = await webhook.say("yes")
    assert "Welcome back" in welcome


async def test_stop_also_stops_an_answer_being_sent(webhook):
    status, _ = await webhook.post_form(webhook.form("two parts"))
    assert status == 200
    for _ in range(200):  # until the first part is out
        if webhook.sent():
            break
        await asyncio.sleep(0.05)
    assert [r["body"] for r in webhook.sent()] == ["Part one."]
    status, _ = await webhook.post_form(webhook.form("Stop"))
    assert status == 200  # the opt-out is stored before this answer
    webhook.agent.gate.set()
    await webhook.channel.idle()
    bodies = [r["body"] for r in webhook.sent()]
    assert bodies[0] == "Part one." and "Part two." not in bodies
    assert "START" in bodies[-1]


async def test_whatsapp_cancel_is_an_answer_but_sms_cancel_opts_out(webhook):
    assert await webhook.say("cancel", medium="whatsapp") == ["You said: cancel"]
    (confirmation,) = await webhook.say("cancel")
    assert "START" in confirmation


async def test_sms_and_whatsapp_from_one_number_are_one_contact(webhook):
    await webhook.say("hello by sms")
    await webhook.say("hello by whatsapp", sender="+1 604 555 0123", medium="whatsapp")
    assert {m.sender_id for m in webhook.agent.received} == {CONVERSATION}
    assert [m.metadata["twilio_medium"] for m in webhook.agent.received] == [
        "sms",
        "whatsapp",
    ]
    (contact,) = webhook.contacts()
    assert (contact.phone, contact.last_channel) == (PHONE, "whatsapp")
    sms, whatsapp = webhook.sent()
    assert (sms["to"], sms["from"]) == (PHONE, CLINIC_SMS)
    assert (whatsapp["to"], whatsapp["from"]) == (
        f"whatsapp:{PHONE}",
        f"whatsapp:{CLINIC_WHATSAPP}",
    )
    tracker = await webhook.agent.tracker_store.retrieve(CONVERSATION)
    said = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    assert said == ["hello by sms", "hello by whatsapp"]


@pytest.mark.parametrize("body, media", [("", "1"), ("", "0"), ("   ", "0")])
async def test_media_only_or_empty_messages_get_a_polite_answer(webhook, body, media):
    (reply,) = await webhook.say(body, NumMedia=media)
    assert "only read text" in reply
    assert webhook.agent.received == []


async def test_a_text_too_long_to_read_is_refused_politely(webhook):
    (reply,) = await webhook.say("pain " * 1000)
    assert "too long" in reply
    assert webhook.agent.received == []


async def test_a_failing_assistant_does_not_break_the_webhook(webhook):
    async def broken(message):
        raise RuntimeError("model exploded")

    webhook.agent.handle_message = broken
    (sorry,) = await webhook.say("hello")
    assert sorry.startswith("Sorry, something went wrong")
    assert current_profile().phone in sorry
    assert len(await webhook.say("help")) == 1  # still serving


async def test_messages_rasa_sends_on_its_own_go_where_the_person_last_wrote(
    webhook,
):
    output = webhook.channel.get_output_channel()
    await webhook.say("hi", medium="whatsapp")
    await output.send_text_message(PHONE, "A reminder from the clinic.")
    reminder = webhook.sent()[-1]
    assert (reminder["to"], reminder["body"]) == (
        f"whatsapp:{PHONE}",
        "A reminder from the clinic.",
    )
    await webhook.say("stop")
    before = len(webhook.sent())
    await output.send_text_with_buttons(PHONE, "Still there?", MENU)
    assert len(webhook.sent()) == before  # opted out: nothing sent


@pytest.fixture
async def fake_twilio():
    """A stand-in for Twilio's Messages API on a local port."""
    calls: List[Dict[str, str]] = []
    answers: List[tuple] = []

    async def messages(request: web.Request) -> web.Response:
        calls.append(dict(await request.post()))
        status, body = answers.pop(0) if answers else (201, {"sid": "SM1"})
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", messages)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", calls, answers
    await runner.cleanup()


@pytest.fixture
async def live_webhook(database_url, tmp_path, monkeypatch, fake_twilio):
    monkeypatch.setenv("DATABASE_URL", database_url)
    base_api, calls, answers = fake_twilio
    settings = TwilioSettings(
        account_sid="AC" + "0" * 32,
        auth_token=TOKEN,
        public_url=PUBLIC,
        sms_number=CLINIC_SMS,
        api_base=base_api,
        local_dir=tmp_path,
    )
    channel = TwilioChannel(settings, store=known_store(database_url))
    agent = ScriptedAgent()
    server, base = await serve(channel, agent)
    try:
        yield Webhook(base, channel, agent, database_url), calls, answers
    finally:
        await shut(server)


async def test_live_mode_answers_through_twilios_api(live_webhook):
    webhook, calls, _ = live_webhook
    status, _ = await webhook.post_form(webhook.form("hello"))
    assert status == 200
    await webhook.channel.idle()
    assert calls == [{"To": PHONE, "From": CLINIC_SMS, "Body": "You said: hello"}]
    assert not webhook.channel.settings.outbox_path.exists()


async def test_live_mode_refuses_another_accounts_messages(live_webhook):
    webhook, calls, _ = live_webhook
    form = webhook.form("hello", AccountSid="AC" + "9" * 32)
    status, _ = await webhook.post_form(form)
    assert status == 403 and webhook.agent.received == []


async def test_a_number_twilio_reports_unsubscribed_is_marked_opted_out(live_webhook):
    webhook, calls, answers = live_webhook
    answers.append((400, {"code": 21610, "message": "unsubscribed recipient"}))
    await webhook.post_form(webhook.form("hello"))
    await webhook.channel.idle()
    (contact,) = webhook.contacts()
    assert contact.opted_out_at is not None


async def test_a_new_numbers_first_message_gets_the_notice_once(webhook):
    notice, answer = await webhook.say("hi, what is IMS?", sender=NEW_PHONE)
    assert "automated assistant" in notice and "not medical advice" in notice
    assert "HELP" in notice and "STOP" in notice
    assert current_profile().emergency_number in notice
    assert answer == "You said: hi, what is IMS?"
    # the same number again, even on WhatsApp: no notice
    again = await webhook.say("and the cost?", sender=NEW_PHONE)
    assert again == ["You said: and the cost?"]
    whatsapp = await webhook.say("hello", sender=NEW_PHONE, medium="whatsapp")
    assert whatsapp == ["You said: hello"]


async def test_a_first_message_of_stop_gets_no_notice(webhook):
    (reply,) = await webhook.say("STOP", sender=NEW_PHONE)
    assert "automated assistant" not in reply
