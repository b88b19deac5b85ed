"""The one reading of `faq/<topic>` keys in parse results (clinic/faq_keys.py)."""

from __future__ import annotations

import pytest

from clinic import faq_keys


def parse(intent, key=None, ranking=()):
    selector = {"response": {"intent_response_key": key}, "ranking": []}
    selector["ranking"] = [{"intent_response_key": k} for k in ranking]
    return {"intent": {"name": intent}, "response_selector": {"faq": selector}}


@pytest.mark.parametrize(
    "key, topic",
    [
        ("faq/cost", "cost"),
        ("faq/", None),
        ("greet", None),
        (None, None),
        ("x/y", None),
    ],
)
def test_topic_of(key, topic):
    assert faq_keys.topic_of(key) == topic


def test_the_answer_counts_only_when_the_intent_is_faq():
    assert faq_keys.answer_key(parse("faq", "faq/cost")) == "faq/cost"
    assert faq_keys.answer_key(parse("out_of_scope", "faq/cost")) is None
    assert faq_keys.answer_key({}) is None


def test_label_is_the_answer_or_the_intent():
    assert faq_keys.label(parse("faq", "faq/cost")) == "faq/cost"
    assert faq_keys.label(parse("faq")) == "faq"
    assert faq_keys.label(parse("greet", "faq/cost")) == "greet"
    assert faq_keys.label({}) is None


def test_ranked_topics_in_order_without_repeats():
    ranked = parse("faq", ranking=["faq/b", "faq/a", "faq/b", "greet"])
    assert faq_keys.ranked_topics(ranked) == ["b", "a"]


def test_intent_of_a_label():
    assert faq_keys.intent_of("faq/cost") == "faq"
    assert faq_keys.intent_of("greet") == "greet"
