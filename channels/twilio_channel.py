"""SMS and WhatsApp through Twilio, as a Rasa input channel.

Registered in credentials.yml as `channels.twilio_channel.TwilioChannel`;
Twilio posts to `/webhooks/twilio/webhook`. Unlike Rasa's built-in
`twilio` connector, this one:

- verifies `X-Twilio-Signature` against the public URL the clinic
  configured (not the URL this server sees behind a proxy): a missing or
  wrong signature gets 403 and never reaches the conversation;
- makes `tel:<the sender's E.164 number>` the conversation id
  (clinic/conversation_ids.py), so SMS and WhatsApp from one phone are one
  conversation and one `sms_contacts` row, the lead form can offer that
  number, and no other channel can address it;
- shows buttons as numbered options and reads a reply of "2" as the second
  button's payload (from the last bot turn in the tracker store, so it works
  across replicas);
- answers STOP / START / HELP itself, stores opt-outs, and sends nothing to
  an opted-out number (checked again before every message);
- tells a number's first message, once, that this is an automated assistant
  and not medical advice, with HELP and STOP (`sms_text.first_contact_text`);
- acknowledges at once with empty TwiML and answers in the background, one
  message at a time per sender, through Twilio's REST API with retries, or,
  in local mode (no TWILIO_ACCOUNT_SID), records the replies in a file;
- acknowledges a replayed MessageSid (Twilio's retry, on any replica, after
  any restart) with empty TwiML and does not handle it again
  (channels/message_sids.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Set,
    Text,
)
from urllib.parse import parse_qs, urlsplit

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator

from channels import sms_text
from channels.contacts import ContactStore
from channels.message_sids import MessageSids
from channels.senders import (
    OPTED_OUT_AT_TWILIO,
    TWILIO_API,
    LocalOutbox,
    Outgoing,
    TwilioRestSender,
)
from clinic.contact import parse_phone
from clinic.conversation_ids import number_of, twilio_conversation_id
from clinic.private_files import private_dir
from clinic.profile import current_profile
from clinic.settings import PROJECT_ROOT, environment_value, get_settings
from rasa_extensions.channel_guard import (
    MAX_MESSAGE_CHARS,
    guard,
    warn_without_start_up_hook,
)

logger = logging.getLogger(__name__)

# credentials.yml key -> the environment variable it is read from by default.
ENVIRONMENT = {
    "account_sid": "TWILIO_ACCOUNT_SID",
    "auth_token": "TWILIO_AUTH_TOKEN",
    "sms_number": "TWILIO_NUMBER",
    "whatsapp_number": "TWILIO_WHATSAPP_NUMBER",
    "public_url": "TWILIO_PUBLIC_URL",
}
LOCAL_PUBLIC_URL = "http://localhost:5005"  # what local mode's signatures use
MAX_BODY_BYTES = 64 * 1024  # Twilio's posts are a few kB
MAX_FIELDS = 200
REMEMBERED_SIDS = 2000
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
Params = Dict[str, List[str]]


def _resolve(value: Any, key: str) -> str:
    """A credentials.yml value: `env:NAME` reads variable NAME, a missing key
    takes the setting of that name (clinic/settings.py), anything else is
    taken as written."""
    if value is None:
        return str(getattr(get_settings().twilio, key))
    text = str(value).strip()
    if text.startswith("env:"):
        return environment_value(text[4:].strip())
    return text


def _bare_number(value: str) -> str:
    """'whatsapp:+14155238886' -> '+14155238886'."""
    value = (value or "").strip()
    return value.split(":", 1)[1].strip() if ":" in value else value


def local_token(path: Path) -> str:
    """Local mode's signing token: made once, kept in `path` (mode 0600).

    Written to a temporary file and then linked into place, so a process
    starting at the same moment never reads a half-written token.
    """
    try:
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    private_dir(path.parent)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(secrets.token_hex(20) + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:  # another process made it first: use theirs
        pass
    finally:
        draft.unlink()
    token = path.read_text(encoding="utf-8").strip()
    if not token:  # an empty key would make every signature easy to forge
        raise RasaException(f"{path} is empty: delete it to make a new token")
    return token


@dataclass(frozen=True)
class TwilioSettings:
    """The channel's configuration (see docs/twilio.md)."""

    account_sid: str = ""
    auth_token: str = ""
    sms_number: str = ""
    whatsapp_number: str = ""
    public_url: str = ""
    api_base: str = TWILIO_API
    local_dir: Path = field(default=PROJECT_ROOT / "var")

    @classmethod
    def from_credentials(
        cls, credentials: Optional[Mapping[str, Any]]
    ) -> TwilioSettings:
        """Settings from credentials.yml's entry and the environment."""
        credentials = dict(credentials or {})
        unknown = sorted(set(credentials) - set(ENVIRONMENT))
        if unknown:
            raise RasaException(f"Unknown Twilio channel settings: {unknown}")
        values = {key: _resolve(credentials.get(key), key) for key in ENVIRONMENT}
        environment = get_settings().twilio
        settings = cls(
            account_sid=values["account_sid"],
            auth_token=values["auth_token"],
            sms_number=_bare_number(values["sms_number"]),
            whatsapp_number=_bare_number(values["whatsapp_number"]),
            public_url=values["public_url"],
            api_base=environment.api_base,
            local_dir=environment.local_dir,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuses a half-configured live mode (it would fail every message)."""
        if not self.live:
            return
        missing = [
            ENVIRONMENT[key]
            for key in ("auth_token", "public_url")
            if not getattr(self, key)
        ]
        if missing:
            raise RasaException(
                f"The Twilio channel needs {', '.join(missing)} when "
                "TWILIO_ACCOUNT_SID is set."
            )

    @property
    def live(self) -> bool:
        """True: send through Twilio. False: local mode, record replies."""
        return bool(self.account_sid)

    @property
    def outbox_path(self) -> Path:
        return self.local_dir / "twilio-outbox.jsonl"

    @property
    def token_path(self) -> Path:
        return self.local_dir / "twilio-local-token"

    def signing_token(self) -> str:
        """The token requests are signed with: Twilio's auth token, or in
        local mode without one, the generated local token."""
        return self.auth_token or local_token(self.token_path)

    def webhook_url(self, path: str, query: str = "") -> str:
        """The URL Twilio signed: the configured public URL (its origin plus
        this request's path, unless it names a path itself) and the query."""
        base = self.public_url or LOCAL_PUBLIC_URL
        parts = urlsplit(base)
        url = base.rstrip("/") + path if parts.path in ("", "/") else base
        if query and not parts.query:
            url += "?" + query
        return url

    def number_for(self, medium: str) -> str:
        return self.whatsapp_number if medium == sms_text.WHATSAPP else self.sms_number


def address(medium: str, number: str) -> str:
    """The Twilio address of an E.164 number on `medium`."""
    return f"whatsapp:{number}" if medium == sms_text.WHATSAPP else number


class FormParams(dict):
    """Form fields with every value kept, in the shape RequestValidator
    reads (it calls `getall` for multi-valued fields)."""

    def getall(self, name: str) -> List[str]:
        return list(self[name])


def parse_form(request: Request) -> Optional[Params]:
    """Twilio's url-encoded form, keeping empty fields (Twilio signs them;
    Sanic's own `request.form` drops them). None if it is not such a form."""
    content_type = (request.headers.get("content-type") or "").split(";")[0]
    if content_type.strip().lower() != "application/x-www-form-urlencoded":
        return None
    try:
        return parse_qs(
            request.body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        return None


def first(params: Params, name: str) -> str:
    values = params.get(name) or [""]
    return values[0]


@dataclass(frozen=True)
class Incoming:
    """A message from Twilio, with the sender as an E.164 number."""

    phone: str
    medium: str
    text: str
    num_media: int
    sid: str
    to: str

    @classmethod
    def from_params(cls, params: Params, region: str) -> Optional[Incoming]:
        sender = first(params, "From").strip()
        medium = (
            sms_text.WHATSAPP
            if sender.lower().startswith("whatsapp:")
            else sms_text.SMS
        )
        phone = parse_phone(sender, region)
        if not phone:
            return None
        try:
            num_media = int(first(params, "NumMedia") or 0)
        except ValueError:
            num_media = 0
        return cls(
            phone=phone,
            medium=medium,
            text=first(params, "Body").strip(),
            num_media=num_media,
            sid=first(params, "MessageSid"),
            to=_bare_number(first(params, "To")),
        )


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it.
    asyncio's locks are FIFO, so one sender's messages are handled in the
    order they arrived."""

    def __init__(self) -> None:
        self._locks: Dict[str, asyncio.Lock] = {}
        self._users: Dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


async def last_buttons(agent: Any, sender_id: str) -> List[Dict[str, Any]]:
    """The buttons of the bot's latest message with buttons, if the bot has
    sent it since the person last wrote."""
    tracker_store = getattr(agent, "tracker_store", None)
    if tracker_store is None:
        return []
    tracker = await tracker_store.retrieve(sender_id)
    if tracker is None:
        return []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return []
        if isinstance(event, BotUttered):
            buttons = event.data.get("buttons") or event.data.get("quick_replies")
            if buttons:
                return list(buttons)
    return []


class TwilioOutput(OutputChannel):
    """Sends the assistant's messages to one number: buttons numbered, long
    texts split, nothing to a number that opted out."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    def __init__(
        self,
        channel: TwilioChannel,
        medium: Optional[str] = None,
        reply_from: Optional[str] = None,
    ) -> None:
        self.channel = channel
        self.medium = medium
        self.reply_from = reply_from

    async def send_text_message(
        self, recipient_id: Text, text: Text, **kwargs: Any
    ) -> None:
        await self.deliver(recipient_id, text)

    async def send_text_with_buttons(
        self,
        recipient_id: Text,
        text: Text,
        buttons: List[Dict[Text, Any]],
        **kwargs: Any,
    ) -> None:
        await self.deliver(recipient_id, sms_text.number_buttons(text, buttons))

    async def send_image_url(
        self, recipient_id: Text, image: Text, **kwargs: Any
    ) -> None:
        await self.deliver(recipient_id, image)

    async def send_attachment(
        self, recipient_id: Text, attachment: Text, **kwargs: Any
    ) -> None:
        await self.deliver(recipient_id, str(attachment))

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        text = json_message.get("text") if isinstance(json_message, dict) else None
        if text:
            await self.deliver(recipient_id, str(text))
        else:
            logger.debug("twilio: custom payload without text not sent")

    async def deliver(self, recipient_id: Text, text: Text, force: bool = False) -> int:
        """Sends `text` (split if long) to `recipient_id`; the number of
        messages sent. Only `force` sends to an opted-out number (the STOP
        confirmation and HELP)."""
        store = self.channel.store
        # Rasa names the conversation (tel:+1...); the channel's own replies
        # name the number.
        recipient_id = number_of(recipient_id) or recipient_id
        masked = sms_text.mask_phone(recipient_id)
        try:
            medium = self.medium or (
                await asyncio.to_thread(store.last_channel, recipient_id)
                or sms_text.SMS
            )
        except SQLAlchemyError as error:
            logger.error("twilio: contact lookup failed: %s", type(error).__name__)
            return 0
        sender = self.reply_from or self.channel.settings.number_for(medium)
        if not sender:
            logger.warning("twilio: no %s number configured, nothing sent", medium)
            return 0
        sent = 0
        for part in sms_text.split_message(text):
            if not force:
                try:
                    opted_out = await asyncio.to_thread(
                        store.is_opted_out, recipient_id
                    )
                except SQLAlchemyError as error:  # unknown: better silent than sorry
                    logger.error(
                        "twilio: opt-out check failed: %s", type(error).__name__
                    )
                    return sent
                if opted_out:
                    logger.info("twilio: %s opted out, message not sent", masked)
                    return sent
            message = Outgoing(
                to=address(medium, recipient_id),
                from_=address(medium, sender),
                body=part,
                medium=medium,
            )
            result = await self.channel.sender.send(message)
            if result.error_code == OPTED_OUT_AT_TWILIO:
                logger.info("twilio: %s opted out at Twilio", masked)
                await asyncio.to_thread(store.opt_out, recipient_id, medium)
                return sent
            if not result.ok:  # the rest would read out of context
                return sent
            sent += 1
        return sent


class TwilioChannel(InputChannel):
    """The SMS and WhatsApp input channel (see the module docstring)."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> TwilioChannel:
        return cls(TwilioSettings.from_credentials(credentials))

    def __init__(
        self,
        settings: Optional[TwilioSettings] = None,
        store: Optional[ContactStore] = None,
        sender: Any = None,
        sids: Optional[MessageSids] = None,
    ) -> None:
        self.settings = settings or TwilioSettings.from_credentials({})
        self.store = store or ContactStore()
        # Replays are recognised across restarts and replicas (the database);
        # `_seen` spares this process the query for its own recent ones.
        self.sids = sids or MessageSids(self.store.url)
        if sender is None:
            if self.settings.live:
                sender = TwilioRestSender(
                    self.settings.account_sid,
                    self.settings.auth_token,
                    api_base=self.settings.api_base,
                )
            else:
                sender = LocalOutbox(self.settings.outbox_path)
        self.sender = sender
        self._validator = RequestValidator(self.settings.signing_token())
        self._locks = KeyedLocks()
        self._tasks: Set[asyncio.Task] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        if self.settings.live:
            logger.info("Twilio channel: live, replies go through Twilio")
        else:
            logger.info(
                "Twilio channel: local mode, replies are recorded in %s",
                self.settings.outbox_path,
            )

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The webhook. Like the project's other channels, it passes messages
        through `rasa_extensions.channel_guard` (an apology, not silence,
        when handling fails)."""
        on_new_message = guard(on_new_message)
        hooks = Blueprint("clinic_twilio_webhook", __name__)
        hooks.listener("after_server_start")(warn_without_start_up_hook)

        @hooks.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hooks.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

        @hooks.listener("before_server_stop")
        async def finish(*_: Any) -> None:
            await self.drain()

        return hooks

    def get_output_channel(self) -> OutputChannel:
        """For messages Rasa sends on its own (e.g. `output_channel=latest`)."""
        return TwilioOutput(self)

    async def receive(
        self, request: Request, on_new_message: OnNewMessage
    ) -> HTTPResponse:
        """Checks a webhook request and queues its message; answers at once."""
        if len(request.body or b"") > MAX_BODY_BYTES:
            return response.text("Request too large.", status=413)
        params = parse_form(request)
        if params is None:
            return response.text("Expected a form from Twilio.", status=400)
        url = self.settings.webhook_url(request.path, request.query_string)
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not self._validator.validate(
            url, FormParams(params), signature
        ):
            logger.warning("twilio: refused a request without a valid signature")
            return response.text("Forbidden.", status=403)
        if (
            self.settings.live
            and first(params, "AccountSid") != self.settings.account_sid
        ):
            logger.warning("twilio: refused a request for another account")
            return response.text("Forbidden.", status=403)

        incoming = Incoming.from_params(params, current_profile().phone_region)
        if incoming is None:
            logger.warning("twilio: ignored a message without a phone number sender")
            return self.twiml()
        if incoming.sid and incoming.sid in self._seen:
            return self.twiml()  # Twilio retried a message we already have
        if sms_text.keyword(incoming.text, incoming.medium) == "stop":
            try:  # stored before answering, so pending replies stop at once
                await asyncio.to_thread(
                    self.store.opt_out, incoming.phone, incoming.medium
                )
            except SQLAlchemyError as error:
                logger.error("twilio: opt-out not stored: %s", type(error).__name__)
                return response.text("Please try again.", status=503)
        if incoming.sid and not await self._first_delivery(incoming.sid):
            logger.info("twilio: a replayed message was acknowledged, not handled")
            return self.twiml()
        self._remember(incoming.sid)
        agent = getattr(request.app.ctx, "agent", None)
        self._start(self._handle(incoming, on_new_message, agent))
        return self.twiml()

    @staticmethod
    def twiml() -> HTTPResponse:
        return response.text(EMPTY_TWIML, content_type="text/xml")

    async def _first_delivery(self, sid: str) -> bool:
        """False when any replica has had this MessageSid in the last day
        (channels/message_sids.py). With the database away the message is
        handled: this process's own list still stops its own replays."""
        try:
            return await asyncio.to_thread(self.sids.claim, sid)
        except SQLAlchemyError as error:
            logger.error("twilio: replay check failed: %s", type(error).__name__)
            return True

    def _remember(self, sid: str) -> None:
        if not sid:
            return
        self._seen[sid] = None
        while len(self._seen) > REMEMBERED_SIDS:
            self._seen.popitem(last=False)

    def _start(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # a reference, or the task may be collected
        task.add_done_callback(self._tasks.discard)

    async def idle(self, timeout: Optional[float] = None) -> None:
        """Waits until every message received so far has been handled."""
        while self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            if pending:
                return

    async def drain(self, timeout: float = 10.0) -> None:
        """Waits for messages in hand (at shutdown), then closes the sender."""
        await self.idle(timeout)
        await self.sender.close()

    async def _handle(
        self, incoming: Incoming, on_new_message: OnNewMessage, agent: Any
    ) -> None:
        try:
            async with self._locks.hold(incoming.phone):
                await self._process(incoming, on_new_message, agent)
        except Exception as error:  # noqa: BLE001 - log it; the task is detached
            logger.error(
                "twilio: message from %s not handled: %s",
                sms_text.mask_phone(incoming.phone),
                type(error).__name__,
            )
            logger.debug("twilio: handling failed", exc_info=True)

    async def _process(
        self, incoming: Incoming, on_new_message: OnNewMessage, agent: Any
    ) -> None:
        phone, medium = incoming.phone, incoming.medium
        masked = sms_text.mask_phone(phone)
        logger.info("twilio: %s message from %s", medium, masked)
        seen = await asyncio.to_thread(self.store.touch, phone, medium)
        opted_out = seen.opted_out
        profile = current_profile()
        output = TwilioOutput(
            self, medium, self.settings.number_for(medium) or incoming.to
        )
        word = sms_text.keyword(incoming.text, medium)
        if word == "stop":
            await output.deliver(phone, sms_text.stopped_text(profile), force=True)
            return
        if word == "help":  # answered even after STOP, as carriers require
            await output.deliver(phone, sms_text.help_text(profile), force=True)
            return
        if word == "start" and opted_out:
            await asyncio.to_thread(self.store.opt_in, phone, medium)
            await output.deliver(phone, sms_text.restarted_text(profile))
            return
        if opted_out:
            logger.info("twilio: %s has opted out; message not processed", masked)
            return
        if seen.first:  # once per number: what this is, HELP and STOP
            await output.deliver(phone, sms_text.first_contact_text(profile))
        text = sms_text.clean_incoming(incoming.text)
        if not text:
            await output.deliver(phone, sms_text.media_text(profile))
            return
        if len(text) > MAX_MESSAGE_CHARS:
            await output.deliver(phone, sms_text.too_long_text(profile))
            return
        conversation = twilio_conversation_id(phone, medium == sms_text.WHATSAPP)
        if sms_text.chosen_number(text) is not None:
            buttons = await last_buttons(agent, conversation)
            text = sms_text.chosen_payload(text, buttons) or text
        message = UserMessage(
            text,
            output,
            conversation,
            input_channel=self.name(),
            message_id=incoming.sid or None,
            metadata={"twilio_medium": medium},
        )
        await on_new_message(message)  # guarded: failures get an apology
