"""Answers to check on the dashboard: the answers marked unhelpful and the
low-confidence ones, staff's verdict on each, and the export of those
verdicts as NLU training data (webapp/staff/reviews.py, the CLI)."""

from __future__ import annotations

import io
import stat
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import pytest
from hypothesis import given
from sqlalchemy import func, select, text

from clinic.settings import PROJECT_ROOT, SettingsError, StaffSettings
from db.staff_models import AnswerReview
from tests.webapp.staff.conftest import (
    action,
    bot,
    csrf_from,
    post_form,
    session_start,
    ts,
    user,
    write_conversation,
)
from tests.webapp.staff.test_bad_input import settings_
from tests.webapp.staff.test_bad_input import text as any_text
from webapp.staff import cli
from webapp.staff.transcript import delete_conversation

NOW = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
DASHBOARD = "/staff/dashboard"


def asked(
    text_: str,
    topic: str,
    confidence: float,
    at: float,
    ranking: List[str] = (),
    channel: str = "socketio",
):
    """A person's FAQ question, answered as `topic` with `confidence`."""
    event = user(text_, "faq", at, channel, topic)
    event.parse_data["intent"]["confidence"] = confidence
    event.intent["confidence"] = confidence
    event.parse_data["response_selector"]["faq"]["ranking"] = [
        {"intent_response_key": f"faq/{t}", "confidence": 0.1} for t in ranking
    ]
    return event


def feedback_no(at: float, typed: str = "/answer_unhelpful") -> list:
    """The feedback question, a "No" and the reply to it."""
    return [
        action("action_ask_feedback", at),
        bot("Did that answer your question?", at),
        user(typed, "answer_unhelpful", at + 1, "socketio"),
        action("action_feedback_unhelpful", at + 1),
        bot("Sorry about that.", at + 1),
    ]


@pytest.fixture
def chats(database_url) -> Dict[str, Any]:
    def chat(sender: str, turns: list) -> None:
        write_conversation(database_url, sender, [*session_start(ts(NOW)), *turns])

    # A confident answer the person said did not help.
    chat(
        "said-no",
        [
            asked("how often must I come in", "frequency", 0.91, ts(NOW, 1)),
            *feedback_no(ts(NOW, 1)),
        ],
    )
    # An unsure answer, never commented on.
    chat("unsure", [asked("is it ok when pregnant", "side_effects", 0.31, ts(NOW, 2))])
    # A confident answer the person was happy with: not listed.
    chat(
        "happy",
        [
            asked("where do I park", "clinic_location", 0.88, ts(NOW, 3)),
            action("action_ask_feedback", ts(NOW, 3)),
            user("/answer_helpful", "answer_helpful", ts(NOW, 4), "socketio"),
        ],
    )
    # "That's not what I asked" after a greeting: no FAQ answer to check.
    chat(
        "no-faq",
        [
            user("hello", "greet", ts(NOW, 5), "socketio"),
            bot("Hi!", ts(NOW, 5)),
            user("that's not what I asked", "answer_unhelpful", ts(NOW, 6)),
            action("action_feedback_unhelpful", ts(NOW, 6)),
        ],
    )
    return {"database_url": database_url}


def event_id(db_session, sender: str, message: str) -> int:
    return db_session.execute(
        text(
            "SELECT id FROM events WHERE sender_id = :s AND type_name = 'user' "
            "AND data LIKE :m"
        ),
        {"s": sender, "m": f'%"text": "{message}"%'},
    ).scalar_one()


def review(client, event: int, verdict: str, topic: str = ""):
    return post_form(
        client,
        DASHBOARD,
        "/staff/answers/review",
        {"event_id": str(event), "verdict": verdict, "topic": topic, "next": DASHBOARD},
    )


def test_the_dashboard_lists_unhelpful_and_unsure_answers(signed_in, chats):
    html = signed_in.get(DASHBOARD).get_data(as_text=True)
    section = html[html.index('id="answers"') :]
    assert "how often must I come in" in section
    assert "How often to come" in section and "91% confidence" in section
    assert "Marked unhelpful" in section
    assert "is it ok when pregnant" in section
    assert "Side effects and risks" in section and "31% confidence" in section
    assert "Low confidence" in section
    assert "where do I park" not in html  # confident, and it helped
    assert "that&#39;s not what I asked" not in html  # no FAQ answer before it
    assert "faq/frequency" not in section  # topics in words, never keys
    assert 'href="/staff/conversations/view?sender=said-no"' in section
    assert "2 of 2 still to check" in section


