"""Low confidence in *which* FAQ answer fits sends the message to fallback.

Rasa's FallbackClassifier looks only at the intent confidence. A message can
be confidently `faq` while the response selector hesitates between topics;
answering then would give a random FAQ answer. This component, placed after
the FallbackClassifier, predicts `nlu_fallback` in that case too. The intent
ranking and the response selector's ranking stay on the message, so the
fallback action can offer the likeliest topics as "Did you mean ...?".
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

RETRIEVAL_INTENT = "faq"


def faq_confidence(message: Message) -> Optional[float]:
    """The response selector's confidence in its top FAQ answer, if any."""
    selector = message.get("response_selector") or {}
    prediction = (selector.get(RETRIEVAL_INTENT) or {}).get("response") or {}
    confidence = prediction.get(PREDICTED_CONFIDENCE_KEY)
    return float(confidence) if confidence is not None else None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class FaqConfidenceGate(GraphComponent):
    """Predicts `nlu_fallback` when the FAQ answer itself is uncertain."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`threshold`: the lowest response-selector confidence to answer."""
        return {"threshold": 0.4}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.threshold = float(config["threshold"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqConfidenceGate:
        """Creates the component with its configured threshold."""
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to learn."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Replaces an uncertain FAQ prediction by `nlu_fallback`."""
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) != RETRIEVAL_INTENT:
                continue
            confidence = faq_confidence(message)
            if confidence is None or confidence >= self.threshold:
                continue
            fallback = {
                INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                PREDICTED_CONFIDENCE_KEY: self.threshold,
            }
            message.set(INTENT, fallback, add_to_output=True)
            ranking = [fallback] + list(message.get(INTENT_RANKING_KEY, []))
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
