"""Training examples restated with the treatment's other names."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.treatment_names import NAMES, TreatmentNameVariants, name_variants


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "does IMS hurt",
            ["does dry needling hurt", "does intramuscular stimulation hurt"],
        ),
        ("is the needling painful", ["is IMS painful", "is dry needling painful"]),
        (
            "how long does Gunn IMS take",
            ["how long does IMS take", "how long does dry needling take"],
        ),
        ("what are your hours", []),
        # "ims" only as a whole word
        ("claims about my back", []),
    ],
)
def test_name_variants(text: str, expected: list) -> None:
    assert name_variants(text, 2) == expected


def test_every_name_is_used_in_turn() -> None:
    used = {
        v.split()[1] for i in range(10) for v in name_variants("does IMS hurt", 1, i)
    }
    assert {name.split()[0] for name in NAMES if name != "IMS"} == used


def _message(text: str, intent: str, key: str = None) -> Message:
    data = {"text": text, "intent": intent}
    if key:
        data["intent_response_key"] = key
    return Message(data=data)


def test_training_data_gains_variants_except_for_comparisons() -> None:
    data = TrainingData(
        training_examples=[
            _message("does IMS hurt", "faq", "faq/does_it_hurt"),
            _message("is IMS the same as dry needling", "faq", "faq/dry_needling"),
            _message("hello", "greet"),
        ]
    )
    out = TreatmentNameVariants({}).process_training_data(data)
    texts = {(m.get("text"), m.get("intent_response_key")) for m in out.intent_examples}
    assert ("does dry needling hurt", "faq/does_it_hurt") in texts
    assert len(out.intent_examples) == 5  # two variants of the first only
    comparison = [t for t, k in texts if k == "faq/dry_needling"]
    assert comparison == ["is IMS the same as dry needling"]


def test_messages_to_predict_are_untouched() -> None:
    message = Message(data={"text": "does dry needling hurt"})
    assert TreatmentNameVariants({}).process([message]) == [message]
    assert message.get("text") == "does dry needling hurt"
