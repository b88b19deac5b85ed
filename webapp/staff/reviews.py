"""Answers to check: where the assistant may have answered wrong, staff's
verdict on each, and the export of those verdicts as NLU training data.

An FAQ answer is listed when the person said it did not help (a "No" to
"Did that answer your question?", or "that's not what I asked": the
`action_feedback_unhelpful` events, actions/feedback.py), or when it was
given with a probability below REVIEW_CONFIDENCE (clinic/settings.py).
Staff mark each one "right answer", "wrong answer: should be <topic>" or
"not something we answer" (`answer_reviews`, db/staff_models.py).

`export_yaml` writes the reviewed messages in Rasa's NLU format, grouped
by the topic staff chose, for the maintainer to write new training
examples from. Nothing trains on it: it is written only where the
operator says (webapp/staff/cli.py), never into data/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Dict, Iterable, List, Optional, Tuple
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from sqlalchemy import Float, cast, select
from sqlalchemy.orm import Session
from wtforms import HiddenField, SelectField
from wtforms.validators import DataRequired

from clinic import faq_keys
from clinic.faq_topics import TOPICS
from db.models import utcnow
from db.rasa_events import event_data, events
from db.staff_models import AnswerReview
from webapp.staff.dashboard import json_text
from webapp.staff.transcript import epoch, has_events_table, to_datetime

UNHELPFUL_ACTION = "action_feedback_unhelpful"
RIGHT, WRONG, NOT_OURS = "right", "wrong", "not_ours"
VERDICTS = {
    RIGHT: "Right answer",
    WRONG: "Wrong answer: should be ...",
    NOT_OURS: "Not something we answer",
}
# What a verdict of "not something we answer" is trained as.
OUT_OF_SCOPE = "out_of_scope"
MAX_LISTED = 50
# Feedback events looked at per period: far more than staff review in one.
MAX_FEEDBACK = 500


def topic_name(topic: Optional[str]) -> str:
    """The topic in words ("How often to come"), never its key."""
    if topic in TOPICS:
        return TOPICS[topic][0]
    return "Topic not known"


def topic_choices() -> List[Tuple[str, str]]:
    """Every FAQ topic of the catalogue, by name."""
    return sorted(
        ((key, name) for key, (name, _) in TOPICS.items()), key=lambda c: c[1]
    )


@dataclass
class AnswerToCheck:
    """One FAQ answer to check, with what staff said about it (if anything)."""

    event_id: int  # the person's message in Rasa's events table
    sender_id: str
    at: Optional[datetime]
    text: str
    topic: Optional[str]  # the topic answered
    confidence: Optional[float]  # the probability the answer was given with
    unhelpful: bool = False  # the person said it did not help
    low_confidence: bool = False
    review: Optional[AnswerReview] = None

    @property
    def topic_name(self) -> str:
        return topic_name(self.topic)

    @property
    def reasons(self) -> List[str]:
        found = []
        if self.unhelpful:
            found.append("Marked unhelpful")
        if self.low_confidence:
            found.append("Low confidence")
        return found


@dataclass
class AnswersToCheck:
    items: List[AnswerToCheck]  # to review first, then newest first
    total: int
    to_review: int
    threshold: float


def _answer(row: Any, data: Dict[str, Any]) -> AnswerToCheck:
    parse_data = data.get("parse_data") or {}
    confidence = (parse_data.get("intent") or {}).get("confidence")
    return AnswerToCheck(
        event_id=row.id,
        sender_id=row.sender_id,
        at=to_datetime(row.timestamp),
        text=str(data.get("text") or ""),
        topic=faq_keys.topic_of(faq_keys.answer_key(parse_data)),
        confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
    )


def _unsure(
    session: Session, since: datetime, until: datetime, threshold: float
) -> Iterable[AnswerToCheck]:
    confidence = cast(json_text(session, "parse_data", "intent", "confidence"), Float)
    rows = session.execute(
        select(events.c.id, events.c.sender_id, events.c.timestamp, events.c.data)
        .where(
            events.c.type_name == "user",
            events.c.intent_name == faq_keys.RETRIEVAL_INTENT,
            events.c.timestamp >= epoch(since),
            events.c.timestamp < epoch(until),
            confidence < threshold,
        )
        .order_by(events.c.id.desc())
        .limit(MAX_FEEDBACK)
    )
    for row in rows:
        item = _answer(row, event_data(row.data))
        if item.topic:
            item.low_confidence = True
            yield item


def _judged(session: Session, sender_id: str, feedback_id: int) -> Optional[Any]:
    """The FAQ question a "No" is about: the person's message before the one
    that said "No" (as actions/feedback.py reads it)."""
    rows = session.execute(
        select(
            events.c.id,
            events.c.sender_id,
            events.c.timestamp,
            events.c.intent_name,
            events.c.data,
        )
        .where(
            events.c.sender_id == sender_id,
            events.c.type_name == "user",
            events.c.id < feedback_id,
        )
        .order_by(events.c.id.desc())
        .limit(2)
    ).all()
    if len(rows) < 2 or rows[1].intent_name != faq_keys.RETRIEVAL_INTENT:
        return None
    return rows[1]


def _unhelpful(
    session: Session, since: datetime, until: datetime
) -> Iterable[AnswerToCheck]:
    feedback = session.execute(
        select(events.c.id, events.c.sender_id)
        .where(
            events.c.type_name == "action",
            events.c.action_name == UNHELPFUL_ACTION,
            events.c.timestamp >= epoch(since),
            events.c.timestamp < epoch(until),
        )
        .order_by(events.c.id.desc())
        .limit(MAX_FEEDBACK)
    ).all()
    for action in feedback:
        row = _judged(session, action.sender_id, action.id)
        if row is not None:
            item = _answer(row, event_data(row.data))
            if item.topic:
                item.unhelpful = True
                yield item


def answers_to_check(
    session: Session,
    since: datetime,
    until: datetime,
    threshold: float,
    limit: int = MAX_LISTED,
) -> AnswersToCheck:
    """The FAQ answers of the period marked unhelpful or given with a
    probability below `threshold`: those not reviewed yet first, then the
    newest; at most `limit`."""
    if not has_events_table(session):
        return AnswersToCheck(items=[], total=0, to_review=0, threshold=threshold)
    found: Dict[int, AnswerToCheck] = {}
    for item in _unsure(session, since, until, threshold):
        found[item.event_id] = item
    for item in _unhelpful(session, since, until):
        found.setdefault(item.event_id, item).unhelpful = True
    reviews = {
        review.event_id: review
        for review in session.scalars(
            select(AnswerReview).where(AnswerReview.event_id.in_(list(found)))
        )
    }
    for item in found.values():
        item.review = reviews.get(item.event_id)
    items = sorted(found.values(), key=lambda i: (i.review is not None, -i.event_id))
    return AnswersToCheck(
        items=items[:limit],
        total=len(items),
        to_review=sum(1 for i in items if i.review is None),
        threshold=threshold,
    )


def answers_for_days(
    session: Session, start: date, end: date, zone: ZoneInfo, threshold: float
) -> AnswersToCheck:
    """`answers_to_check` for the days start..end (inclusive) in `zone`."""
    since = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return answers_to_check(session, since, until, threshold)


def faq_message(session: Session, event_id: int) -> Optional[AnswerToCheck]:
    """The person's FAQ question stored as events row `event_id`, if any."""
    if not has_events_table(session):
        return None
    row = session.execute(
        select(events.c.id, events.c.sender_id, events.c.timestamp, events.c.data)
        .where(events.c.id == event_id)
        .where(events.c.type_name == "user")
        .where(events.c.intent_name == faq_keys.RETRIEVAL_INTENT)
    ).first()
    if row is None:
        return None
    item = _answer(row, event_data(row.data))
    return item if item.topic else None


