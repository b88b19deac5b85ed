"""The rule-based `condition` entity."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from components.condition_answers import answer_condition
from components.conditions import ConditionExtractor, find_conditions
from components.text import within_one_edit


@pytest.mark.parametrize(
    "text, values",
    [
        ("can IMS help sciatica", ["sciatica"]),
        ("does ims work for sciatia", ["sciatica"]),
        ("i have tennis elbow", ["tennis_elbow"]),
        ("lateral epicondylitis treatment", ["tennis_elbow"]),
        ("my frozen shoulder", ["frozen_shoulder"]),
        ("rotator cuff tear", ["rotator_cuff"]),
        ("my shoulder hurts", ["shoulder_pain"]),
        ("migranes every week", ["headache"]),
        ("tension headaches", ["headache"]),
        ("fibromyalga", ["fibromyalgia"]),
        ("osteoarthritis in my knee", ["osteoarthritis", "knee"]),
        ("pelvic pain", ["pelvic_pain"]),
        ("bad posture at my desk", ["postural_pain"]),
        ("stiff neck and low back pain", ["neck_pain", "back_pain"]),
        ("my lower back", ["back_pain"]),
        ("plantar fasciitis", ["plantar_fasciitis"]),
        # Not every arthritis is osteoarthritis; fibroids are not fibromyalgia.
        ("rheumatoid arthritis in my hands", ["rheumatoid_arthritis", "arthritis"]),
        ("does it help arthritis", ["arthritis"]),
        ("i have fibroids", ["fibroids"]),
        ("my fibro is flaring", ["fibromyalgia"]),
        ("whiplash from a car accident", ["whiplash"]),
        ("a herniated disc in my lower back", ["disc", "back_pain"]),
        ("what is IMS", []),
        ("I'll get back to you", []),
        ("should I come weekly", []),
    ],
)
def test_find_conditions(text: str, values: list) -> None:
    assert [value for value, _, _ in find_conditions(text)] == values


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("sciatica", "sciatica", True),
        ("sciatia", "sciatica", True),
        ("scaitica", "sciatica", True),
        ("sciaticaa", "sciatica", True),
        ("sciotiko", "sciatica", False),
        ("should", "shoulder", False),
    ],
)
def test_within_one_edit(a: str, b: str, expected: bool) -> None:
    assert within_one_edit(a, b) is expected


@pytest.mark.parametrize(
    "text, span",
    [
        ("Can IMS help my  Tennis Elbow?", "Tennis Elbow"),
        ("I can’t shake this sciatica", "sciatica"),
        ("Zoë’s frozen   shoulder", "frozen   shoulder"),
    ],
)
def test_entity_positions_point_into_the_original_text(text: str, span: str) -> None:
    [(_, start, end)] = find_conditions(text)
    assert text[start:end] == span


def test_extractor_adds_entities() -> None:
    message = Message(data={"text": "can IMS help my tennis elbow?"})
    [out] = ConditionExtractor().process([message])
    [entity] = out.get("entities")
    assert entity["entity"] == "condition"
    assert entity["value"] == "tennis_elbow"


@pytest.mark.parametrize(
    "values, answer",
    [
        ([], None),
        (["tennis_elbow"], "tennis_elbow"),
        # The answer with safety advice (sciatica's) wins, in any order.
        (["back_pain", "sciatica"], "sciatica"),
        (["sciatica", "back_pain"], "sciatica"),
        # A condition the catalogue lists wins over one it does not.
        (["knee", "back_pain"], "back_pain"),
        # Unlisted conditions get the honest general answer, never another's.
        (["knee"], "other"),
        (["rheumatoid_arthritis", "arthritis"], "other"),
        (["fibroids"], "other"),
        # A named diagnosis the catalogue lacks wins over its body region.
        (["disc", "back_pain"], "other"),
        (["rheumatoid_arthritis", "arthritis", "shoulder_pain"], "other"),
        (["pelvic_pain", "fibroids"], "other"),
        (["disc", "sciatica"], "sciatica"),
    ],
)
def test_answer_condition(values: list, answer) -> None:
    assert answer_condition(values) == answer
