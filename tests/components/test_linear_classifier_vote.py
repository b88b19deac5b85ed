"""LinearIntentClassifier's nearest-examples vote (`neighbour_weight`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.training_data.message import Message

from components.linear_classifier import (
    NEIGHBOURS_FILE,
    LinearIntentClassifier,
    NearestExamples,
    label_of,
)
from tests.components.conftest import training_data
from tests.components.test_linear_classifier_dense import LABELS, one_hot, with_vector


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_a_label_scores_the_mean_of_its_nearest_examples() -> None:
    kept = np.stack([unit(1, 0), unit(1, 1), unit(0, 1), unit(-1, 1)])
    labels = np.array([0, 0, 1, 1])
    message = unit(1, 0.2)[np.newaxis, :]
    similarity = (message @ kept.T)[0]
    examples = NearestExamples(kept, labels, 3)
    vote = examples.vote(message, neighbours=1, temperature=0.1)
    # label 0: its most similar example; label 1 likewise; label 2: none kept
    scores = np.array([similarity[:2].max(), similarity[2:].max()])
    expected = np.exp(scores / 0.1) / np.exp(scores / 0.1).sum()
    np.testing.assert_allclose(vote[0], [*expected, 0.0], rtol=1e-6)
    two = examples.vote(message, neighbours=2, temperature=0.1)
    # more neighbours than a label has: the mean of all it has
    three = examples.vote(message, neighbours=3, temperature=0.1)
    np.testing.assert_allclose(three, two, rtol=1e-6)
    means = np.array([similarity[:2].mean(), similarity[2:].mean()])
    np.testing.assert_allclose(
        two[0], [*(np.exp(means / 0.1) / np.exp(means / 0.1).sum()), 0.0], rtol=1e-6
    )


def test_the_vote_matches_a_plain_loop_over_each_label() -> None:
    """The padded layout against the definition, on random examples with
    uneven label counts (one label with a single example)."""
    rng = np.random.default_rng(0)
    kept = rng.normal(size=(60, 8)).astype(np.float32)
    kept /= np.linalg.norm(kept, axis=1, keepdims=True)
    labels = np.array([0] + [1 + i % 4 for i in range(59)])
    messages = kept[:5] + 0.1
    messages /= np.linalg.norm(messages, axis=1, keepdims=True)
    vote = NearestExamples(kept, labels, 5).vote(messages, 3, 0.05)
    similarity = messages @ kept.T
    for row, sims in zip(vote, similarity, strict=True):
        scores = np.array(
            [np.sort(sims[labels == j])[-3:].mean() for j in range(5)], dtype=float
        )
        expected = np.exp((scores - scores.max()) / 0.05)
        np.testing.assert_allclose(row, expected / expected.sum(), rtol=1e-4)


def test_a_lower_temperature_makes_the_vote_surer() -> None:
    kept = np.stack([unit(1, 0), unit(0, 1)])
    message = unit(1, 0.5)[np.newaxis, :]
    examples = NearestExamples(kept, np.array([0, 1]), 2)
    warm = examples.vote(message, 1, temperature=1.0)
    cold = examples.vote(message, 1, temperature=0.01)
    assert 0.5 < warm[0, 0] < cold[0, 0]
    assert cold[0, 0] == pytest.approx(1.0)


def create(storage: Any, context: Any, name: str, **config: Any) -> Any:
    return LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), **config},
        storage,
        Resource(name),
        context,
    )


def one_hot_data() -> Any:
    data = training_data()
    for message in data.intent_examples:
        with_vector(message, one_hot(label_of(message)))
    return data


def test_the_vote_finds_the_label_whose_examples_mean_the_same(
    storage, context
) -> None:
    """Vectors that name a label and words the TF-IDF part never saw: with
    the vote alone (weight 1) the nearest examples' label wins, and the
    probabilities still sum to one."""
    classifier = create(
        storage, context, "vote", dense_weight=0.0, neighbour_weight=1.0
    )
    classifier.train(one_hot_data())
    for label in LABELS:
        message = with_vector(Message(data={"text": "qqq zzz"}), one_hot(label))
        classifier.process([message])
        assert message.get("intent")["name"] == label.split("/")[0]
        if label.startswith("faq/"):
            selected = message.get("response_selector")["faq"]["response"]
            assert selected["intent_response_key"] == label


def test_weight_0_keeps_no_vectors_and_a_weight_changes_the_ranking(
    storage, context
) -> None:
    data = one_hot_data()
    plain = create(storage, context, "plain", dense_weight=1.0)
    plain.train(data)
    assert plain.neighbours is None
    with storage.read_from(Resource("plain")) as folder:
        assert not (folder / NEIGHBOURS_FILE).exists()
    mixed = create(storage, context, "mixed", dense_weight=1.0, neighbour_weight=0.4)
    mixed.train(data)
    one = with_vector(Message(data={"text": "how much"}), one_hot("greet"))
    two = with_vector(Message(data={"text": "how much"}), one_hot("greet"))
    plain.process([one])
    mixed.process([two])
    # the same regression; only the blend differs
    assert one.get("intent_ranking") != two.get("intent_ranking")


def test_the_kept_vectors_are_persisted_and_loaded(storage, context) -> None:
    trained = create(storage, context, "kept", dense_weight=1.0, neighbour_weight=0.4)
    trained.train(one_hot_data())
    loaded = LinearIntentClassifier.load(
        trained.config, storage, Resource("kept"), context
    )
    np.testing.assert_array_equal(loaded.neighbours.vectors, trained.neighbours.vectors)
    np.testing.assert_array_equal(loaded.neighbours.labels, trained.neighbours.labels)
    for label in LABELS:
        a = with_vector(Message(data={"text": "qqq"}), one_hot(label))
        b = with_vector(Message(data={"text": "qqq"}), one_hot(label))
        trained.process([a])
        loaded.process([b])
        assert a.as_dict() == b.as_dict()


def test_a_model_without_kept_vectors_is_an_error_when_voting(storage, context) -> None:
    plain = create(storage, context, "old", dense_weight=1.0)
    plain.train(one_hot_data())
    voting = LinearIntentClassifier.load(
        {**plain.config, "neighbour_weight": 0.4}, storage, Resource("old"), context
    )
    message = with_vector(Message(data={"text": "hello"}), one_hot("greet"))
    with pytest.raises(RasaException, match="keeps no training vectors"):
        voting.process([message])
