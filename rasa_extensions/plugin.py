"""The start-up hook: a Rasa plugin that installs the extensions.

Rasa 3.6 runs pluggy hooks from its CLI (rasa/plugin.py); its
`configure_commandline` hook gets the parsed command line just before the
command runs. For `rasa run` (the server; not `rasa run actions`), this
plugin:

- checks the rasa version (`rasa_extensions.check_rasa_version`);
- replaces the action-reply check (`response_schema.install`, process-wide);
- keeps each conversation's dialogue states between predictions
  (`history_cache.install`, process-wide);
- embeds concurrent conversations' messages in one batch
  (`nlu_batching.install`, process-wide);
- keeps rasa_sdk's list of the domain's slots between slot validations
  (`sdk_validation.install`, process-wide);
- adds `action_fallback.install` and `urgent_reminder.install` to the
  server's `server_listeners`, a parameter of Rasa's own
  `serve_application`, run after the server starts, when the agent is
  loaded.

`python -m rasa_extensions` registers it and then runs Rasa's CLI.
"""

from __future__ import annotations

import argparse
import logging
from typing import Optional, Text

import pluggy

logger = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa")

_installed = False


def installed() -> bool:
    """Whether the start-up hook ran in this process."""
    return _installed


def is_server_command(arguments: argparse.Namespace) -> bool:
    """`rasa run` (the Rasa server), not `rasa run actions` or another."""
    import rasa.cli.run

    return getattr(arguments, "func", None) is rasa.cli.run.run


def install_for_server(arguments: argparse.Namespace) -> None:
    """What the hook does for `rasa run` (see the module docstring)."""
    global _installed
    from rasa_extensions import (
        action_fallback,
        check_rasa_version,
        history_cache,
        nlu_batching,
        response_schema,
        sdk_validation,
        urgent_reminder,
    )

    check_rasa_version()
    response_schema.install()
    history_cache.install()
    nlu_batching.install()
    sdk_validation.install()
    listeners = list(getattr(arguments, "server_listeners", None) or [])
    listeners.append((action_fallback.install, "after_server_start"))
    listeners.append((urgent_reminder.install, "after_server_start"))
    arguments.server_listeners = listeners
    _installed = True
    logger.info("rasa_extensions installed")


@hookimpl
def configure_commandline(cmdline_arguments: argparse.Namespace) -> Optional[Text]:
    """Installs the extensions for `rasa run`; returns no endpoints file."""
    if is_server_command(cmdline_arguments):
        install_for_server(cmdline_arguments)
    return None
