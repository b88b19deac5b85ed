"""Concurrent messages' sentence vectors in one model call
(rasa_extensions/nlu_batching.py); the parses are those Rasa makes alone."""

from __future__ import annotations

import asyncio
from typing import List

import pytest

from rasa_extensions import nlu_batching
from rasa_extensions.nlu_batching import Batcher


def recording() -> tuple:
    calls: List[List[str]] = []
    return calls, calls.append


async def test_messages_arriving_together_are_embedded_in_one_call():
    calls, embed = recording()
    batcher = Batcher(embed, window=0.01)
    texts = [f"question {n}" for n in range(5)]
    await asyncio.gather(*(batcher.ahead(text) for text in texts))
    assert calls == [texts]


async def test_a_message_alone_waits_the_window_at_most():
    calls, embed = recording()
    batcher = Batcher(embed, window=0.001)
    await asyncio.wait_for(batcher.ahead("alone"), timeout=5)
    assert calls == [["alone"]]


async def test_a_full_batch_goes_at_once():
    calls, embed = recording()
    batcher = Batcher(embed, window=60, max_batch=3)  # the window never ends
    texts = ["a", "b", "c"]
    await asyncio.wait_for(
        asyncio.gather(*(batcher.ahead(t) for t in texts)), timeout=5
    )
    assert calls == [texts]


async def test_a_failed_batch_lets_every_parse_go_on():
    def broken(texts: List[str]) -> None:
        raise RuntimeError("model unavailable")

    batcher = Batcher(broken, window=0.001)
    await asyncio.wait_for(
        asyncio.gather(batcher.ahead("a"), batcher.ahead("b")), timeout=5
    )


def test_a_batch_left_by_a_closed_event_loop_does_not_hold_the_next():
    calls, embed = recording()
    batcher = Batcher(embed, window=0.001)

    async def left() -> None:
        asyncio.ensure_future(batcher.ahead("left behind"))
        await asyncio.sleep(0)  # the loop ends before the window

    loop = asyncio.new_event_loop()
    loop.run_until_complete(left())
    loop.close()
    asyncio.run(asyncio.wait_for(batcher.ahead("next"), timeout=5))
    assert calls[-1] == ["next"]


@pytest.mark.slow
async def test_concurrent_parses_are_batched_and_equal_rasa_s_own(agent):
    """The trained assistant: messages parsed concurrently with the
    batcher, once each, give the parse Rasa gives each alone."""
    from rasa.core.channels.channel import UserMessage

    from components import sentence_embeddings

    texts = [
        "how often do I need IMS?",
        "does IMS hurt?",
        "how much does a session cost?",
        "I have sciatica, can IMS help?",
        "are you open on saturday",
        "chest pain after needling",
    ]
    processor = agent.processor
    nlu_batching.uninstall()
    alone = [await processor.parse_message(UserMessage(t)) for t in texts]
    embedded: List[int] = []
    real = sentence_embeddings.SentenceEmbeddingFeaturizer.embed

    def counted(self, batch):
        embedded.append(len(batch))
        return real(self, batch)

    for featurizer in sentence_embeddings._loaded:
        featurizer._ahead.clear()
    nlu_batching.install()
    try:
        sentence_embeddings.SentenceEmbeddingFeaturizer.embed = counted
        together = await asyncio.gather(
            *(processor.parse_message(UserMessage(t)) for t in texts)
        )
    finally:
        sentence_embeddings.SentenceEmbeddingFeaturizer.embed = real
        nlu_batching.uninstall()
    assert embedded == [len(texts)]  # one call, and none in the parses
    for one, other in zip(alone, together, strict=True):
        assert other["intent"]["name"] == one["intent"]["name"]
        assert other["intent"]["confidence"] == pytest.approx(
            one["intent"]["confidence"], abs=1e-5
        )
        assert [r["name"] for r in other["intent_ranking"]] == [
            r["name"] for r in one["intent_ranking"]
        ]
        assert other["entities"] == one["entities"]
