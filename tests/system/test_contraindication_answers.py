"""A question that names one precaution (pregnancy, blood thinners, a
pacemaker, ...) gets that one first, not the whole contraindications list:
the trained assistant and a live action server together."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, read_yaml
from tests.conversation import Chat

pytestmark = pytest.mark.slow

VARIATIONS = read_yaml(ROOT / "data" / "responses" / "faq.yml")["responses"][
    "utter_faq/contraindications"
]
WHOLE_LIST = VARIATIONS[-1]["text"]


@pytest.mark.parametrize(
    "question, first",
    [
        ("I'm 20 weeks pregnant, can I have IMS?", "If you are pregnant, get the OK"),
        ("I take warfarin every day. Is IMS safe for me?", "Blood thinners, such as"),
        ("can I have IMS if I have a pacemaker?", "Tell the clinic about a pacemaker"),
        ("I have hepatitis C, can I still get IMS?", "If you have HIV or hepatitis"),
        (
            "is IMS ok if I have a bleeding disorder?",
            "A bleeding or clotting disorder",
        ),
    ],
)
async def test_the_precaution_named_comes_first(agent, question, first):
    chat = Chat(agent)
    reply = await chat.say(question)
    assert reply.startswith(first)
    assert len(reply) < len(WHOLE_LIST)
    assert "the clinic decides at an assessment" in reply
    # The next, general question gets the whole list again.
    assert await chat.say("Who should not have IMS?") == WHOLE_LIST


async def test_two_precautions_get_the_whole_list(agent):
    reply = await Chat(agent).say("I'm pregnant and on blood thinners, is IMS ok?")
    assert reply == WHOLE_LIST
