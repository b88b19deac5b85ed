"""A message starting with `/` reaches Rasa's parser only as a real payload
(rasa_extensions/channel_guard.py): Rasa's RegexMessageHandler logs the
whole text of any other one, so "/My name is Ana, phone 604..." put a
person's details in the log."""

from __future__ import annotations

import logging
import warnings
from typing import List

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.training_data.message import Message

from rasa_extensions.channel_guard import domain_intents, guard, safe_text
from tests.conftest import ROOT, read_yaml

PRIVATE = "/My name is Ana Quintero, phone 604 555 0142"
TRICKS = [
    PRIVATE,
    "/request_human I am Ana Quintero 604 555 0142",
    '/request_human{"lead_name": "Ana Quintero"}',
    "/request_human@1.0 Ana Quintero",
    "//Ana Quintero",
    " /Ana Quintero 604 555 0142",
]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def parse(text: str, domain: Domain) -> Message:
    """What Rasa's NLU does first with a message: the `/` handler."""
    (message,) = RegexMessageHandler().process([Message({"text": text})], domain)
    return message


def parser_output(text: str, domain: Domain, caplog, capsys) -> str:
    """Everything Rasa's parser logs or warns about `text`."""
    caplog.clear()
    capsys.readouterr()
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        parse(text, domain)
    captured = capsys.readouterr()
    return "\n".join(
        [caplog.text, captured.out, captured.err, *(str(w.message) for w in seen)]
    )


async def through_guard(text: str, domain: Domain) -> List[str]:
    """Sends `text` through the channel guard to Rasa's parser; the texts
    the parser was given."""
    given: List[str] = []

    async def rasa(message: UserMessage) -> None:
        given.append(message.text)
        parse(message.text, domain)

    await guard(rasa)(UserMessage(text, CollectingOutputChannel(), "web:test"))
    return given


@pytest.mark.parametrize("text", TRICKS)
def test_rasas_parser_logs_such_a_message(text, domain, caplog, capsys):
    """Why the guard exists: without it the details are in the log."""
    assert "Ana Quintero" in parser_output(text, domain, caplog, capsys)


@pytest.mark.parametrize("text", TRICKS)
async def test_through_the_guard_nothing_personal_is_logged(
    text, domain, caplog, capsys
):
    caplog.clear()
    capsys.readouterr()
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        (given,) = await through_guard(text, domain)
    captured = capsys.readouterr()
    logged = "\n".join(
        [caplog.text, captured.out, captured.err, *(str(w.message) for w in seen)]
    )
    assert "Ana" not in logged and "0142" not in logged
    assert not given.startswith("/")
    assert "Ana Quintero" in given  # still read, as words


def button_payloads() -> List[str]:
    """Every `/` payload of the domain's and the responses' buttons."""
    found = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            payload = node.get("payload")
            if isinstance(payload, str) and payload.startswith("/"):
                found.add(payload)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in [ROOT / "domain.yml", *sorted((ROOT / "data").rglob("*.yml"))]:
        walk(read_yaml(path))
    return sorted(found)


def test_the_buttons_payloads_were_found():
    assert {"/request_human", "/affirm", "/deny"} <= set(button_payloads())


@pytest.mark.parametrize("payload", button_payloads())
async def test_a_buttons_payload_still_picks_its_intent(payload, domain):
    (given,) = await through_guard(payload, domain)
    assert given == payload
    assert parse(given, domain).get("intent")["name"] == payload[1:]


def test_only_the_domains_intents_are_payloads():
    assert "request_human" in domain_intents()
    assert safe_text("/request_human") == "/request_human"
    assert safe_text("/not_an_intent") == "not_an_intent"
    assert safe_text("/") == "/"  # nothing else to read; logs nothing personal
    assert safe_text("what is /IMS?") == "what is /IMS?"