def test_the_threshold_is_a_setting(signed_in, chats, app):
    app.config["STAFF_SETTINGS"] = StaffSettings(timezone="UTC", review_confidence=0.3)
    html = signed_in.get(DASHBOARD).get_data(as_text=True)
    assert "is it ok when pregnant" not in html
    assert "how often must I come in" in html  # marked unhelpful, whatever its odds


def test_the_threshold_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("REVIEW_CONFIDENCE", "0.35")
    assert StaffSettings.from_env().review_confidence == 0.35
    monkeypatch.delenv("REVIEW_CONFIDENCE")
    assert StaffSettings.from_env().review_confidence == 0.5
    for wrong in ("2", "0", "half", "nan"):
        monkeypatch.setenv("REVIEW_CONFIDENCE", wrong)
        with pytest.raises(SettingsError, match="REVIEW_CONFIDENCE"):
            StaffSettings.from_env()


def test_staff_mark_an_answer_wrong_with_the_topic_it_should_be(
    signed_in, chats, db_session
):
    event = event_id(db_session, "said-no", "how often must I come in")
    response = review(signed_in, event, "wrong", "number_of_sessions")
    assert response.status_code == 303
    [saved] = db_session.scalars(select(AnswerReview)).all()
    assert (saved.event_id, saved.sender_id) == (event, "said-no")
    assert (saved.verdict, saved.topic, saved.reviewed_by) == (
        "wrong",
        "number_of_sessions",
        "ana",
    )
    html = signed_in.get(DASHBOARD).get_data(as_text=True)
    assert "Checked by ana: <strong>Wrong answer: should be How many sessions" in html
    assert "1 of 2 still to check" in html
    # A second verdict replaces the first.
    review(signed_in, event, "right")
    db_session.expire_all()
    [saved] = db_session.scalars(select(AnswerReview)).all()
    assert (saved.verdict, saved.topic) == ("right", None)


@pytest.mark.parametrize(
    "verdict, topic, message",
    [
        ("wrong", "", "Choose the topic"),
        ("wrong", "frequency", "That is the topic it answered"),
        ("wrong", "no_such_topic", "Not saved"),
        ("", "", "Not saved: choose what the answer was"),
        ("maybe", "", "Not saved"),
    ],
)
def test_a_verdict_that_cannot_be_used_is_not_saved(
    signed_in, chats, db_session, verdict, topic, message
):
    event = event_id(db_session, "said-no", "how often must I come in")
    response = review(signed_in, event, verdict, topic)
    assert response.status_code == 303
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page
    assert db_session.scalar(select(func.count()).select_from(AnswerReview)) == 0


@pytest.mark.parametrize(
    "event, status", [("x", 400), ("-1", 400), ("99999999999", 400), ("123456", 404)]
)
def test_a_message_that_is_not_a_listed_answer_is_refused(
    signed_in, chats, event, status
):
    assert review(signed_in, event, "right").status_code == status


@settings_
@given(event=any_text, verdict=any_text, topic=any_text, back=any_text)
def test_random_review_posts(signed_in, chats, event, verdict, topic, back):
    token = csrf_from(signed_in.get(DASHBOARD).get_data(as_text=True))
    data = {"event_id": event, "verdict": verdict, "topic": topic, "next": back}
    response = signed_in.post(
        "/staff/answers/review", data={"csrf_token": token, **data}
    )
    assert response.status_code in (303, 400, 404), data
    if response.status_code == 303:
        assert response.headers["Location"].startswith("/staff/")


def test_only_faq_answers_can_be_reviewed(signed_in, chats, db_session):
    greeting = event_id(db_session, "no-faq", "hello")
    assert review(signed_in, greeting, "right").status_code == 404


