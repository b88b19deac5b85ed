"""Checks each action-server reply against Rasa's schema without re-checking
the schema itself every time.

Rasa 3.6's `RemoteAction._validate_action_result` calls
`jsonschema.validate(reply, schema)` for every reply from the action server.
That function first validates the *schema* against its meta-schema and
builds a new validator, and only then checks the reply. Our assistant calls
the action server on every turn (`action_validate_slot_mappings` runs after
each message), and py-spy put half of the Rasa server's CPU time in that
schema check (see docs/performance.md).

`install()` replaces the method with one that checks the schema once and
keeps the validator. Replies are checked exactly as before, and an invalid
reply raises the same `ValidationError` with Rasa's own explanation, so
Rasa's error handling is unchanged.

Upstream: not reported to Rasa as far as we found (searched 2026-12; the
closest, https://github.com/RasaHQ/rasa/issues/8235, is about slow action
calls in general). It replaces the private `_validate_action_result`, so
it is tied to the rasa version in rasa_extensions/__init__.py. Idempotent;
installed by the start-up hook (rasa_extensions/plugin.py).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Text


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """Drop-in for `RemoteAction._validate_action_result`."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        "For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = validate_action_result
