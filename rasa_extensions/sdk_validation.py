"""rasa_sdk's slot validation, without recomputing the domain's slot list
for every slot.

`ValidationAction` (rasa_sdk 3.6, forms.py), the base of
`actions.slots.ValidateSlotMappings` which runs on every turn
(`action_validate_slot_mappings`), asks `domain_slots(domain)` once per
custom slot it extracts, and each call walks every slot of the domain and
its mappings again (`global_slots`): about 2,000 mapping checks a turn
with this domain, for a list that depends on the domain alone.

`install()` keeps the answer of `ValidationAction.global_slots` for the
domain it was computed from (the very same dict: the pure actions, run in
Rasa's process by rasa_extensions/action_fallback.py, get Rasa's one domain
dict on every call; a domain read from JSON by the action server is a new
dict each time and is computed afresh), and hands out a copy. Subclasses
that define their own `global_slots` or `domain_slots` (a form's
validation) are left alone. Installed by the start-up hook
(rasa_extensions/plugin.py); tied to the rasa_sdk that rasa 3.6.21 pins.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Text, Tuple

_original: Optional[Callable[[Any, Any], List[Text]]] = None
_last: Optional[Tuple[Any, Tuple[Any, ...], List[Text]]] = None


def _fingerprint(domain: Any) -> Tuple[Any, ...]:
    """What the answer depends on: each slot's name and mappings object."""
    slots = domain.get("slots", {}) if isinstance(domain, dict) else {}
    return tuple((name, id(value)) for name, value in slots.items())


def global_slots(self: Any, domain: Any) -> List[Text]:
    """Drop-in for `ValidationAction.global_slots` (module docstring)."""
    global _last
    assert _original is not None
    fingerprint = _fingerprint(domain)
    last = _last
    if last is not None and last[0] is domain and last[1] == fingerprint:
        return list(last[2])
    found = _original(self, domain)
    _last = (domain, fingerprint, list(found))
    return found


def rasa_sdk_global_slots() -> Callable[[Any, Any], List[Text]]:
    """rasa_sdk's own `ValidationAction.global_slots`, installed or not."""
    from rasa_sdk.forms import ValidationAction

    return _original or ValidationAction.global_slots


def install() -> None:
    global _original
    from rasa_sdk.forms import ValidationAction

    if _original is None:
        _original = ValidationAction.global_slots
    ValidationAction.global_slots = global_slots


def uninstall() -> None:
    global _last
    from rasa_sdk.forms import ValidationAction

    if _original is not None:
        ValidationAction.global_slots = _original
    _last = None
