"""The featurizer and the classifier together in a Rasa pipeline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

FEATURIZER = "components.sentence_embeddings.SentenceEmbeddingFeaturizer"
CLASSIFIER = "components.linear_classifier.LinearIntentClassifier"

NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
- intent: goodbye
  examples: |
    - bye
    - see you later
    - goodbye
    - talk soon
- intent: ask_price
  examples: |
    - how much does it cost
    - what is the price
    - how much is a session
    - is it expensive
"""

CONFIG = f"""
recipe: default.v1
assistant_id: test-sentence-pipeline
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: {FEATURIZER}
  - name: {CLASSIFIER}
    dense_weight: 1.0
"""


@pytest.mark.slow
def test_rasa_trains_and_parses_with_the_sentence_pipeline(
    tmp_path: Path, monkeypatch
) -> None:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "cache"))
    (tmp_path / "nlu.yml").write_text(NLU)
    (tmp_path / "config.yml").write_text(CONFIG)
    model = train_nlu(
        str(tmp_path / "config.yml"), str(tmp_path / "nlu.yml"), str(tmp_path)
    )
    agent = Agent.load(model)
    parsed = asyncio.run(agent.parse_message("what does a treatment cost"))
    assert parsed["intent"]["name"] == "ask_price"
    assert asyncio.run(agent.parse_message("hello"))["intent"]["name"] == "greet"
