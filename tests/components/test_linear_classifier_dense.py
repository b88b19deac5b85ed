"""LinearIntentClassifier with dense sentence features (`dense_weight`)."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pytest
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.linear_classifier import (
    MODEL_FILE,
    TRUSTED_TYPES,
    LinearIntentClassifier,
    build_model,
    label_of,
    skops_io,
)
from tests.components.conftest import messages, training_data

LABELS = ["greet", "goodbye", "faq/cost", "faq/needles"]


def create(storage, context, name: str, **config: Any) -> LinearIntentClassifier:
    return LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), **config},
        storage,
        Resource(name),
        context,
    )


def with_vector(message: Message, vector: np.ndarray) -> Message:
    message.add_features(
        Features(vector[np.newaxis, :], "sentence", TEXT, "test-featurizer")
    )
    return message


def one_hot(label: str) -> np.ndarray:
    vector = np.zeros(8)
    vector[LABELS.index(label)] = 1.0
    return vector


def test_weight_0_is_the_plain_tfidf_pipeline(storage, context) -> None:
    """The default: what the component did before dense_weight existed,
    probability for probability, with dense features present or not."""
    data = training_data()
    classifier = create(storage, context, "plain")
    classifier.train(data)
    examples = data.intent_examples
    reference = build_model(classifier.config).fit(
        [m.get(TEXT) for m in examples], [label_of(m) for m in examples]
    )
    texts = ["hello", "how much is it", "needles?", "xyz"]
    probabilities = classifier.model.predict_proba(texts)
    np.testing.assert_array_equal(probabilities, reference.predict_proba(texts))
    featurized = [with_vector(m, np.ones(8)) for m in messages(texts)]
    classifier.process(featurized)
    plain = messages(texts)
    classifier.process(plain)
    assert [m.as_dict() for m in featurized] == [m.as_dict() for m in plain]


def test_dense_vectors_are_used_with_their_weight(storage, context) -> None:
    """Synthetic vectors that name the label: with a large weight they
    decide, even for a text the TF-IDF part has never seen."""
    data = training_data()
    for message in data.intent_examples:
        with_vector(message, one_hot(label_of(message)))
    classifier = create(storage, context, "dense", dense_weight=5.0)
    classifier.train(data)
    assert classifier.model[-1].n_features_in_ == (
        classifier.model[0].transform(["x"]).shape[1] + 8
    )
    for label in LABELS:
        message = with_vector(Message(data={"text": "qqq zzz"}), one_hot(label))
        classifier.process([message])
        intent = label.split("/")[0]
        assert message.get("intent")["name"] == intent
        if intent == "faq":
            selected = message.get("response_selector")["faq"]["response"]
            assert selected["intent_response_key"] == label


@pytest.fixture
def dense_trained(featurizer, storage, context) -> LinearIntentClassifier:
    data = featurizer.process_training_data(training_data())
    classifier = create(storage, context, "minilm", dense_weight=1.0)
    classifier.train(data)
    return classifier


def parse(featurizer, classifier, text: str) -> Dict[str, Any]:
    message = Message(data={"text": text})
    classifier.process(featurizer.process([message]))
    return message.as_dict()


def test_trains_and_predicts_on_sentence_embeddings(featurizer, dense_trained):
    assert parse(featurizer, dense_trained, "hello hello")["intent"]["name"] == "greet"
    assert parse(featurizer, dense_trained, "bye bye")["intent"]["name"] == "goodbye"
    cost = parse(featurizer, dense_trained, "how much does a session cost")
    assert cost["intent"]["name"] == "faq"
    answer = cost["response_selector"]["faq"]["response"]
    assert answer["intent_response_key"] == "faq/cost"


def test_persisted_dense_model_loads_and_predicts_the_same(
    featurizer, dense_trained, storage, context
) -> None:
    with storage.read_from(Resource("minilm")) as folder:
        untrusted = set(skops_io().get_untrusted_types(file=folder / MODEL_FILE))
    assert untrusted <= TRUSTED_TYPES
    loaded = LinearIntentClassifier.load(
        dense_trained.config, storage, Resource("minilm"), context
    )
    for text in ("hello", "what's the price", "sterile needles?", "xyz"):
        assert parse(featurizer, loaded, text) == parse(featurizer, dense_trained, text)


def test_missing_dense_features_are_an_error(storage, context) -> None:
    classifier = create(storage, context, "none", dense_weight=1.0)
    with pytest.raises(RasaException, match="no dense sentence features"):
        classifier.train(training_data())
    data: TrainingData = training_data()
    for message in data.intent_examples:
        with_vector(message, one_hot(label_of(message)))
    classifier.train(data)
    unfeaturized: List[Message] = messages(["hello"])
    with pytest.raises(RasaException, match="SentenceEmbeddingFeaturizer"):
        classifier.process(unfeaturized)
