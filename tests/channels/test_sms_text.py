"""Text handling of the SMS/WhatsApp channel: splitting, numbered buttons,
keywords, sender normalisation and the channel's settings."""

from __future__ import annotations

import os
import stat

import pytest
from rasa.shared.exceptions import RasaException

from channels import sms_text
from channels.sms_text import (
    MAX_MESSAGE,
    chosen_payload,
    clean_incoming,
    keyword,
    mask_phone,
    number_buttons,
    split_message,
    units,
)
from channels.twilio_channel import (
    Incoming,
    TwilioSettings,
    address,
    local_token,
)

YES_NO = [{"title": "Yes", "payload": "yes"}, {"title": "No", "payload": "/deny"}]


def sentences(count: int) -> str:
    return " ".join(f"This is sentence number {i} of the answer." for i in range(count))


def test_a_short_answer_is_one_message():
    assert split_message("  How often? Once a week.  ") == ["How often? Once a week."]
    assert split_message("") == []


@pytest.mark.parametrize("count", [40, 41, 150, 400])
def test_long_answers_split_at_sentence_ends_within_the_limit(count):
    text = sentences(count)
    parts = split_message(text)
    assert len(parts) > 1
    assert all(units(part) <= MAX_MESSAGE for part in parts)
    assert all(part.endswith("answer.") for part in parts)  # whole sentences
    assert " ".join(parts) == text  # nothing lost, in order


def test_a_sentence_longer_than_the_limit_is_split_between_words():
    text = ("word " * 700).strip() + "."
    parts = split_message(text)
    assert all(units(part) <= MAX_MESSAGE for part in parts)
    assert " ".join(parts) == text
    assert all(not part.startswith(" ") and "wor " not in part for part in parts)


def test_an_unbroken_string_is_cut_anywhere():
    parts = split_message("x" * 4000)
    assert [len(p) for p in parts] == [1600, 1600, 800]


def test_emoji_count_double_as_twilio_counts_them():
    parts = split_message("\U0001f600" * 1000)  # 2,000 UTF-16 units
    assert [units(p) for p in parts] == [1600, 400]


def test_titles_and_option_numbers_are_not_sentence_ends():
    text = "IMS was created by Dr. Chan Gunn. " * 60 + "\n\n1. Yes\n2. No"
    parts = split_message(text, limit=200)
    assert all(not part.endswith("Dr.") for part in parts)
    assert not any(part.endswith("\n1.") or part == "1." for part in parts)
    assert parts[-1].endswith("1. Yes\n2. No")


def test_buttons_become_numbered_options():
    assert number_buttons("Is this right?", YES_NO) == "Is this right?\n\n1. Yes\n2. No"
    assert number_buttons("Just text", []) == "Just text"


@pytest.mark.parametrize(
    "reply, payload",
    [
        ("1", "yes"),
        (" 2 ", "/deny"),
        ("2.", "/deny"),
        ("#1", "yes"),
        ("option 2", "/deny"),
        ("3", None),
        ("0", None),
        ("1 please call me", None),
        ("yes", None),
    ],
)
def test_a_number_picks_that_buttons_payload(reply, payload):
    assert chosen_payload(reply, YES_NO) == payload


@pytest.mark.parametrize(
    "text, medium, expected",
    [
        ("STOP", "sms", "stop"),
        ("stop.", "sms", "stop"),
        ("Unsubscribe", "whatsapp", "stop"),
        ("STOPALL", "sms", "stop"),
        ("cancel", "sms", "stop"),  # Twilio's own SMS opt-out keyword
        ("cancel", "whatsapp", None),  # an answer to the lead form there
        ("quit", "whatsapp", None),
        ("START", "sms", "start"),
        ("unstop", "whatsapp", "start"),
        ("yes", "sms", "start"),  # the channel acts on it only after STOP
        ("HELP", "sms", "help"),
        ("info?", "whatsapp", "help"),
        ("please stop sending me messages", "sms", None),
        ("help me book", "sms", None),
    ],
)
def test_keywords_are_whole_messages(text, medium, expected):
    assert keyword(text, medium) == expected


def test_typed_text_cannot_pose_as_an_intent_and_carrier_at_signs_are_fixed():
    assert clean_incoming('/request_human{"x": 1}') == 'request_human{"x": 1}'
    assert clean_incoming("anna¡example.org") == "anna@example.org"
    assert clean_incoming("¡Hola!") == "¡Hola!"


