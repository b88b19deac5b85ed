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

This channel replaces those two handlers with checked ones (the session id
follows the sender-id rules of channels/guard.py; a bad one is replaced by a
fresh id; a message is taken only for a session its socket has joined, else
it gets a "could not read" reply) and guards the message handler like every
project channel. The connect handler (JWT check, if configured) stays Rasa's.

Enabled in credentials.yml as `channels.socketio_channel.SocketIOInput`.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Dict, Optional, Text, Tuple

from rasa.core.channels import socketio
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint

from channels.guard import GuardedChannel, Handler, guard, valid_sender

logger = logging.getLogger(__name__)

UNREADABLE = "Sorry, I couldn't read that message. Could you type it again?"


def _metadata(value: Any) -> Dict[Text, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _payload(args: Tuple[Any, ...]) -> Any:
    """An event's data: socket.io sends a list as several arguments."""
    return args[0] if len(args) == 1 else list(args) or None


class SocketIOInput(GuardedChannel, socketio.SocketIOInput):
    """The socket.io channel with checked events (see the module docstring)."""

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        handle = guard(on_new_message)
        output = socketio.SocketIOOutput(sio, self.bot_message_evt)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, *args: Any) -> None:
            data = _payload(args)
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = valid_sender(requested) or uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit(
                "session_confirm", session_id, room=sid, namespace=self.namespace
            )

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
        """Who the message is from: the session id, or the socket's own id."""
        if not self.session_persistence:
            return sid
        session_id = data.get("session_id") if isinstance(data, dict) else None
        sender = valid_sender(session_id)
        if sender is None or sender not in self.sio.rooms(sid, self.namespace):
            logger.warning("socket.io message for a session it did not join ignored")
            return None
        return sender