# ---- staff's verdict --------------------------------------------------------


class AnswerReviewForm(FlaskForm):
    """One verdict on one answer (CSRF-protected like every staff form)."""

    event_id = HiddenField(validators=[DataRequired()])
    verdict = SelectField(
        "The answer was",
        choices=[("", "Choose")] + list(VERDICTS.items()),
        validators=[DataRequired()],
    )
    topic = SelectField("Should be", choices=[("", "Choose a topic")] + topic_choices())
    next = HiddenField()


def form_for(item: AnswerToCheck) -> AnswerReviewForm:
    """The form of one listed answer, showing staff's verdict if there is one."""
    review = item.review
    return AnswerReviewForm(
        formdata=None,
        verdict=review.verdict if review else "",
        topic=(review.topic or "") if review else "",
    )


def verdict_text(review: AnswerReview) -> str:
    """ "Wrong answer: should be How often to come", and so on."""
    if review.verdict == WRONG:
        return f"Wrong answer: should be {topic_name(review.topic)}"
    return VERDICTS.get(review.verdict, review.verdict)


class ReviewError(ValueError):
    """A verdict that cannot be stored; the message says why, for staff."""


def save_review(
    session: Session,
    answer: AnswerToCheck,
    verdict: str,
    topic: Optional[str],
    reviewer: str,
) -> AnswerReview:
    """Stores (or changes) staff's verdict on `answer`. The caller commits."""
    if verdict not in VERDICTS:
        raise ReviewError(
            "Choose right answer, wrong answer or not something we answer."
        )
    if verdict == WRONG:
        if topic not in TOPICS:
            raise ReviewError("Choose the topic the answer should have been.")
        if topic == answer.topic:
            raise ReviewError(
                "That is the topic it answered: choose another, or mark it right."
            )
    else:
        topic = None
    review = session.scalars(
        select(AnswerReview).where(AnswerReview.event_id == answer.event_id)
    ).first()
    if review is None:
        review = AnswerReview(event_id=answer.event_id, sender_id=answer.sender_id)
        session.add(review)
    review.verdict, review.topic, review.reviewed_by = verdict, topic, reviewer
    review.reviewed_at = utcnow()
    session.flush()
    return review


