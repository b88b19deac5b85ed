"""The one reading of an FAQ answer's key, `faq/<topic>`, in a parse result.

Rasa names an FAQ answer by its retrieval intent and the response key:
`faq/how_it_works` is answered by `utter_faq/how_it_works`. The parse
result carries it at `response_selector.faq.response.intent_response_key`
(the chosen answer) and `response_selector.faq.ranking[].intent_response_key`
(the likeliest ones). The classifier (components/linear_classifier.py),
the actions, the evaluation and the staff app all read it through here.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

RETRIEVAL_INTENT = "faq"
# In a JSON column: where a user event's parse data holds the chosen key.
ANSWER_KEY_PATH = (
    "parse_data",
    "response_selector",
    RETRIEVAL_INTENT,
    "response",
    "intent_response_key",
)


def intent_of(label: str) -> str:
    """`faq` for `faq/<topic>`; any other label is an intent already."""
    return label.split("/", 1)[0]


def topic_of(key: Optional[str]) -> Optional[str]:
    """`<topic>` for `faq/<topic>`, else None."""
    intent, _, topic = str(key or "").partition("/")
    return topic or None if intent == RETRIEVAL_INTENT else None


def _selector(parse_data: Dict[str, Any]) -> Dict[str, Any]:
    return (parse_data.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}


def answer_key(parse_data: Dict[str, Any]) -> Optional[str]:
    """The chosen answer's `faq/<topic>`, when the intent is `faq`."""
    if (parse_data.get("intent") or {}).get("name") != RETRIEVAL_INTENT:
        return None
    key = (_selector(parse_data).get("response") or {}).get("intent_response_key")
    return str(key) if key else None


def ranked_topics(parse_data: Dict[str, Any]) -> List[str]:
    """The topics of the answers ranked, likeliest first (no repeats)."""
    topics: List[str] = []
    for item in _selector(parse_data).get("ranking") or []:
        topic = topic_of(item.get("intent_response_key"))
        if topic and topic not in topics:
            topics.append(topic)
    return topics


def label(parse_data: Dict[str, Any]) -> Optional[str]:
    """`faq/<topic>` for an answered FAQ question, else the intent name
    (`faq` alone when no answer was chosen)."""
    intent = (parse_data.get("intent") or {}).get("name")
    if intent == RETRIEVAL_INTENT:
        return answer_key(parse_data) or intent
    return intent
