"""Rasa's socket.io channel, with its events checked and its rooms fixed.

Rasa 3.6 registers two handlers that trust the client and an API that has
changed under them:

- `session_request` takes any JSON value as the session id (a dict makes
  `enter_room` fail) and calls python-socketio's `enter_room` without
  `await`: since python-socketio 5.10 that is a coroutine, so with
  `session_persistence` the client never joins its room and never receives
  a reply.
- `user_uttered` fails on a payload that is not an object (a list arrives
  as several arguments), on a non-string message and on metadata that is
  not JSON.

Upstream: https://github.com/RasaHQ/rasa/issues/13027 (the missing
`await`; fix proposed in https://github.com/RasaHQ/rasa/pull/13148).

This channel replaces those two handlers with checked ones and guards the
message handler like every project channel. Session ids are the server's
(#14): Rasa takes any id a client sends, so a browser could name another
person's conversation (an SMS number, say). Here `session_confirm` gives
the browser a token `<key>.<signature>`, signed with CHAT_SESSION_SECRET
(unset: a secret made once in var/chat-session-secret, mode 0600), and the
conversation is `web:<key>` (clinic/conversation_ids.py). A
session_request with a token this server signed rejoins its conversation
(the widget's reconnect); any other id, a guess or another channel's id,
gets a new token and an empty conversation. A message is taken only for a
session its socket has joined, else it gets a "could not read" reply.
Replicas share one secret (the environment, or the same var/).

It also checks where a browser connects from. Rasa creates its socket.io
server with `cors_allowed_origins=[]`, which turns python-socketio's origin
check off, so `--cors` limits only the polling transport and any web page could
open a WebSocket to the assistant. Here the connect handler refuses a browser
whose `Origin` is not in `CHAT_ALLOWED_ORIGINS` (space- or comma-separated;
default: the web app's own origin, PUBLIC_BASE_URL, and its 127.0.0.1 twin;
read in clinic/settings.py).
The run scripts pass the same list to `--cors`. Clients that send no Origin
(servers, the SMS simulator) are not browsers and are let through; JWT auth,
if configured, is checked as Rasa does.

With several replicas (`make run-scaled`), each one named by REPLICA_NAME,
its Engine.IO session ids begin with '<name>.': the long-polling transport
sends a session's requests separately, and nginx (deploy/nginx/scaled.conf)
routes each one by that prefix to the replica that holds the session.

Replicas pass socket.io emits to each other through Redis. The staff app's
live-chat messages (#15) go through Rasa's HTTP API, which may be served by
either replica, while the widget's socket is held by one: python-socketio
emits only to the sockets of its own process. When REDIS_HOST is set (the
lock store's Redis, clinic/settings.py), the server gets python-socketio's
`AsyncRedisManager` as its client manager, so an emit to a room is
published on a Redis channel (`<LOCK_KEY_PREFIX>:socketio`) and every
replica sends it to the sockets it holds in that room. Without Redis (a
single process, `make run`) the server keeps its in-process manager.
Upstream Rasa builds the server without a `client_manager`; see
https://python-socketio.readthedocs.io/en/stable/server.html#using-a-message-queue.

Urgent replies reach the widget marked as such. Rasa's socket.io output
sends only the text of each paragraph (and the buttons) and drops the rest
of a response; `WidgetOutput` adds `"metadata": {"urgent": true}` to the
paragraphs of a response whose domain `metadata` says `urgent: true`, and to
the first `urgent_parts` paragraphs of a reply that opens with the
urgent-care reminder (rasa_extensions/urgent_reminder.py). Other channels
(REST, Twilio) ignore response metadata and keep sending plain text.

Enabled in credentials.yml as `channels.socketio_channel.SocketIOInput`.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Text, Tuple

import rasa.core.channels.channel
from rasa.core.channels import socketio
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint
from socketio import AsyncRedisManager, AsyncServer

from channels.twilio_channel import local_token  # its safe, 0600 secret file
from clinic.conversation_ids import issue_web_token, web_conversation_of
from clinic.settings import PROJECT_ROOT, get_settings, origin_of
from rasa_extensions.channel_guard import GuardedChannel, Handler, guard

logger = logging.getLogger(__name__)

UNREADABLE = "Sorry, I couldn't read that message. Could you type it again?"


def _metadata(value: Any) -> Dict[Text, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def allowed_origins() -> FrozenSet[Text]:
    """The browser origins the chat accepts (clinic/settings.py)."""
    return get_settings().chat_allowed_origins


SECRET_FILE = PROJECT_ROOT / "var" / "chat-session-secret"


def session_secret() -> Text:
    """The key that signs widget session tokens: CHAT_SESSION_SECRET, or one
    made once in var/chat-session-secret (mode 0600) for local use."""
    return get_settings().chat_session_secret or local_token(SECRET_FILE)


def _payload(args: Tuple[Any, ...]) -> Any:
    """An event's data: socket.io sends a list as several arguments."""
    return args[0] if len(args) == 1 else list(args) or None


def named_ids(generate_id: Callable[[], str], replica: str) -> Callable[[], str]:
    """Engine.IO session ids that say which replica made them."""

    def generate() -> str:
        return f"{replica}.{generate_id()}"

    return generate


