"""One treatment, many names: training examples restated with each name.

Patients call the treatment "IMS", "Gunn IMS", "intramuscular stimulation",
"dry needling" or just "needling". The training data, written by us, mostly
says "IMS", so a word such as "dry needling" was learned from the few
comparison questions that use it and pulled any question naming it ("does
dry needling hurt?") into the comparison answer.

At training time only, `TreatmentNameVariants` adds, for every example that
names the treatment, copies that name it otherwise (two by default, taken in
turn so that every name is used about equally). Examples of the comparison
topics are left alone: there the name is what the question is about. At
prediction time it does nothing. It runs first in the pipeline, so the
copies are tokenised and featurised like any other example.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

NAMES = (
    "IMS",
    "dry needling",
    "intramuscular stimulation",
    "Gunn IMS",
    "needling",
)
# Longest first, so "gunn ims" is one name, not "gunn" + "ims".
_NAME = re.compile(
    r"\b(gunn'?s? ims|intra-?muscular stimulation|dry needling|"
    r"the needling|needling|ims)\b",
    re.IGNORECASE,
)


def name_variants(text: str, count: int, start: int = 0) -> List[str]:
    """`text` with its first treatment name replaced by `count` other names,
    taken from NAMES in turn from `start`; [] when it names none."""
    found = _NAME.search(text)
    if not found:
        return []
    said = found.group(0).lower().replace("the ", "")
    others = [n for n in NAMES if n.lower() != said]
    variants = []
    for i in range(min(count, len(others))):
        name = others[(start + i) % len(others)]
        variants.append(text[: found.start()] + name + text[found.end() :])
    return variants


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False
)
class TreatmentNameVariants(GraphComponent):
    """Adds training examples that name the treatment in other ways."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`variants`: copies per example; `keep_names_in`: labels whose
        examples are left as written (the comparison topics, and origins,
        whose answer is IMS's own history)."""
        return {
            "variants": 2,
            "keep_names_in": [
                "faq/ims_vs_acupuncture",
                "faq/dry_needling",
                # Dr. Gunn developed IMS, not dry needling as a whole.
                "faq/origins",
            ],
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = {**self.get_default_config(), **config}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TreatmentNameVariants:
        """Creates the component (it has nothing to train or load)."""
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """The training data plus the name variants of its examples."""
        keep = set(self.config["keep_names_in"])
        count = int(self.config["variants"])
        written = {m.get(TEXT, "").lower() for m in training_data.training_examples}
        added: List[Message] = []
        for index, message in enumerate(training_data.intent_examples):
            label: Optional[Text] = message.get(INTENT_RESPONSE_KEY) or message.get(
                INTENT
            )
            if label in keep:
                continue
            for text in name_variants(message.get(TEXT) or "", count, start=index):
                if text.lower() in written:
                    continue
                written.add(text.lower())
                data = {k: v for k, v in message.data.items() if k != TEXT}
                added.append(Message(data={**data, TEXT: text}))
        if not added:
            return training_data
        return training_data.merge(TrainingData(training_examples=added))

    def process(self, messages: List[Message]) -> List[Message]:
        """Messages to predict are left as they are."""
        return messages
