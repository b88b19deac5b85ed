"""End to end over Rasa's REST channel: real Rasa and action servers on a
throwaway database. A booking made over HTTP is found in the leads table,
linked to its full transcript in Rasa's tracker store (same database), and
the person's details never appear in either server's log."""

from __future__ import annotations

import json
import shutil
import urllib.request
from typing import Dict, Iterator, List

import pytest
from sqlalchemy import create_engine, select

from clinic.conversation_ids import rest_conversation_id
from clinic.profile import load_profile
from db.migrate import upgrade
from db.models import Lead
from tests.conftest import ROOT
from tests.conversation import booking_messages, tracker_events
from tests.servers import Servers, assistant_env, free_port

pytestmark = pytest.mark.slow

NAME, PHONE, CONCERN = "Quentin Zamora", "604 555 0166", "stiff upper back after a fall"


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory) -> Iterator[Dict[str, object]]:
    tmp = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{tmp / 'clinic.db'}"
    upgrade(database_url)
    # A copy of the sample profile, so a test can edit it as a clinic would.
    profile = tmp / "clinic_profile.yml"
    shutil.copy(ROOT / "clinic_profile.yml", profile)
    actions_port, rasa_port = free_port(), free_port()
    env = assistant_env(database_url, actions_port, CLINIC_PROFILE=str(profile))
    with Servers(tmp) as servers:
        servers.assistant(trained_model, env, actions_port, rasa_port)
        yield {
            "url": f"http://127.0.0.1:{rasa_port}",
            "db": database_url,
            "logs": [tmp / "actions.log", tmp / "rasa.log"],
            "profile": profile,
        }


def send(url: str, sender: str, message: str) -> List[dict]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        assert response.status == 200
        return json.loads(response.read())


def test_a_booking_over_rest_is_stored_with_its_transcript(stack):
    url, sender = stack["url"], "e2e-visitor-1"
    replies = []
    for message in [
        "hi",
        "how often do I need IMS?",
        *booking_messages(NAME, PHONE, CONCERN),
    ]:
        replies.append(send(url, sender, message))
    assert "week" in replies[1][0]["text"]
    final = replies[-1][0]["text"]
    assert "Your reference is IMS-" in final

    engine = create_engine(stack["db"], future=True)
    with engine.connect() as conn:
        lead = conn.execute(
            select(Lead).where(Lead.sender_id == rest_conversation_id(sender))
        ).one()
        assert lead.reference in final
        assert (lead.name, lead.phone, lead.concern) == (NAME, "+16045550166", CONCERN)
        assert lead.channel == "rest"
    engine.dispose()
    events = tracker_events(stack["db"], rest_conversation_id(sender))
    said = [d["text"] for t, d in events if t == "user"]
    answered = [d.get("text") for t, d in events if t == "bot"]
    assert said[:3] == [
        "hi",
        "how often do I need IMS?",
        "I'd like to book an assessment",
    ]
    assert NAME in said and said[-1] == "yes, send it"
    assert any(lead.reference in (a or "") for a in answered)


def test_personal_details_stay_out_of_the_logs(stack):
    send(stack["url"], "e2e-visitor-2", "hello")  # make sure logs were flushed
    for log in stack["logs"]:
        content = log.read_text(errors="replace")
        for private in (NAME, "555 0166", "5550166", CONCERN):
            assert private not in content, (log.name, private)


# Each clinic question of the catalogue, and the profile fields its answer
# must carry.
CLINIC_QUESTIONS = [
    ("When are you open on Saturday?", ["hours", "holiday_closures", "phone"]),
    (
        "What's your address, and is there parking?",
        ["address", "map_url", "parking", "transit", "accessibility"],
    ),
    ("What is the clinic's phone number?", ["phone", "email", "hours"]),
    (
        "How do I book, and is there a fee if I cancel?",
        ["booking_url", "phone", "cancellation_notice", "cancellation_fee"],
    ),
    ("Does ICBC cover it, and do you direct bill?", ["insurers", "direct_billing"]),
]


def reply_text(replies: List[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def test_clinic_questions_are_answered_from_the_profile(stack):
    profile = load_profile(stack["profile"])
    for question, fields in CLINIC_QUESTIONS:
        reply = reply_text(send(stack["url"], "clinic-facts", question))
        for field in fields:
            assert getattr(profile, field) in reply, (question, field, reply)
    referral = reply_text(send(stack["url"], "clinic-facts", "Do I need a referral?"))
    assert "don't need a doctor's referral" in referral  # referral_required: false


def test_an_edited_profile_changes_the_answer_without_retraining(stack):
    """The clinic edits its profile while a conversation is going: the next
    answer carries the new details; an emptied one reads "will confirm"."""
    path = stack["profile"]
    original = path.read_text(encoding="utf-8")
    sender = "profile-edit"
    first = reply_text(send(stack["url"], sender, "what are your opening hours?"))
    assert "Mon-Fri 8am-6pm" in first
    try:
        edited = original.replace("Mon-Fri 8am-6pm", "Mon-Thu 7am-7pm").replace(
            'holiday_closures: "closed on statutory holidays"', "holiday_closures:"
        )
        assert edited != original
        path.write_text(edited, encoding="utf-8")
        second = reply_text(send(stack["url"], sender, "what are your opening hours?"))
        assert "Mon-Thu 7am-7pm" in second and "Mon-Fri" not in second
        assert "the team will confirm (call +1 604 555 0123)" in second
    finally:
        path.write_text(original, encoding="utf-8")
