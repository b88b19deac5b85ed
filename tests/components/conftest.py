"""Shared by the component tests: model storage, one loaded featurizer, and
small training data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.sentence_embeddings import SentenceEmbeddingFeaturizer

EXAMPLES: Dict[str, List[str]] = {
    "greet": ["hello", "hi there", "good morning", "hey", "hello there"],
    "goodbye": ["bye", "see you later", "goodbye", "talk soon", "bye for now"],
    "faq/cost": [
        "how much does it cost",
        "what is the price",
        "how much is a session",
        "price of treatment",
        "is it expensive",
    ],
    "faq/needles": [
        "what needles do you use",
        "are the needles sterile",
        "how thick is the needle",
        "single use needles?",
        "needle size",
    ],
}
RESPONSES = {
    "utter_faq/cost": [{"text": "It costs..."}],
    "utter_faq/needles": [{"text": "We use..."}],
}


def training_data(examples: Dict[str, List[str]] = EXAMPLES) -> TrainingData:
    """Intent examples, FAQ ones with their `faq/<topic>` key, and answers."""
    messages = []
    for label, texts in examples.items():
        intent, _, key = label.partition("/")
        for text in texts:
            data: Dict[str, Any] = {"text": text, "intent": intent}
            if key:
                data["intent_response_key"] = label
            messages.append(Message(data=data))
    return TrainingData(training_examples=messages, responses=RESPONSES)


def messages(texts: Iterable[str]) -> List[Message]:
    return [Message(data={"text": text}) for text in texts]


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


@pytest.fixture
def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


@pytest.fixture(scope="session")
def featurizer(tmp_path_factory: pytest.TempPathFactory) -> SentenceEmbeddingFeaturizer:
    """The real model from the folder `make install` fills, loaded once."""
    featurizer = SentenceEmbeddingFeaturizer.create(
        SentenceEmbeddingFeaturizer.get_default_config(),
        LocalModelStorage(tmp_path_factory.mktemp("featurizer")),
        Resource("sentence"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    return featurizer
