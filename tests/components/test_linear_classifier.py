"""The intent + FAQ answer classifier (components/linear_classifier.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.linear_classifier import MODEL_FILE, LinearIntentClassifier
from tests.components.conftest import RESPONSES, training_data


@pytest.fixture
def trained(storage, context) -> LinearIntentClassifier:
    resource = Resource("linear")
    classifier = LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), "C": 10},
        storage,
        resource,
        context,
    )
    classifier.train(training_data())
    return classifier


def parse(classifier: LinearIntentClassifier, text: str) -> Message:
    message = Message(data={"text": text})
    classifier.process([message])
    return message


def test_plain_intents_are_recognised(trained) -> None:
    assert parse(trained, "hello hello").get("intent")["name"] == "greet"
    assert parse(trained, "bye bye").get("intent")["name"] == "goodbye"


def test_faq_question_gets_the_intent_and_the_answer(trained) -> None:
    message = parse(trained, "how much does a session cost")
    assert message.get("intent")["name"] == "faq"
    selected = message.get("response_selector")["faq"]["response"]
    assert selected["intent_response_key"] == "faq/cost"
    assert selected["utter_action"] == "utter_faq/cost"
    assert selected["responses"] == RESPONSES["utter_faq/cost"]
    assert message.get("response_selector")["all_retrieval_intents"] == ["faq"]


def test_output_shapes_match_rasas_components(trained) -> None:
    """Everything after the classifier (fallback, red flags, actions) reads
    these keys; a ResponseSelector ranking has no `name`."""
    message = parse(trained, "are your needles sterile")
    ranking: List[Dict[str, Any]] = message.get("intent_ranking")
    assert set(ranking[0]) == {"name", "confidence"}
    assert ranking[0] == message.get("intent")
    assert [r["confidence"] for r in ranking] == sorted(
        (r["confidence"] for r in ranking), reverse=True
    )
    answers = message.get("response_selector")["faq"]["ranking"]
    assert {tuple(sorted(a)) for a in answers} == {
        ("confidence", "id", "intent_response_key")
    }
    assert [a["intent_response_key"] for a in answers][0] == "faq/needles"


def test_intent_is_that_of_the_likeliest_label(trained) -> None:
    """`faq` has two labels here: summing them would favour it unfairly;
    the intent's confidence is its best label's probability."""
    probabilities = trained.model.predict_proba(["hi"])[0]
    best = max(
        zip(trained.model.classes_, probabilities, strict=True), key=lambda p: p[1]
    )
    message = parse(trained, "hi")
    assert message.get("intent")["name"] == best[0].split("/")[0]
    assert message.get("intent")["confidence"] == pytest.approx(best[1])


def test_answer_confidence_is_among_faq_answers(trained) -> None:
    message = parse(trained, "needle size and price")
    answers = message.get("response_selector")["faq"]["ranking"]
    assert sum(a["confidence"] for a in answers) == pytest.approx(1.0)
    faq = message.get("response_selector")["faq"]["response"]
    assert faq["confidence"] == pytest.approx(answers[0]["confidence"])


def test_ranking_length_is_respected(storage, context) -> None:
    classifier = LinearIntentClassifier.create(
        {"ranking_length": 2}, storage, Resource("short"), context
    )
    classifier.train(training_data())
    message = parse(classifier, "hello")
    assert len(message.get("intent_ranking")) == 2
    assert len(message.get("response_selector")["faq"]["ranking"]) == 2


def test_persisted_model_loads_and_predicts_the_same(trained, storage, context):
    loaded = LinearIntentClassifier.load(
        trained.config, storage, Resource("linear"), context
    )
    for text in ("hello", "what's the price", "needles", "xyz"):
        assert parse(loaded, text).as_dict() == parse(trained, text).as_dict()


def test_the_weights_are_multiplied_without_a_copy(trained, storage, context):
    """Trained or loaded, the weights' transpose (what each message's sparse
    features are multiplied by) is C-contiguous, so scipy multiplies it in
    place; row-major weights give the same probabilities, copied each call."""
    import numpy as np

    loaded = LinearIntentClassifier.load(
        trained.config, storage, Resource("linear"), context
    )
    texts = ["hello", "what's the price", "are your needles sterile"]
    for classifier in (trained, loaded):
        regression = classifier.model[-1]
        assert regression.coef_.T.flags["C_CONTIGUOUS"]
        messages = [Message(data={"text": text}) for text in texts]
        features = classifier._features(messages)
        column = regression.predict_proba(features)
        regression.coef_ = np.ascontiguousarray(regression.coef_)
        assert not regression.coef_.T.flags["C_CONTIGUOUS"]
        assert np.allclose(regression.predict_proba(features), column, atol=1e-12)


def test_an_external_intent_is_never_read_from_text(storage, context) -> None:
    """An intent only a trigger sends (`EXTERNAL_...`) is trained (the
    domain needs an example) but never predicted: typing its name gets
    the likeliest other label, with probabilities that still sum to 1."""
    from tests.components.conftest import EXAMPLES

    data = training_data(
        {**EXAMPLES, "EXTERNAL_reminder": ["EXTERNAL_reminder", "reminder"]}
    )
    classifier = LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), "C": 10},
        storage,
        Resource("external"),
        context,
    )
    classifier.train(data)
    for text in ("EXTERNAL_reminder", "reminder", "hello hello"):
        message = parse(classifier, text)
        ranking = message.get("intent_ranking")
        assert message.get("intent")["name"] != "EXTERNAL_reminder", text
        assert all(
            r["name"] != "EXTERNAL_reminder" or r["confidence"] == 0 for r in ranking
        )
    assert parse(classifier, "hello hello").get("intent")["name"] == "greet"


class Smuggled:
    """Stands for anything the component never writes."""


def test_load_refuses_a_file_with_unexpected_types(trained, storage, context):
    import skops.io as sio

    with storage.write_to(Resource("linear")) as folder:
        sio.dump({"model": Smuggled()}, folder / MODEL_FILE)
    with pytest.raises(RasaException, match="Refusing to load"):
        LinearIntentClassifier.load(
            trained.config, storage, Resource("linear"), context
        )


def test_training_needs_two_labels(storage, context) -> None:
    classifier = LinearIntentClassifier.create({}, storage, Resource("one"), context)
    only_greet = TrainingData(
        training_examples=[Message(data={"text": "hi", "intent": "greet"})] * 3
    )
    with pytest.raises(RasaException, match="at least two"):
        classifier.train(only_greet)


def test_untrained_component_leaves_messages_alone(storage, context) -> None:
    classifier = LinearIntentClassifier.create({}, storage, Resource("new"), context)
    message = parse(classifier, "hello")
    assert message.get("intent") is None


def test_loading_the_model_leaves_logging_alone() -> None:
    """A fresh interpreter, since the import happens once: the servers log
    at INFO, and loading the classifier must not silence them."""
    import subprocess
    import sys

    code = (
        "import logging; logging.getLogger().setLevel(logging.INFO);"
        "from components.linear_classifier import skops_io; skops_io();"
        "print(logging.getLevelName(logging.getLogger().level))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True
    )
    assert done.stdout.strip() == "INFO", done.stderr
