"""The faster check of action-server replies (rasa_extensions/response_schema.py)
accepts and rejects exactly what Rasa's own check does, with Rasa's message."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from rasa_extensions import response_schema

RASA_CHECK = RemoteAction._validate_action_result

VALID = [
    {},
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "condition", "value": "sciatica"}]},
    {"events": [{"event": "active_loop", "name": None}], "responses": [{"text": "Hi"}]},
    {"responses": [{"text": "a"}, {"response": "utter_greet"}]},
]
INVALID = [
    {"events": "not a list"},
    {"events": [{"name": "no event key"}]},
    {"events": [{"event": "not_an_event_type"}]},
    {"events": [{"event": "slot"}]},  # a slot event needs its name
    {"responses": [1, 2]},
    {"responses": "text"},
    [],
    "reply",
]


@pytest.fixture(autouse=True)
def patched():
    response_schema.install()
    response_schema._valid_items.clear()
    yield
    RemoteAction._validate_action_result = RASA_CHECK
    response_schema._valid_items.clear()


ACTION = RemoteAction("action_anything", None)


def outcome(check: Any, reply: Any) -> Any:
    try:
        return check(ACTION, reply)
    except ValidationError as error:
        return ("rejected", error.message, list(error.path))


@pytest.mark.parametrize("reply", VALID + INVALID)
def test_same_verdict_and_message_as_rasa(reply: Dict[str, Any]) -> None:
    assert outcome(response_schema.validate_action_result, reply) == outcome(
        RASA_CHECK, reply
    )


@pytest.mark.parametrize("reply", INVALID)
def test_invalid_replies_rejected_with_rasas_explanation(reply: Any) -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server"):
        response_schema.validate_action_result(ACTION, reply)


def test_install_replaces_rasas_method_and_is_idempotent() -> None:
    response_schema.install()
    assert (
        RemoteAction._validate_action_result is response_schema.validate_action_result
    )


class _Endpoint(EndpointConfig):
    def __init__(self, reply: Any) -> None:
        super().__init__(url="http://127.0.0.1:1/webhook")
        self.reply = reply

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        return self.reply


def run_remote_action(reply: Any) -> Any:
    domain = Domain.empty()
    tracker = DialogueStateTracker("someone", domain.slots)
    action = RemoteAction("action_anything", _Endpoint(reply))
    return asyncio.run(
        action.run(
            CollectingOutputChannel(),
            TemplatedNaturalLanguageGenerator(domain.responses),
            tracker,
            domain,
        )
    )


def test_remote_action_still_uses_a_valid_reply() -> None:
    events = run_remote_action({"events": [], "responses": [{"text": "Hello"}]})
    assert [getattr(e, "text", None) for e in events] == ["Hello"]


def test_remote_action_still_refuses_an_invalid_reply() -> None:
    with pytest.raises(ValidationError):
        run_remote_action({"events": [{"event": "slot"}]})


def test_a_reply_of_items_seen_valid_is_not_checked_again(monkeypatch) -> None:
    reply = {
        "events": [{"event": "slot", "name": "faq_topic", "value": "cost"}],
        "responses": [{"text": "Hi"}],
    }
    assert outcome(response_schema.validate_action_result, reply) is True

    def unused() -> Any:
        raise AssertionError("checked again")

    monkeypatch.setattr(response_schema, "_validator", unused)
    again = {"responses": [{"text": "Hi"}], "events": list(reply["events"])}
    assert response_schema.validate_action_result(ACTION, again) is True


@pytest.mark.parametrize("bad", INVALID)
def test_seen_items_do_not_hide_an_invalid_one(bad: Any) -> None:
    for reply in VALID:
        response_schema.validate_action_result(ACTION, reply)  # remembered
    for good in VALID:
        mixed = bad
        if isinstance(bad, dict) and isinstance(good, dict):
            mixed = {
                key: list(good.get(key) or []) + list(value)
                if isinstance(value, list)
                else value
                for key, value in bad.items()
            }
        assert outcome(response_schema.validate_action_result, mixed) == outcome(
            RASA_CHECK, mixed
        )
        assert outcome(RASA_CHECK, mixed) != True  # noqa: E712 - the verdict


def test_only_plain_json_items_are_remembered() -> None:
    looks_alike = {"responses": [{"text": "Hi", "buttons": ("a tuple",)}]}
    assert response_schema._item_keys(looks_alike) is None
    one, one_point_o = (
        {"events": [{"event": "slot", "name": "n", "value": 1}]},
        {"events": [{"event": "slot", "name": "n", "value": 1.0}]},
    )
    assert response_schema._item_keys(one) != response_schema._item_keys(one_point_o)


def test_remembered_items_hold_no_text_of_the_reply() -> None:
    """A reply item can hold what a person typed (the lead form's name or
    phone): only a fixed-size digest of it stays in memory."""
    reply = {
        "events": [{"event": "slot", "name": "name", "value": "Dana Q. Example"}],
        "responses": [],
    }
    keys = response_schema._item_keys(reply)
    assert keys is not None and len(keys) == 1
    assert "Dana" not in keys[0] and len(keys[0]) == 64
