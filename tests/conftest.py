"""Shared fixtures: paths, the catalogue, trackers for action tests."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CATALOGUE = SHARED / "faq_topics.yml"


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def shared_missing(what: str) -> None:
    """A contract file from ../shared is not beside this checkout.

    In CI (CI set, as CI systems do) that is a failure, so a clone without
    ../shared cannot pass by skipping the contract; elsewhere the test is
    skipped, and `-ra` prints the reason in the summary.
    """
    message = f"../shared/{what} is not beside this checkout ({SHARED})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def seed_pages() -> List[Path]:
    """The clinic's five seed pages from ../shared/seeds."""
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    if not seeds:
        shared_missing("seeds")
    return seeds


@pytest.fixture(scope="session")
def catalogue() -> Dict[str, Any]:
    """The FAQ catalogue from ../shared (the contract for intent names)."""
    if not CATALOGUE.exists():
        shared_missing("faq_topics.yml")
    return read_yaml(CATALOGUE)


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return read_yaml(ROOT / "domain.yml")


@pytest.fixture(scope="session")
def faq_responses() -> Dict[str, List[Dict[str, Any]]]:
    return read_yaml(ROOT / "data" / "responses" / "faq.yml")["responses"]


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def user_event(
    text: str,
    intent: str,
    entities: Optional[List[Dict[str, Any]]] = None,
    response_selector: Optional[Dict[str, Any]] = None,
    confidence: float = 0.9,
) -> Dict[str, Any]:
    """A `user` event as Rasa sends it to the action server."""
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
    }
    if response_selector is not None:
        parse_data["response_selector"] = response_selector
    return {"event": "user", "text": text, "parse_data": parse_data}


def make_tracker(
    events: List[Dict[str, Any]],
    slots: Optional[Dict[str, Any]] = None,
    sender_id: str = "test-user",
    active_loop: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """A Tracker whose latest message is the last `user` event given."""
    latest = next(
        (e["parse_data"] for e in reversed(events) if e.get("event") == "user"), {}
    )
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop=active_loop or {},
        latest_action_name=None,
    )


@functools.lru_cache(maxsize=1)
def assistant_domain() -> Any:
    """The domain Rasa trains with: domain.yml plus the responses in data/."""
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_config(
        str(ROOT / "config.yml"), str(ROOT / "domain.yml"), [str(ROOT / "data")]
    )
    return importer.get_domain()


async def rendered(response: str, channel: str, **values: Any) -> str:
    """The text Rasa sends for `response` on `channel`, with the sample
    clinic's slots and the `values` an action passes."""
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.trackers import DialogueStateTracker

    from clinic.profile import current_profile

    domain = assistant_domain()
    tracker = DialogueStateTracker.from_events("test-user", [], domain.slots)
    for name, value in current_profile().slots().items():
        tracker.slots[name].value = value
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    message = await nlg.generate(response, tracker, channel, **values)
    assert message, f"no response {response!r}"
    return message["text"]


from tests.conversation import (  # noqa: E402,F401
    action_server,
    agent,
    conversation_db,
    trained_model,
)
from tests.db_fixtures import database_url, use_database  # noqa: E402,F401
from tests.stack import made_run, scaled_run  # noqa: E402,F401