def share_through_redis(sio: AsyncServer) -> Optional[AsyncRedisManager]:
    """Gives `sio` a Redis message queue to the other replicas when Redis is
    configured (REDIS_HOST); returns the manager, or None (a single process).

    To be called before the server's first connection: python-socketio
    initialises its manager (and starts the Redis listener) then."""
    settings = get_settings()
    if not settings.redis_url:
        return None
    prefix = settings.lock_key_prefix
    manager = AsyncRedisManager(
        settings.redis_url,
        channel=f"{prefix}:socketio" if prefix else "socketio",
        redis_options={"password": settings.redis_password or None},
    )
    if sio.manager_initialized:
        raise RuntimeError("the socket.io server is already running")
    sio.manager = manager
    manager.set_server(sio)
    return manager


def urgent_flags(text: Text, metadata: Any) -> List[Tuple[Text, bool]]:
    """`text`'s paragraphs, as Rasa's socket.io output splits them, each with
    whether it is urgent-care advice (from the response's `metadata`)."""
    parts = text.strip().split("\n\n") or [text]
    metadata = metadata if isinstance(metadata, dict) else {}
    if metadata.get("urgent") is True:
        urgent = len(parts)
    else:
        count = metadata.get("urgent_parts")
        urgent = count if isinstance(count, int) and count > 0 else 0
    return [(part, index < urgent) for index, part in enumerate(parts)]


class WidgetOutput(socketio.SocketIOOutput):
    """Rasa's socket.io output, with urgent paragraphs marked for the widget
    (see the module docstring). Messages are otherwise Rasa's."""

    async def send_text_message(
        self, recipient_id: Text, text: Text, **kwargs: Any
    ) -> None:
        for part, urgent in urgent_flags(text, kwargs.get("metadata")):
            await self._send_message(recipient_id, _marked({"text": part}, urgent))

    async def send_text_with_buttons(
        self,
        recipient_id: Text,
        text: Text,
        buttons: List[Dict[Text, Any]],
        **kwargs: Any,
    ) -> None:
        parts = urgent_flags(text, kwargs.get("metadata"))
        # As Rasa does: the buttons go with the last paragraph.
        quick_replies = [
            {"content_type": "text", "title": b["title"], "payload": b["payload"]}
            for b in buttons
        ]
        for index, (part, urgent) in enumerate(parts):
            replies = quick_replies if index == len(parts) - 1 else []
            message = {"text": part, "quick_replies": replies}
            await self._send_message(recipient_id, _marked(message, urgent))


def _marked(message: Dict[Text, Any], urgent: bool) -> Dict[Text, Any]:
    return {**message, "metadata": {"urgent": True}} if urgent else message


class SocketIOInput(GuardedChannel, socketio.SocketIOInput):
    """The socket.io channel with checked events (see the module docstring)."""

    def get_output_channel(self) -> Optional[OutputChannel]:
        """The output for messages sent through Rasa's HTTP API."""
        output = super().get_output_channel()
        return output and WidgetOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        share_through_redis(sio)
        replica = get_settings().replica_name
        if replica:
            # generate_id is python-engineio's own hook for session ids.
            sio.eio.generate_id = named_ids(sio.eio.generate_id, replica)
        handle = guard(on_new_message)
        output = WidgetOutput(sio, self.bot_message_evt)
        origins = allowed_origins()
        self.secret = session_secret()

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict]) -> bool:
            origin = environ.get("HTTP_ORIGIN")
            if origin is not None and (origin_of(origin) or origin) not in origins:
                logger.warning("socket.io connection from a foreign origin refused")
                return False
            if not self.jwt_key:
                return True
            token = auth.get("token") if isinstance(auth, dict) else None
            return bool(
                token
                and rasa.core.channels.channel.decode_bearer_token(
                    token, self.jwt_key, self.jwt_algorithm
                )
            )

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, *args: Any) -> None:
            data = _payload(args)
            token = data.get("session_id") if isinstance(data, dict) else None
            conversation = web_conversation_of(token, self.secret)
            if conversation is None:  # not ours: a new conversation
                token = issue_web_token(self.secret)
                conversation = web_conversation_of(token, self.secret)
            if self.session_persistence:
                await sio.enter_room(sid, conversation, namespace=self.namespace)
            await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def user_uttered(sid: Text, *args: Any) -> None:
            data = _payload(args)
            sender = self._sender(sid, data)
            if sender is None:
                await output.send_text_message(sid, UNREADABLE)
                return
            text = data.get("message") if isinstance(data, dict) else None
            if not isinstance(text, str):
                await output.send_text_message(sender, UNREADABLE)
                return
            await handle(
                UserMessage(
                    text,
                    output,
                    sender,
                    input_channel=self.name(),
                    metadata=_metadata(data.get(self.metadata_key)),
                )
            )

        return blueprint

    def _sender(self, sid: Text, data: Any) -> Optional[Text]:
        """Who the message is from: the conversation of the session token,
        or the socket's own id."""
        if not self.session_persistence:
            return sid
        token = data.get("session_id") if isinstance(data, dict) else None
        sender = web_conversation_of(token, self.secret)
        if sender is None or sender not in self.sio.rooms(sid, self.namespace):
            logger.warning("socket.io message for a session it did not join ignored")
            return None
        return sender