def test_the_form_needs_its_csrf_token_and_a_sign_in(app, signed_in, chats):
    data = {"event_id": "1", "verdict": "right"}
    assert signed_in.post("/staff/answers/review", data=data).status_code == 400
    anonymous = app.test_client()
    token = csrf_from(anonymous.get("/staff/login").get_data(as_text=True))
    response = anonymous.post(
        "/staff/answers/review", data={**data, "csrf_token": token}
    )
    assert response.status_code == 401
    assert anonymous.get(DASHBOARD).status_code == 302


def test_deleting_a_conversation_deletes_its_reviews(signed_in, chats, db_session):
    for sender, message in (
        ("said-no", "how often must I come in"),
        ("unsure", "is it ok when pregnant"),
    ):
        review(signed_in, event_id(db_session, sender, message), "not_ours")
    page = "/staff/conversations/view?sender=said-no"
    post_form(
        signed_in,
        page,
        "/staff/conversations/delete",
        {"sender": "said-no", "confirm": "DELETE"},
    )
    db_session.expire_all()
    assert db_session.scalars(select(AnswerReview.sender_id)).all() == ["unsure"]
    delete_conversation(db_session, ["unsure"])
    db_session.commit()
    assert db_session.scalars(select(AnswerReview)).all() == []


# ---- the export -------------------------------------------------------------


@pytest.fixture
def reviewed(signed_in, chats, db_session, database_url):
    """Three checked answers: wrong, right and not something we answer."""
    write_conversation(
        database_url,
        "dog",
        [
            *session_start(ts(NOW)),
            asked(
                "can I bring my dog [in](the car)", "clinic_location", 0.4, ts(NOW, 7)
            ),
        ],
    )
    for sender, message, verdict, topic in (
        ("said-no", "how often must I come in", "wrong", "number_of_sessions"),
        ("unsure", "is it ok when pregnant", "right", ""),
        ("dog", "can I bring my dog [in](the car)", "not_ours", ""),
    ):
        response = review(
            signed_in, event_id(db_session, sender, message), verdict, topic
        )
        assert response.status_code == 303
    return database_url


def read_back(path) -> Dict[str, List[str]]:
    """The examples of an NLU file, by label, as Rasa reads them."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().read(str(path))
    found: Dict[str, List[str]] = {}
    for message in data.intent_examples:
        label = message.get("intent_response_key") or message.get("intent")
        found.setdefault(label, []).append(message.get("text"))
        assert not message.get("entities")  # brackets are not read as entities
    return found


@pytest.fixture
def run_cli(use_database, capsys, monkeypatch):
    def run(*argv: str):
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def test_the_export_is_nlu_data_by_the_topic_staff_chose(reviewed, run_cli, tmp_path):
    out = tmp_path / "reviewed.yml"
    code, said = run_cli("export-reviewed", "--out", str(out))
    assert code == 0
    assert "Wrote 3 checked messages under 3 labels" in said
    assert "how often" not in said and "pregnant" not in said  # never printed
    body = out.read_text()
    assert body.startswith('version: "3.1"\nnlu:\n')
    assert read_back(out) == {
        "faq/number_of_sessions": ["how often must I come in"],
        "faq/side_effects": ["is it ok when pregnant"],
        "out_of_scope": ["can I bring my dog [in] (the car)"],
    }
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_the_export_goes_only_where_it_may(reviewed, run_cli, tmp_path):
    inside = PROJECT_ROOT / "data" / "nlu" / "reviewed.yml"
    code, said = run_cli("export-reviewed", "--out", str(inside))
    assert code == 1 and "not go into data/" in said
    assert not inside.exists()
    out = tmp_path / "there.yml"
    out.write_text("kept")
    code, said = run_cli("export-reviewed", "--out", str(out))
    assert code == 1 and "--force" in said and out.read_text() == "kept"
    assert run_cli("export-reviewed", "--out", str(out), "--force")[0] == 0
    assert "faq/number_of_sessions" in out.read_text()
    code, said = run_cli("export-reviewed", "--out", str(tmp_path / "no" / "x.yml"))
    assert code == 1 and "error:" in said


def test_nothing_reviewed_exports_an_empty_file(run_cli, tmp_path):
    out = tmp_path / "empty.yml"
    code, said = run_cli("export-reviewed", "--out", str(out))
    assert code == 0 and "Wrote 0 checked messages" in said
    assert read_back(out) == {}
