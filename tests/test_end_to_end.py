"""End to end over Rasa's REST channel: real Rasa and action servers on a
throwaway database. A booking made over HTTP is found in the leads table,
linked to its full transcript in Rasa's tracker store (same database), and
the person's details never appear in either server's log."""

from __future__ import annotations

import json
import urllib.request
from typing import Dict, Iterator, List

import pytest
from sqlalchemy import create_engine, select

from db.models import Lead
from scripts.migrate import upgrade
from tests.conversation import (
    actions_command,
    assistant_env,
    booking_messages,
    free_port,
    rasa_command,
    start,
    stop,
    tracker_events,
    wait_until_up,
)

pytestmark = pytest.mark.slow

NAME, PHONE, CONCERN = "Quentin Zamora", "604 555 0166", "stiff upper back after a fall"


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory) -> Iterator[Dict[str, object]]:
    tmp = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{tmp / 'clinic.db'}"
    upgrade(database_url)
    actions_port, rasa_port = free_port(), free_port()
    env = assistant_env(database_url, actions_port)
    actions = start(actions_command(actions_port), env, tmp / "actions.log")
    rasa = start(rasa_command(trained_model, rasa_port), env, tmp / "rasa.log")
    try:
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/", rasa, timeout=300)
        yield {
            "url": f"http://127.0.0.1:{rasa_port}",
            "db": database_url,
            "logs": [tmp / "actions.log", tmp / "rasa.log"],
        }
    finally:
        stop(rasa)
        stop(actions)


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
        lead = conn.execute(select(Lead).where(Lead.sender_id == sender)).one()
        assert lead.reference in final
        assert (lead.name, lead.phone, lead.concern) == (NAME, "+16045550166", CONCERN)
        assert lead.channel == "rest"
    engine.dispose()
    events = tracker_events(stack["db"], sender)
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
