"""The catalogue contract, answer length and wording, and data hygiene."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Set

import pytest

from actions.fallback import TOPIC_BUTTONS
from clinic.profile import load_profile
from components.conditions import PATTERNS
from tests.conftest import ROOT, SHARED, read_yaml

MIN_EXAMPLES = 15
MAX_ANSWER = 600


def examples_by_label(path: Path) -> Dict[str, List[str]]:
    labels: Dict[str, List[str]] = {}
    for block in read_yaml(path).get("nlu", []):
        if "intent" in block:
            lines = [
                line.strip()[2:].strip()
                for line in block["examples"].splitlines()
                if line.strip().startswith("- ")
            ]
            labels.setdefault(block["intent"], []).extend(lines)
    return labels


@pytest.fixture(scope="module")
def training() -> Dict[str, List[str]]:
    labels: Dict[str, List[str]] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for label, texts in examples_by_label(path).items():
            labels.setdefault(label, []).extend(texts)
    return labels


@pytest.fixture(scope="module")
def test_set() -> Dict[str, List[str]]:
    return examples_by_label(ROOT / "tests" / "nlu" / "test_nlu.yml")


def test_every_topic_has_an_answer_and_training_examples(
    catalogue, faq_responses, training
) -> None:
    for topic in catalogue["topics"]:
        assert f"utter_faq/{topic}" in faq_responses, topic
        assert len(training.get(f"faq/{topic}", [])) >= MIN_EXAMPLES, topic
    answered = {key.split("/", 1)[1] for key in faq_responses}
    assert answered == set(catalogue["topics"])


def test_every_catalogue_intent_is_in_the_domain_with_examples(
    catalogue, domain, training
) -> None:
    for intent in catalogue["intents"]:
        assert intent in domain["intents"], intent
        assert len(training.get(intent, [])) >= MIN_EXAMPLES, intent


def test_test_set_covers_every_label_and_is_held_out(catalogue, training, test_set):
    labels = {f"faq/{t}" for t in catalogue["topics"]} | set(catalogue["intents"])
    assert set(test_set) == labels
    for label in labels:
        assert len(test_set[label]) >= 5, label

    def norm(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()

    trained = {norm(t) for texts in training.values() for t in texts}
    leaked = [t for texts in test_set.values() for t in texts if norm(t) in trained]
    assert leaked == []


def test_answers_fit_on_a_phone(faq_responses, domain) -> None:
    slots = load_profile().slots()
    filled = {k: (v or "to be confirmed") for k, v in slots.items()}
    responses = {**faq_responses, **domain["responses"]}
    for name, variations in responses.items():
        for variation in variations:
            text = variation["text"].format(**filled)
            assert len(text) <= MAX_ANSWER, (name, len(text))


def _word_runs(text: str, n: int) -> Set[tuple]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_answers_are_written_in_our_own_words(faq_responses) -> None:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    if not seeds:
        pytest.skip("../shared/seeds is not beside this checkout")
    seed_runs: Set[tuple] = set()
    for path in seeds:
        seed_runs |= _word_runs(path.read_text(encoding="utf-8"), 8)
    for name, variations in faq_responses.items():
        for variation in variations:
            copied = _word_runs(variation["text"], 8) & seed_runs
            assert not copied, (name, [" ".join(run) for run in copied])


def test_condition_answers_match_extractor_values(faq_responses) -> None:
    values = {value for value, _ in PATTERNS}
    variations = faq_responses["utter_faq/conditions_treated"]
    conditioned = [v for v in variations if v.get("condition")]
    assert conditioned, "conditions_treated has no condition-specific answers"
    for variation in conditioned:
        [cond] = variation["condition"]
        assert cond["name"] == "condition" and cond["value"] in values
    assert "condition" not in variations[-1], "the general answer must come last"


def test_fallback_suggestions_cover_every_topic(faq_responses) -> None:
    assert set(TOPIC_BUTTONS) == {key.split("/", 1)[1] for key in faq_responses}


def test_buttons_send_known_intents_or_plain_questions(faq_responses, domain) -> None:
    intents = set(domain["intents"])
    responses = {**faq_responses, **domain["responses"]}
    for name, variations in responses.items():
        for variation in variations:
            for button in variation.get("buttons", []):
                payload = button["payload"]
                if payload.startswith("/"):
                    assert payload[1:] in intents, (name, payload)
