"""The conversation id scheme (clinic/conversation_ids.py, #14)."""

import pytest

from clinic import conversation_ids as ids

SECRET = "a-test-secret"


def test_sms_and_whatsapp_share_the_numbers_conversation():
    assert ids.twilio_conversation_id("+16045550188") == "tel:+16045550188"
    assert ids.twilio_conversation_id("+16045550188", whatsapp=True) == (
        "tel:+16045550188"
    )


@pytest.mark.parametrize("number", ["6045550188", "+0123", "tel:+16045550188", ""])
def test_only_an_e164_number_makes_a_twilio_id(number):
    with pytest.raises(ValueError):
        ids.twilio_conversation_id(number)


@pytest.mark.parametrize(
    "conversation_id, number",
    [
        ("tel:+16045550188", "+16045550188"),
        ("+16045550188", None),  # a bare number proves nothing
        ("rest:+16045550188", None),
        ("rest:tel:+16045550188", None),
        ("web:tel:+16045550188", None),
        ("web:0123456789abcdef0123456789abcdef", None),
        ("tel:not-a-number", None),
        (None, None),
    ],
)
def test_number_of_reads_only_twilio_ids(conversation_id, number):
    assert ids.number_of(conversation_id) == number
    assert ids.is_twilio(conversation_id) is (number is not None)


def test_channel_of_and_rest_ids():
    assert ids.channel_of("tel:+16045550188") == "twilio"
    assert ids.channel_of(ids.rest_conversation_id("+16045550188")) == "rest"
    assert ids.channel_of("web:" + "0" * 32) == "web"
    assert ids.channel_of("+16045550188") is None


def test_a_number_is_deleted_under_its_new_and_old_ids():
    assert ids.conversation_ids_of_number("+16045550188") == [
        "tel:+16045550188",
        "+16045550188",
    ]


def test_a_signed_token_names_its_web_conversation():
    token = ids.issue_web_token(SECRET)
    conversation = ids.web_conversation_of(token, SECRET)
    assert conversation == "web:" + token.split(".")[0]
    assert ids.issue_web_token(SECRET) != token


@pytest.mark.parametrize(
    "forged",
    [
        "tel:+16045550188",
        "+16045550188",
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef." + "0" * 32,
        "web:0123456789abcdef0123456789abcdef",
        {"session_id": "x"},
        None,
        "",
    ],
)
def test_a_token_the_server_did_not_sign_names_nothing(forged):
    assert ids.web_conversation_of(forged, SECRET) is None


def test_a_token_signed_with_another_secret_names_nothing():
    token = ids.issue_web_token("another-secret")
    assert ids.web_conversation_of(token, SECRET) is None
    key, signature = ids.issue_web_token(SECRET).split(".")
    flipped = ("1" if signature[0] == "0" else "0") + signature[1:]
    assert ids.web_conversation_of(f"{key}.{flipped}", SECRET) is None
