"""The start-up hook every entry point uses (rasa_extensions/plugin.py)."""

from __future__ import annotations

import functools
import logging

import pytest
import rasa.version
from rasa.__main__ import create_argument_parser
from rasa.core.actions.action import RemoteAction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa_sdk.forms import ValidationAction

import rasa_extensions
from rasa_extensions import (
    action_fallback,
    history_cache,
    nlu_batching,
    plugin,
    response_schema,
    sdk_validation,
    urgent_reminder,
)
from rasa_extensions.channel_guard import warn_without_start_up_hook


def parse(*argv):
    return create_argument_parser().parse_args(list(argv))


def test_the_installed_rasa_is_the_one_the_extensions_were_written_for():
    rasa_extensions.check_rasa_version()  # raises otherwise


def test_another_rasa_version_is_refused_with_what_to_do():
    with pytest.raises(rasa_extensions.WrongRasaVersion) as refused:
        rasa_extensions.check_rasa_version("3.6.22")
    message = str(refused.value)
    assert "3.6.21" in message and "3.6.22" in message
    assert "RASA_VERSION" in message


def test_rasa_run_gets_the_fallback_listener_and_the_reply_check(monkeypatch):
    monkeypatch.setattr(plugin, "_installed", False)
    arguments = parse("run", "--model", "models")
    assert plugin.configure_commandline(cmdline_arguments=arguments) is None
    assert (action_fallback.install, "after_server_start") in (
        arguments.server_listeners
    )
    assert (urgent_reminder.install, "after_server_start") in (
        arguments.server_listeners
    )
    assert RemoteAction._validate_action_result is (
        response_schema.validate_action_result
    )
    assert Domain.states_for_tracker_history is history_cache.states_for_tracker_history
    assert MessageProcessor.parse_message is nlu_batching.parse_message
    assert ValidationAction.global_slots is sdk_validation.global_slots
    assert plugin.installed()


def test_rasa_passes_the_listeners_to_its_own_server(monkeypatch):
    """`server_listeners` reaches `serve_application` through Rasa's CLI."""
    import rasa.core.run

    seen = {}
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    real = rasa.core.run.serve_application

    @functools.wraps(real)  # the same signature, which Rasa filters by
    def serve_application(*_, **kwargs):
        seen.update(kwargs)

    monkeypatch.setattr(rasa.core.run, "serve_application", serve_application)
    arguments = parse("run", "--model", "models", "--enable-api")
    plugin.configure_commandline(cmdline_arguments=arguments)
    import rasa.api

    rasa.api.run(**vars(arguments))
    assert (action_fallback.install, "after_server_start") in (seen["server_listeners"])


def test_other_commands_are_left_alone(monkeypatch):
    monkeypatch.setattr(plugin, "_installed", False)
    arguments = parse("run", "actions")
    plugin.configure_commandline(cmdline_arguments=arguments)
    assert not hasattr(arguments, "server_listeners")
    assert not plugin.installed()


def test_the_hook_refuses_another_rasa_version(monkeypatch):
    monkeypatch.setattr(rasa.version, "__version__", "3.7.0")
    with pytest.raises(rasa_extensions.WrongRasaVersion):
        plugin.configure_commandline(cmdline_arguments=parse("run"))


async def test_a_server_started_without_the_hook_says_so(monkeypatch, caplog):
    monkeypatch.setattr(plugin, "_installed", False)
    with caplog.at_level(logging.ERROR):
        await warn_without_start_up_hook()
    assert "python -m rasa_extensions run" in caplog.text
    caplog.clear()
    monkeypatch.setattr(plugin, "_installed", True)
    await warn_without_start_up_hook()
    assert caplog.text == ""
