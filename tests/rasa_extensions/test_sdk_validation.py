"""rasa_sdk's list of the domain's slots, kept between slot validations
(rasa_extensions/sdk_validation.py)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List

import pytest
from rasa_sdk.forms import ValidationAction

from rasa_extensions import sdk_validation
from tests.conftest import assistant_domain

RASA_SDK_GLOBAL_SLOTS = sdk_validation.rasa_sdk_global_slots()


class Validate(ValidationAction):
    def name(self) -> str:
        return "action_validate_slot_mappings"


@pytest.fixture
def kept() -> Iterator[None]:
    sdk_validation.install()
    yield
    sdk_validation.uninstall()


@pytest.fixture(scope="module")
def domain() -> Dict[str, Any]:
    return assistant_domain().as_dict()


def test_the_slot_list_is_rasa_sdks(domain, kept):
    assert Validate().global_slots(domain) == RASA_SDK_GLOBAL_SLOTS(Validate(), domain)
    assert Validate().domain_slots(domain) == RASA_SDK_GLOBAL_SLOTS(Validate(), domain)


def test_the_same_domain_is_walked_once(domain, kept, monkeypatch):
    walked: List[int] = []
    real = ValidationAction._is_mapped_to_form
    monkeypatch.setattr(
        ValidationAction,
        "_is_mapped_to_form",
        staticmethod(lambda value: walked.append(1) or real(value)),
    )
    first = Validate().global_slots(domain)
    assert walked  # computed once
    walked.clear()
    for _ in range(20):  # one call per extracted slot, every turn
        assert Validate().global_slots(domain) == first
    assert walked == []


def test_another_or_changed_domain_is_walked_again(domain, kept):
    Validate().global_slots(domain)
    other = {"slots": {"a": {"mappings": [{"type": "from_text"}]}}}
    assert Validate().global_slots(other) == ["a"]
    other["slots"]["b"] = {
        "mappings": [{"type": "from_text", "conditions": [{"active_loop": "f"}]}]
    }
    other["slots"]["c"] = {"mappings": [{"type": "from_text"}]}
    assert Validate().global_slots(other) == ["a", "c"]


def test_what_the_caller_gets_is_its_own(domain, kept):
    Validate().global_slots(domain).clear()
    assert Validate().global_slots(domain) == RASA_SDK_GLOBAL_SLOTS(Validate(), domain)
