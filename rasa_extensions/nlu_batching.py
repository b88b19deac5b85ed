"""Concurrent conversations' messages embedded in one model call.

Rasa 3.6 parses each message on its own: `MessageProcessor.parse_message`
runs the NLU graph for one message, synchronously, on the event loop. With
the sentence featurizer (components/sentence_embeddings.py) one model call
costs about 11 ms of CPU for one short message and about 3 ms a message
for sixteen, so a server busy with many conversations spent most of its
parse CPU on calls of one (docs/performance.md). Rasa has no batching of
its own at inference: its graph runner takes one message, and its
`parse_message` is the one place every message's parse goes through.

`install()` wraps `parse_message`: before the graph runs, the message's
text joins a batch that waits at most `WINDOW_SECONDS` (or until
`MAX_BATCH` texts) for the other conversations' messages arriving
meanwhile, then the loaded featurizers embed the whole batch at once
(`embed_ahead`), and each parse finds its vector there. What the parse
returns is unchanged: the featurizer takes the vector it kept for that
text, which is the model's vector for it (tests compare them), and a text
it did not keep (the batch failed, or a component changed the text) is
embedded as before. A message of one conversation alone waits
`WINDOW_SECONDS` more; parses by an HTTP interpreter (no graph here) skip
the batch.

Installed by the start-up hook (rasa_extensions/plugin.py) for `rasa
run`; `uninstall()` puts Rasa's own back. Idempotent. Tied to the rasa
version in rasa_extensions/__init__.py (it wraps a public coroutine).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, List, Optional, Tuple

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 0.004  # how long a batch waits for more messages
MAX_BATCH = 32

_original: Optional[Callable[..., Any]] = None


class Batcher:
    """Gathers texts for `window` seconds (or `max_batch` texts), then
    embeds them all with `embed` (a function of a list of texts)."""

    def __init__(
        self,
        embed: Callable[[List[str]], Any],
        window: float = WINDOW_SECONDS,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.embed = embed
        self.window = window
        self.max_batch = max_batch
        self._pending: List[Tuple[str, asyncio.Future]] = []
        self._timer: Optional[asyncio.TimerHandle] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.batches: List[int] = []  # sizes of the latest batches (kept: 100)

    async def ahead(self, text: str) -> None:
        """Returns once `text` was embedded with the others of its batch
        (or the batch failed: the parse then embeds it itself)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop: nothing pending is alive
            self._loop, self._pending, self._timer = loop, [], None
        done = loop.create_future()
        self._pending.append((text, done))
        if len(self._pending) >= self.max_batch:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.window, self.flush)
        await done

    def flush(self) -> None:
        """Embeds every pending text now, in one call."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self.embed([text for text, _ in batch])
        except Exception as error:  # noqa: BLE001 - each parse embeds its own
            logger.error("Batched embedding failed: %s", type(error).__name__)
        self.batches = [*self.batches[-99:], len(batch)]
        for _, done in batch:
            if not done.done():
                done.set_result(None)


_batcher: Optional[Batcher] = None


def batcher() -> Batcher:
    """The process's batcher, embedding with every loaded featurizer."""
    global _batcher
    if _batcher is None:
        from components.sentence_embeddings import embed_ahead

        _batcher = Batcher(embed_ahead)
    return _batcher


def _batched(message: Any, processor: Any) -> bool:
    return isinstance(message.text, str) and not processor.http_interpreter


async def parse_message(
    self: Any,
    message: Any,
    tracker: Any = None,
    only_output_properties: bool = True,
) -> Any:
    """Drop-in for `MessageProcessor.parse_message` (module docstring)."""
    assert _original is not None
    if _batched(message, self):
        await batcher().ahead(message.text)
    return await _original(self, message, tracker, only_output_properties)


def install() -> None:
    global _original
    from rasa.core.processor import MessageProcessor

    if _original is None:
        _original = MessageProcessor.parse_message
    MessageProcessor.parse_message = parse_message


def uninstall() -> None:
    from rasa.core.processor import MessageProcessor

    if _original is not None:
        MessageProcessor.parse_message = _original