def test_numbers_are_masked_in_logs():
    assert mask_phone("+16045550123") == "+1********23"
    assert "5550123" not in mask_phone("+16045550123")


@pytest.mark.parametrize(
    "sender, medium",
    [
        ("+16045550123", "sms"),
        ("whatsapp:+16045550123", "whatsapp"),
        ("WhatsApp:+1 604-555-0123", "whatsapp"),
    ],
)
def test_senders_are_normalised_to_e164(sender, medium):
    params = {
        "From": [sender],
        "To": ["whatsapp:+16045550100"],
        "Body": [" hi "],
        "NumMedia": ["0"],
        "MessageSid": ["SM1"],
    }
    incoming = Incoming.from_params(params, "CA")
    assert (incoming.phone, incoming.medium, incoming.text) == (
        "+16045550123",
        medium,
        "hi",
    )
    assert incoming.to == "+16045550100"
    assert address(medium, incoming.phone).endswith("+16045550123")


def test_a_sender_that_is_no_phone_number_is_not_a_contact():
    assert Incoming.from_params({"From": ["whatsapp:clinic"]}, "CA") is None
    assert Incoming.from_params({}, "CA") is None


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWILIO_WHATSAPP_NUMBER", "whatsapp:+14155550100")
    monkeypatch.setenv("CLINIC_SMS_FROM", "+16045550100")
    monkeypatch.setenv("TWILIO_LOCAL_DIR", str(tmp_path))
    settings = TwilioSettings.from_credentials(
        {"sms_number": "env:CLINIC_SMS_FROM", "public_url": None}
    )
    assert not settings.live
    assert settings.sms_number == "+16045550100"
    assert settings.whatsapp_number == "+14155550100"
    assert settings.outbox_path == tmp_path / "twilio-outbox.jsonl"


def test_live_mode_needs_a_token_and_the_public_url(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("TWILIO_PUBLIC_URL", raising=False)
    with pytest.raises(RasaException, match="TWILIO_AUTH_TOKEN, TWILIO_PUBLIC_URL"):
        TwilioSettings.from_credentials({})
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    monkeypatch.setenv("TWILIO_PUBLIC_URL", "https://clinic.example.org")
    assert TwilioSettings.from_credentials({}).live


def test_unknown_settings_are_refused():
    with pytest.raises(RasaException, match="auth_tokn"):
        TwilioSettings.from_credentials({"auth_tokn": "x"})


@pytest.mark.parametrize(
    "public_url, path, query, expected",
    [
        (
            "https://clinic.example.org",
            "/webhooks/twilio/webhook",
            "",
            "https://clinic.example.org/webhooks/twilio/webhook",
        ),
        (
            "https://clinic.example.org/",
            "/webhooks/twilio/webhook",
            "a=1",
            "https://clinic.example.org/webhooks/twilio/webhook?a=1",
        ),
        (  # a proxy that mounts Rasa under /assistant: the full URL is given
            "https://clinic.example.org/assistant/webhooks/twilio/webhook",
            "/webhooks/twilio/webhook",
            "",
            "https://clinic.example.org/assistant/webhooks/twilio/webhook",
        ),
        (
            "",
            "/webhooks/twilio/webhook",
            "",
            "http://localhost:5005/webhooks/twilio/webhook",
        ),
    ],
)
def test_the_signed_url_is_the_configured_public_one(public_url, path, query, expected):
    settings = TwilioSettings(public_url=public_url)
    assert settings.webhook_url(path, query) == expected


def test_local_mode_makes_a_private_signing_token_once(tmp_path):
    settings = TwilioSettings(local_dir=tmp_path / "var")
    token = settings.signing_token()
    assert len(token) >= 32
    assert settings.signing_token() == token == local_token(settings.token_path)
    mode = stat.S_IMODE(os.stat(settings.token_path).st_mode)
    assert mode == 0o600
    assert TwilioSettings(auth_token="given", local_dir=tmp_path).signing_token() == (
        "given"
    )


def test_the_channels_own_replies_name_the_clinic():
    from clinic.profile import current_profile

    profile = current_profile()
    help_text = sms_text.help_text(profile)
    assert profile.phone in help_text and profile.email in help_text
    assert "STOP" in help_text and profile.emergency_number in help_text
    assert "START" in sms_text.stopped_text(profile)
    assert profile.phone in sms_text.media_text(profile)


def test_an_empty_local_token_file_is_refused_not_used(tmp_path):
    path = tmp_path / "twilio-local-token"
    path.write_text("\n")
    with pytest.raises(RasaException, match="empty"):
        local_token(path)
