"""The shared shape of the rule-based entity extractors (conditions,
precautions): nothing to train, one finder run over each message."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Dict, List, Text, Tuple, TypeVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.text import entities_added

Finder = Callable[[str], List[Tuple[str, int, int]]]
E = TypeVar("E", bound="PhraseExtractor")


class PhraseExtractor(GraphComponent):
    """Adds an `entity` entity for each phrase `find` returns. A subclass sets
    both and registers itself with DefaultV1Recipe (this base is not
    registered, so Rasa never offers it as a component)."""

    entity: ClassVar[str]
    find: ClassVar[Finder]

    @classmethod
    def create(
        cls: type[E],
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E:
        """Creates the component (it has nothing to train or load)."""
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data is left as it is: the patterns are not learned."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the entities to each message."""
        entities_added(messages, self.entity, type(self).find, self.__class__.__name__)
        return messages
