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

Even with the validator kept, checking a reply was about an eighth of a
busy server's CPU (py-spy, docs/performance.md): each event is tried
against every event type's schema (a `oneOf`), and the in-process actions
send much the same few events every turn. Rasa's schema checks `events`
and `responses` item by item (an object whose two arrays' items each have
a schema, nothing else), so a reply is valid exactly when each of its
items is. The items of valid replies are remembered (`KEPT_ITEMS`, by
their exact value: only plain JSON values, keyed by a SHA-256 of their
`repr`, which tells 1 from 1.0 and True, and a list from a tuple, and keeps
no text a person typed in memory); a reply made only of
remembered items is valid without the check. Any other reply is checked
in full, so a rejection is still Rasa's, with its message.

Upstream: not reported to Rasa as far as we found (searched 2026-12; the
closest, https://github.com/RasaHQ/rasa/issues/8235, is about slow action
calls in general). It replaces the private `_validate_action_result`, so
it is tied to the rasa version in rasa_extensions/__init__.py. Idempotent;
installed by the start-up hook (rasa_extensions/plugin.py).
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Text


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


KEPT_ITEMS = 4096
ARRAYS = ("events", "responses")  # the schema's properties, each an array
_valid_items: OrderedDict[Text, None] = OrderedDict()


def _plain(value: Any) -> bool:
    """Only JSON's own types all the way down (so `repr` is faithful)."""
    if value is None or type(value) in (str, bool, int, float):
        return True
    if type(value) is list:
        return all(_plain(item) for item in value)
    if type(value) is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def _item_keys(result: Any) -> Optional[List[Text]]:
    """A key for each item of the reply's arrays, or None when the reply
    is not an object of plain arrays of plain items."""
    if type(result) is not dict:
        return None
    keys: List[Text] = []
    for name in ARRAYS:
        if name not in result:
            continue
        items = result[name]
        if type(items) is not list or not all(_plain(item) for item in items):
            return None
        keys += [_digest(f"{name}:{item!r}") for item in items]
    return keys


def _digest(text: Text) -> Text:
    """A fixed-size key for one reply item: items can hold what a person
    typed (the lead form's slots), which must not stay in this process's
    memory after the conversation is deleted, and can be long."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """Drop-in for `RemoteAction._validate_action_result`."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    keys = _item_keys(result)
    if keys is not None and all(key in _valid_items for key in keys):
        for key in keys:
            _valid_items.move_to_end(key)
        return True
    error = best_match(_validator().iter_errors(result))
    if error is None:
        for key in keys or []:
            _valid_items[key] = None
        while len(_valid_items) > KEPT_ITEMS:
            _valid_items.popitem(last=False)
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
