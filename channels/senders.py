"""Where outgoing SMS and WhatsApp messages go.

- `TwilioRestSender`: Twilio's REST API over aiohttp (never the blocking
  `twilio` client on the event loop), with retries and exponential backoff
  on network errors, 429 and 5xx. Twilio has no idempotency key for
  messages: a request that timed out after Twilio accepted it may, rarely,
  be sent twice.
- `LocalOutbox`: local mode; records each message in memory and appends it
  as one JSON line to a file (what the tests and `channels.simulate` read).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional

import aiohttp

from clinic.private_files import open_private_append
from clinic.settings import TWILIO_API

logger = logging.getLogger(__name__)

OPTED_OUT_AT_TWILIO = 21610  # "Attempt to send to unsubscribed recipient"


@dataclass(frozen=True)
class Outgoing:
    """One message to send. `to` / `from_` are Twilio addresses:
    '+16045550123', or 'whatsapp:+16045550123' on WhatsApp."""

    to: str
    from_: str
    body: str
    medium: str


@dataclass(frozen=True)
class SendResult:
    ok: bool
    sid: Optional[str] = None
    error_code: Optional[int] = None


class LocalOutbox:
    """Records messages instead of sending them (local mode)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.sent: List[Dict[str, Any]] = []
        self._lock = threading.Lock()

    async def send(self, message: Outgoing) -> SendResult:
        record = {
            "at": datetime.now(timezone.utc).isoformat(),
            "sid": f"SMLOCAL{uuid.uuid4().hex}",
            "medium": message.medium,
            "to": message.to,
            "from": message.from_,
            "body": message.body,
        }
        self.sent.append(record)
        await asyncio.to_thread(self._append, record)
        return SendResult(True, record["sid"])

    def _append(self, record: Dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        # The numbers and texts: owner-only (0600).
        with self._lock, open_private_append(self.path) as handle:
            handle.write(line)

    async def close(self) -> None:
        return None


def read_outbox(path: Path) -> List[Dict[str, Any]]:
    """Every message a `LocalOutbox` recorded in `path`, oldest first."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class TwilioRestSender:
    """Sends through Twilio's Messages API with retries and backoff."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_base: str = TWILIO_API,
        attempts: int = 5,
        backoff: float = 1.0,
        timeout: float = 15.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.url = (
            f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        )
        self._auth = aiohttp.BasicAuth(account_sid, auth_token)
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._client: Optional[aiohttp.ClientSession] = None

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession(timeout=self._timeout)
        return self._client

    async def send(self, message: Outgoing) -> SendResult:
        data = {"To": message.to, "From": message.from_, "Body": message.body}
        for attempt in range(1, self.attempts + 1):
            delay = self.backoff * 2 ** (attempt - 1)
            try:
                async with self._session().post(
                    self.url, data=data, auth=self._auth
                ) as response:
                    try:
                        payload = await response.json(content_type=None)
                    except ValueError:
                        payload = None
                    payload = payload if isinstance(payload, dict) else {}
                    if response.status in (200, 201):
                        return SendResult(True, payload.get("sid"))
                    code = payload.get("code")
                    if response.status != 429 and response.status < 500:
                        logger.warning(
                            "twilio: message refused (HTTP %s, error %s)",
                            response.status,
                            code,
                        )
                        return SendResult(False, error_code=code)
                    logger.warning(
                        "twilio: HTTP %s, attempt %d of %d",
                        response.status,
                        attempt,
                        self.attempts,
                    )
                    delay = max(delay, _retry_after(response.headers))
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                logger.warning(
                    "twilio: %s, attempt %d of %d",
                    type(error).__name__,
                    attempt,
                    self.attempts,
                )
            if attempt < self.attempts:
                await self._sleep(delay)
        logger.error("twilio: message not sent after %d attempts", self.attempts)
        return SendResult(False)

    async def close(self) -> None:
        if self._client is not None and not self._client.closed:
            await self._client.close()


def _retry_after(headers: Any) -> float:
    """Twilio's Retry-After in seconds (at most 30), or 0."""
    try:
        return min(30.0, max(0.0, float(headers.get("Retry-After", 0))))
    except (TypeError, ValueError):
        return 0.0
