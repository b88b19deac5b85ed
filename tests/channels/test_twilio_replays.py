"""A replayed Twilio message (same MessageSid) is acknowledged with empty
TwiML and not handled again: by another replica sharing the database, after
a restart, and when two replicas get it at the same moment
(channels/message_sids.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from channels.message_sids import KEEP, MessageSids
from channels.twilio_channel import TwilioChannel, TwilioSettings
from db.engine import session_factory
from db.models import TwilioMessageSid, utcnow
from tests.channels.test_twilio_webhook import (
    CLINIC_SMS,
    CLINIC_WHATSAPP,
    PUBLIC,
    TOKEN,
    ScriptedAgent,
    Webhook,
    known_store,
    serve,
    shut,
)


@pytest.fixture
async def replicas(database_url, tmp_path, monkeypatch):
    """Two replicas of the channel, each its own app and process state,
    sharing one database; `restart(i)` replaces replica i by a new one."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    running = []

    async def start(index: int) -> Webhook:
        settings = TwilioSettings(
            auth_token=TOKEN,
            public_url=PUBLIC,
            sms_number=CLINIC_SMS,
            whatsapp_number=CLINIC_WHATSAPP,
            local_dir=tmp_path / f"replica-{index}",
        )
        channel = TwilioChannel(settings, store=known_store(database_url))
        agent = ScriptedAgent()
        server, base = await serve(channel, agent)
        running.append(server)
        return Webhook(base, channel, agent, database_url)

    webhooks = [await start(0), await start(1)]

    async def restart(index: int) -> Webhook:
        webhooks[index] = await start(index)
        return webhooks[index]

    try:
        yield webhooks, restart
    finally:
        for server in running:
            await shut(server)


def handled(*webhooks: Webhook) -> int:
    return sum(len(w.agent.received) for w in webhooks)


async def test_a_replay_on_the_other_replica_is_not_handled(replicas):
    (one, two), _ = replicas
    form = one.form("my name is Ana")
    assert await one.post_form(form) == (200, empty_twiml())
    await one.channel.idle()
    status, body = await two.post_form(form)
    await two.channel.idle()
    assert (status, body) == (200, empty_twiml())
    assert handled(one, two) == 1 and two.sent() == []


async def test_a_replay_after_a_restart_is_not_handled(replicas):
    (one, _), restart = replicas
    form = one.form("hello")
    await one.post_form(form)
    await one.channel.idle()
    again = await restart(0)  # a new process: its memory is empty
    assert await again.post_form(form) == (200, empty_twiml())
    await again.channel.idle()
    assert again.agent.received == [] and again.sent() == []


async def test_two_replicas_at_once_handle_it_once(replicas):
    (one, two), _ = replicas
    for number in range(10):
        form = one.form(f"at once {number}")
        results = await asyncio.gather(one.post_form(form), two.post_form(form))
        assert all(status == 200 for status, _ in results)
    await one.channel.idle()
    await two.channel.idle()
    assert handled(one, two) == 10


async def test_a_new_message_is_handled_and_old_sids_are_purged(
    database_url, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    factory = session_factory(database_url)
    with factory() as session:
        session.add(
            TwilioMessageSid(
                message_sid="SMold", received_at=utcnow() - KEEP - timedelta(hours=1)
            )
        )
        session.commit()
    sids = MessageSids(database_url)
    assert sids.claim("SMnew") is True
    assert sids.claim("SMnew") is False
    with factory() as session:
        kept = [row.message_sid for row in session.query(TwilioMessageSid)]
    assert kept == ["SMnew"]
    assert sids.claim("SMold") is True  # a day later it is a new message


def empty_twiml() -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