# ---- export -----------------------------------------------------------------

# "[text](entity)" and "[text]{...}" mark entities in Rasa's format.
_ENTITY_MARK = re.compile(r"\]([({])")


def example_text(text: str) -> str:
    """A message as one line of training data: whitespace collapsed, and
    never read back as an entity annotation."""
    return _ENTITY_MARK.sub(r"] \1", " ".join(text.split()))


def label_for(review: AnswerReview, answered: Optional[str]) -> Optional[str]:
    """The label a reviewed message is an example of."""
    if review.verdict == NOT_OURS:
        return OUT_OF_SCOPE
    topic = review.topic if review.verdict == WRONG else answered
    return f"{faq_keys.RETRIEVAL_INTENT}/{topic}" if topic in TOPICS else None


def reviewed_examples(session: Session) -> Dict[str, List[str]]:
    """Every reviewed message, by the label staff's verdict gives it."""
    if not has_events_table(session):
        return {}
    rows = session.execute(
        select(AnswerReview, events.c.data)
        .join(events, events.c.id == AnswerReview.event_id)
        .order_by(AnswerReview.event_id)
    ).all()
    grouped: Dict[str, List[str]] = {}
    for review, raw in rows:
        data = event_data(raw)
        answered = faq_keys.topic_of(faq_keys.answer_key(data.get("parse_data") or {}))
        label, text = (
            label_for(review, answered),
            example_text(str(data.get("text") or "")),
        )
        if label and text and text not in grouped.get(label, []):
            grouped.setdefault(label, []).append(text)
    return dict(sorted(grouped.items()))


def export_yaml(examples: Dict[str, List[str]]) -> str:
    """The examples in Rasa's NLU training format (version "3.1"), written
    by Rasa's own writer."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    messages = []
    for label, texts in examples.items():
        intent = faq_keys.intent_of(label)
        for text in texts:
            data: Dict[str, Any] = {"text": text, "intent": intent}
            if intent != label:
                data["intent_response_key"] = label
            messages.append(Message(data=data))
    return RasaYAMLWriter().dumps(TrainingData(messages))
