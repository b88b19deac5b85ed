"""The rule-based `precaution` entity, and which precaution's answer a
message gets."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from components.condition_answers import PRECAUTIONS, answer_precaution
from components.precautions import (
    PATTERNS,
    PrecautionExtractor,
    find_precautions,
)


@pytest.mark.parametrize(
    "text, values",
    [
        ("I'm 20 weeks pregnant, can I have IMS?", ["pregnancy"]),
        ("is it safe during pregnancy", ["pregnancy"]),
        ("im pregant", ["pregnancy"]),  # one typo
        ("in my third trimester", ["pregnancy"]),
        ("we're trying to conceive", ["pregnancy"]),
        ("I take blood thinners", ["blood_thinners"]),
        ("on bloodthinning medication", ["blood_thinners"]),  # not "medication"
        ("I'm on warfarin", ["blood_thinners"]),
        ("I take Eliquis daily", ["blood_thinners"]),
        ("on warfrin", ["blood_thinners"]),  # one typo
        ("I take a baby aspirin", ["blood_thinners"]),
        ("I have a bleeding disorder", ["clotting_disorder"]),
        ("blood clotting disorder", ["clotting_disorder"]),
        ("I have haemophilia", ["clotting_disorder"]),
        ("I bleed easily", ["clotting_disorder"]),
        ("I have hepatitis C", ["hiv_hepatitis"]),
        ("I'm HIV positive", ["hiv_hepatitis"]),
        ("I have a pacemaker", ["implant"]),
        ("I had a knee replacement", ["implant"]),
        ("metal plates in my ankle", ["implant"]),
        ("I take lots of medications", ["medication"]),
        ("on steroids for my asthma", ["medication"]),
        (
            "pregnant and on warfarin",
            ["pregnancy", "blood_thinners"],
        ),
        # Not a precaution.
        ("can I do meditation after IMS", []),
        ("how many sessions do I need", []),
        ("is IMS the same as Chinese medicine", ["medication"]),
        ("what should I expect at my first visit", []),
        ("will it thin out the knots", []),
    ],
)
def test_find_precautions(text: str, values: list) -> None:
    assert [value for value, _, _ in find_precautions(text)] == values


def test_entity_positions_point_into_the_original_text() -> None:
    text = "Can I have IMS? I’m  20 weeks PREGNANT"
    [(_, start, end)] = find_precautions(text)
    assert text[start:end] == "PREGNANT"


def test_extractor_adds_entities_beside_the_others() -> None:
    message = Message(
        data={
            "text": "I'm pregnant with sciatica",
            "entities": [{"entity": "condition", "value": "sciatica"}],
        }
    )
    [out] = PrecautionExtractor().process([message])
    assert [(e["entity"], e["value"]) for e in out.get("entities")] == [
        ("condition", "sciatica"),
        ("precaution", "pregnancy"),
    ]
    assert out.get("entities")[1]["extractor"] == "PrecautionExtractor"


def test_every_extracted_value_has_an_answer() -> None:
    assert {value for value, _ in PATTERNS} == PRECAUTIONS


@pytest.mark.parametrize(
    "values, answer",
    [
        ([], None),
        (["pregnancy"], "pregnancy"),
        (["implant"], "implant"),
        # Several: the whole list, which covers each of them.
        (["pregnancy", "blood_thinners"], None),
        (["hiv_hepatitis", "implant", "medication"], None),
        # A blood thinner is the medicine named, not a second matter.
        (["medication", "blood_thinners"], "blood_thinners"),
        (["knee"], None),  # not a precaution
    ],
)
def test_answer_precaution(values: list, answer) -> None:
    assert answer_precaution(values) == answer
