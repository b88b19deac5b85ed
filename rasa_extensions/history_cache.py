"""A long conversation's history, worked through once instead of on every
use: so a turn costs about the same at message 80 as at message 5.

Rasa 3.6 recomputes what a conversation's history means from its first
event several times in every turn (RasaHQ/rasa#3011 is the upstream issue
of long trackers, closed with sessions, which bound a tracker by time, not
by length). Seven of those computations grow with the conversation and are
made incremental, or bounded, here:

- `DialogueStateTracker.applied_events` (the history after rewinds,
  restarts and forms are folded in) is called by the session check, the
  serialisation for each action call, the policies and more. Each tracker
  keeps its last answer and extends it by the events added since.
- `Domain.states_for_tracker_history` (one dialogue state per action, what
  the policies read) replays the whole tracker for every prediction; the
  rule policy then looks only at the last few states (its rules are short)
  but has computed them all (about 10 ms a prediction at turn 100). Each
  conversation keeps the states computed so far and the replayed tracker
  they came from, and computes states for new events alone.
- `RulePolicy` formats every state as text for a debug log line on every
  prediction, whatever the log level; it is formatted only when debug
  logging is on.
- `RulePolicy._prediction_states` copies every state of the conversation,
  then strips and matches them all, for each of the two or three
  predictions of a turn, though a rule can only look as far back as it is
  long (`_is_rule_applicable` passes every rule at an older turn). At
  prediction time it now gets the last `rule_window` states (its longest
  rule plus one, so that "no rule applies" still has a key longer than any
  rule's), made as Rasa's featurizer makes them all; training keeps
  Rasa's own.
- `RulePolicy._get_possible_keys` tried every rule (about 120 here) against
  the latest state, for each of the two or three predictions of a turn.
  A rule whose last state names a previous action or an intent other than
  the conversation's cannot apply, so those are now passed over by an
  index (`possible_rule_keys`); every other rule is checked by Rasa's own
  `_is_rule_applicable`, in Rasa's order, so the same set comes back in
  the same order. Not a growth, but about a tenth of a turn's CPU outside
  NLU.
- `DialogueStateTracker.copy`, which the processor calls before every
  action of a turn, replays every event into a new tracker. Each tracker
  keeps its replay and feeds it only the events added since, then hands
  out an independent clone of it (the same state, its containers and
  slots copied; a direct change such as `clear_followup_action` is not
  an event and is left out, as Rasa's replay leaves it out).
- `DialogueStateTracker.current_state` with every event, the tracker each
  action call sends (`RemoteAction._action_call_format`, the in-process
  actions' included), turns every event of the conversation into a dict.
  A tracker keeps the dicts of its settled events (those before the
  latest user message, which Rasa can still change in place) and shares
  them with its copies; each call hands out copies of them (a fresh dict
  per event, as Rasa's `as_dict` makes, whose values are the event's own,
  as in Rasa's) and serialises the rest afresh. The kept dicts are used
  only for the very event objects they were made from.
- `ActionExtractSlots._execute_validation_action`, the slot-mapping
  validation that runs on every turn, rebuilds a tracker from every event
  of the session (`DialogueStateTracker.from_events`) to send it to
  `action_validate_slot_mappings`. Here it is the tracker's kept copy
  with the extracted slots applied: the same events, replayed from the
  same slots, so the same state; a conversation with a restart (Rasa
  sends only what follows it) or slots other than the domain's is still
  rebuilt as Rasa does.

The kept replay takes any new event, as Rasa's replay does, and starts
again when the tracker's earlier events are not the very objects it
replayed. The states and applied events are kept only while the new
events can only append to the history Rasa applies. Whatever could
rewrite it falls back to Rasa's own function, whose answer is kept for
next time:

- a restart or a new session (the applied history starts again),
- a rewind (`ActionReverted`, `UserUtteranceReverted`),
- any form event (`ActiveLoop`, or a form's action running: Rasa folds the
  turns of a form back to its previous run),
- events that are not the very objects seen before (a tracker read again
  from the database, from another replica, or a copy).

The answers are always equal to Rasa's (tests/rasa_extensions/
test_history_cache.py compares them after every event of conversations
with FAQ turns, a form, corrections, rewinds, a restart and new sessions,
and on every prediction, action call and slot validation of a real
conversation with the trained model).
Lists and states are copied out on every call, since callers edit what
they get (the featurizers delete keys of states; a state's sub-states can
be the replayed tracker's own). At most `MAX_CONVERSATIONS` conversations'
states are kept, least recently used first out.

It replaces four public methods, one static and three private methods
(`RulePolicy._prediction_states`, `RulePolicy._get_possible_keys`,
`ActionExtractSlots._execute_validation_action`), and replays with the
tracker's own `init_copy` and `update`, as Rasa does; tied to the rasa
version in rasa_extensions/__init__.py. Idempotent; installed by the
start-up hook (rasa_extensions/plugin.py); `uninstall()` puts Rasa's own
back (`make bench` measures both).
"""

from __future__ import annotations

import copy
import json
import logging
import operator
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

MAX_CONVERSATIONS = 256

State = Dict[Text, Dict[Text, Any]]


@dataclass
class _Kept:
    """How far one conversation's states were computed."""

    domain: Any
    events: List[Any]  # the tracker's events consumed, in order
    replay: Any  # the tracker replayed through `events`
    loop_names: frozenset  # every form named in `events`
    states: List[State] = field(default_factory=list)  # one per ActionExecuted
    last_ml_action: Optional[Dict[Text, Any]] = None
    turn_was_hidden: bool = False


_kept: OrderedDict[Tuple[Any, ...], _Kept] = OrderedDict()
_lock = threading.Lock()
_original: Optional[Callable[..., List[State]]] = None
_original_applied: Optional[Callable[[Any], List[Any]]] = None
_original_format: Optional[Callable[[List[Dict]], Text]] = None
_original_rule_states: Optional[Callable[..., List[State]]] = None
_original_copy: Optional[Callable[[Any], Any]] = None
_original_current_state: Optional[Callable[..., Dict[Text, Any]]] = None
_original_validation: Optional[Callable[..., Any]] = None
_original_possible_keys: Optional[Callable[..., Any]] = None


def _copy(state: State) -> State:
    # Featurizers delete keys of a state's sub-states (user text, intent).
    return {key: dict(sub) for key, sub in state.items()}


def _appends_only(events: List[Any], loop_names: frozenset) -> bool:
    """Whether `events` only extend the history Rasa applies."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
    )

    rewrites = (
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
    )
    for event in events:
        if isinstance(event, rewrites):
            return False
        if isinstance(event, ActionExecuted) and event.action_name in loop_names:
            return False
    return True


def _step(
    domain: Any,
    kept: _Kept,
    tracker: Any,
    hide_rule_turn: bool,
    ignore_rule_only_turns: bool,
    omit_unset_slots: bool,
    rule_only_data: Optional[Dict[Text, Any]],
) -> Optional[State]:
    """One pass of Rasa's loop in `states_for_tracker_history`, for the
    tracker before an action; the state, or None for a hidden turn."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    if ignore_rule_only_turns:
        if not kept.turn_was_hidden:
            kept.last_ml_action = domain._get_prev_action_sub_state(tracker)
        if (
            not tracker.followup_action
            and tracker.latest_action_name != tracker.active_loop_name
        ):
            kept.turn_was_hidden = hide_rule_turn
        if kept.turn_was_hidden:
            return None
    state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if kept.states:
            domain._substitute_rule_only_user_input(state, kept.states[-1])
        if kept.last_ml_action:
            state[PREVIOUS_ACTION] = kept.last_ml_action
    return domain._clean_state(state)


def states_for_tracker_history(
    self: Any,
    tracker: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[State]:
    """Drop-in for `Domain.states_for_tracker_history` (module docstring)."""
    return last_states(
        self, tracker, None, omit_unset_slots, ignore_rule_only_turns, rule_only_data
    )


def last_states(
    domain: Any,
    tracker: Any,
    count: Optional[int],
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[State]:
    """The last `count` (None: all) of what Rasa's
    `Domain.states_for_tracker_history` returns, copied: a caller that
    reads only the last few states gets them without copying the rest."""
    from rasa.shared.core.events import ActionExecuted, ActiveLoop

    assert _original is not None
    self = domain
    if tracker.is_rule_tracker or tracker._max_event_history:
        # training data, or a tracker that forgets its first events
        everything = _original(
            self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
        return everything if count is None else everything[-count:]
    key = (
        tracker.sender_id,
        omit_unset_slots,
        ignore_rule_only_turns,
        repr(rule_only_data),
    )
    with _lock:
        kept = _kept.pop(key, None)
    events = tracker.events
    new: List[Any] = []
    if kept is not None:
        done = len(kept.events)
        if (
            kept.domain is self
            and len(events) >= done
            and all(map(operator.is_, kept.events, events))  # C speed
        ):
            new = list(islice(events, done, None))
            if not _appends_only(new, kept.loop_names):
                kept = None
        else:
            kept = None
    if kept is None:
        # From the start, over the history Rasa applies (its own fold of
        # sessions, rewinds and forms), exactly as Rasa's loop does.
        kept = _Kept(
            domain=self,
            events=list(events),
            replay=tracker.init_copy(),
            loop_names=frozenset(
                e.name for e in events if isinstance(e, ActiveLoop) and e.name
            ),
        )
        new = tracker.applied_events()
    else:
        kept.events.extend(new)
    for event in new:
        if isinstance(event, ActionExecuted):
            state = _step(
                self,
                kept,
                kept.replay,
                event.hide_rule_turn,
                ignore_rule_only_turns,
                omit_unset_slots,
                rule_only_data,
            )
            if state is not None:
                kept.states.append(state)
        kept.replay.update(event)
    # Rasa's last pass, over the tracker after its last event: never kept.
    final = _Kept(
        domain=self,
        events=[],
        replay=None,
        loop_names=kept.loop_names,
        states=kept.states[-1:],
        last_ml_action=kept.last_ml_action,
        turn_was_hidden=kept.turn_was_hidden,
    )
    last = _step(
        self,
        final,
        kept.replay,
        False,
        ignore_rule_only_turns,
        omit_unset_slots,
        rule_only_data,
    )
    # The last state's sub-states can be the replayed tracker's own
    # (latest_action): copied like the others.
    tail = [last] if last is not None else []
    if count is None:
        wanted = kept.states + tail
    elif count > 0:
        wanted = (kept.states[-count:] + tail)[-count:]
    else:
        wanted = []
    result = [_copy(state) for state in wanted]
    with _lock:
        _kept[key] = kept
        while len(_kept) > MAX_CONVERSATIONS:
            _kept.popitem(last=False)
    return result


def clear() -> None:
    """Forgets every kept conversation (tests; a new model's domain is a new
    object, so its conversations start again by themselves)."""
    with _lock:
        _kept.clear()


@dataclass
class _Applied:
    """A tracker's applied events, as of its first `count` events."""

    events: Any  # the tracker's event deque these were read from
    count: int
    last: Any  # its event number `count`, to see it is the same history
    applied: List[Any]
    loop_names: frozenset


def applied_events(self: Any) -> List[Any]:
    """Drop-in for `DialogueStateTracker.applied_events` (module docstring)."""
    from rasa.shared.core.events import ActiveLoop

    assert _original_applied is not None
    events = self.events
    count = len(events)
    memo: Optional[_Applied] = self.__dict__.get("_history_cache_applied")
    if (
        memo is not None
        and memo.events is events
        and memo.count <= count
        and (memo.count == 0 or events[memo.count - 1] is memo.last)
    ):
        new = [events[i] for i in range(memo.count, count)]
        if _appends_only(new, memo.loop_names):
            memo.applied.extend(new)
            memo.count = count
            memo.last = events[-1] if count else None
            return list(memo.applied)
    applied = _original_applied(self)
    self.__dict__["_history_cache_applied"] = _Applied(
        events=events,
        count=count,
        last=events[-1] if count else None,
        applied=list(applied),
        loop_names=frozenset(
            e.name for e in events if isinstance(e, ActiveLoop) and e.name
        ),
    )
    return applied


@dataclass
class _Replayed:
    """A tracker replayed through another's first `count` events."""

    events: Any  # the tracker's event deque these were read from
    count: int
    last: Any  # its event number `count`, to see it is the same history
    replay: Any
    restarted: bool = False  # whether a `Restarted` is among those events


def _clone(replayed: Any) -> Any:
    """An independent tracker in the same state as `replayed` (what a
    replay of its events makes), sharing the event objects as a replay
    does: its containers are copied, every slot too."""
    clone = copy.copy(replayed)
    for name in (
        "_history_cache_applied",
        "_history_cache_replay",
        "_history_cache_dicts",
    ):
        clone.__dict__.pop(name, None)
    clone.events = deque(replayed.events, maxlen=replayed.events.maxlen)
    slots = type(replayed.slots)()
    for key, slot in replayed.slots.items():
        # copy.copy(slot), without its __reduce_ex__ round trip (a slot is a
        # plain object; its value is shared with the event, as in a replay)
        twin = object.__new__(type(slot))
        twin.__dict__.update(slot.__dict__)
        slots[key] = twin
    clone.slots = slots
    if replayed.latest_action is not None:
        clone.latest_action = dict(replayed.latest_action)
    if replayed.active_loop is not None:
        clone.active_loop = copy.copy(replayed.active_loop)
    return clone


def _replayed(self: Any) -> _Replayed:
    """The tracker's kept replay, fed the events added since."""
    from rasa.shared.core.events import Restarted

    events = self.events
    count = len(events)
    memo: Optional[_Replayed] = self.__dict__.get("_history_cache_replay")
    if not (
        memo is not None
        and memo.events is events
        and memo.count <= count
        and (memo.count == 0 or events[memo.count - 1] is memo.last)
    ):
        memo = _Replayed(events=events, count=0, last=None, replay=self.init_copy())
    for index in range(memo.count, count):
        # Rasa's own replay (travel_back_in_time), one event at a time
        event = events[index]
        memo.replay.update(event)
        memo.restarted = memo.restarted or isinstance(event, Restarted)
    memo.count = count
    memo.last = events[-1] if count else None
    self.__dict__["_history_cache_replay"] = memo
    return memo


def copy_tracker(self: Any) -> Any:
    """Drop-in for `DialogueStateTracker.copy` (module docstring): Rasa
    replays every event into a new tracker, before each action of a turn;
    here each tracker keeps its replay and feeds it the new events only.
    The copy shares the tracker's kept event dicts (`serialised_events`)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    assert _original_copy is not None
    if type(self) is not DialogueStateTracker or self._max_event_history:
        return _original_copy(self)
    clone = _clone(_replayed(self).replay)
    clone.__dict__["_history_cache_dicts"] = _dicts_memo(self)
    return clone


@dataclass
class _Dicts:
    """The dicts of a tracker's settled events: `dicts[i]` is what
    `events[i].as_dict()` made. Shared by a tracker and its copies, and
    used for a tracker's events only where they are these very objects."""

    events: List[Any] = field(default_factory=list)
    dicts: List[Dict[Text, Any]] = field(default_factory=list)


def _dicts_memo(tracker: Any) -> _Dicts:
    memo: Optional[_Dicts] = tracker.__dict__.get("_history_cache_dicts")
    if memo is None:
        memo = tracker.__dict__["_history_cache_dicts"] = _Dicts()
    return memo


def serialised_events(tracker: Any) -> List[Dict[Text, Any]]:
    """`[event.as_dict() for event in tracker.events]`, as Rasa's
    `current_state` makes it, with the settled events' dicts kept (module
    docstring): each is handed out as a copy, so a caller that changes one
    changes nobody else's; the latest user message, which Rasa changes in
    place (entities added, its metadata), and what follows it are
    serialised afresh every time."""
    from rasa.shared.core.events import UserUttered

    events = tracker.events
    count = len(events)
    memo = _dicts_memo(tracker)
    known = len(memo.events)
    if known > count or not all(map(operator.is_, memo.events, events)):
        known = 0  # another history: nothing kept applies
    settled = count  # up to the latest user message (one turn's walk back)
    for back, event in enumerate(reversed(events)):
        if isinstance(event, UserUttered):
            settled = count - 1 - back
            break
    if settled < known:  # never kept beyond the latest user message
        memo = tracker.__dict__["_history_cache_dicts"] = _Dicts(
            memo.events[:settled], memo.dicts[:settled]
        )
    elif known < len(memo.events):  # a new history for this tracker
        memo = tracker.__dict__["_history_cache_dicts"] = _Dicts(
            memo.events[:known], memo.dicts[:known]
        )
    new = list(islice(events, len(memo.events), settled))
    memo.dicts.extend(event.as_dict() for event in new)
    memo.events.extend(new)
    result = list(map(dict, memo.dicts))
    result.extend(event.as_dict() for event in islice(events, settled, None))
    return result


def current_state(self: Any, event_verbosity: Any = None) -> Dict[Text, Any]:
    """Drop-in for `DialogueStateTracker.current_state` (module docstring):
    with every event (`EventVerbosity.ALL`), its events from
    `serialised_events`; Rasa's own for any other verbosity."""
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

    assert _original_current_state is not None
    if event_verbosity is None:
        event_verbosity = EventVerbosity.NONE
    if event_verbosity != EventVerbosity.ALL or type(self) is not DialogueStateTracker:
        return _original_current_state(self, event_verbosity)
    state = _original_current_state(self, EventVerbosity.NONE)
    state["events"] = serialised_events(self)  # in its place: the key is there
    return state


def _slots_of_domain(tracker: Any, domain: Any) -> bool:
    """Whether a replay of the tracker gives the slot values a tracker made
    with `domain.slots` would: the same slots, in order, of the same types
    and initial values."""
    slots = tracker.slots
    if type(slots) is not dict or len(slots) != len(domain.slots):
        return False
    return all(
        ours.name == theirs.name
        and type(ours) is type(theirs)
        and ours.initial_value == theirs.initial_value
        for ours, theirs in zip(slots.values(), domain.slots, strict=True)
    )


def validation_tracker(tracker: Any, slot_events: List[Any], domain: Any) -> Any:
    """What Rasa's `_execute_validation_action` sends to
    `action_validate_slot_mappings`, `DialogueStateTracker.from_events(
    tracker.sender_id, tracker.events_after_latest_restart() + slot_events,
    slots=domain.slots)`, made from the tracker's kept copy; None where it
    must be rebuilt as Rasa does (module docstring)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    if (
        type(tracker) is not DialogueStateTracker
        or tracker._max_event_history
        or not _slots_of_domain(tracker, domain)
    ):
        return None
    if _replayed(tracker).restarted:
        return None
    validation = tracker.copy()
    for event in slot_events:
        validation.update(event)
    return validation


async def execute_validation_action(
    self: Any,
    extraction_events: List[Any],
    output_channel: Any,
    nlg: Any,
    tracker: Any,
    domain: Any,
) -> List[Any]:
    """Drop-in for `ActionExtractSlots._execute_validation_action` (module
    docstring): Rasa's, with the tracker sent made by `validation_tracker`."""
    from rasa.shared.core.constants import ACTION_VALIDATE_SLOT_MAPPINGS
    from rasa.shared.core.events import SlotSet

    assert _original_validation is not None
    slot_events = [event for event in extraction_events if isinstance(event, SlotSet)]
    if ACTION_VALIDATE_SLOT_MAPPINGS not in domain.user_actions:
        return await _original_validation(
            self, extraction_events, output_channel, nlg, tracker, domain
        )
    validation = validation_tracker(tracker, slot_events, domain)
    if validation is None:
        return await _original_validation(
            self, extraction_events, output_channel, nlg, tracker, domain
        )
    rasa_logger = logging.getLogger("rasa.core.actions.action")
    if rasa_logger.isEnabledFor(logging.DEBUG):
        candidates = "\n".join([event.key for event in slot_events])
        rasa_logger.debug(f"Validating extracted slots: {candidates}")
    validate_events = await self._run_custom_action(
        ACTION_VALIDATE_SLOT_MAPPINGS, output_channel, nlg, validation, domain
    )
    validated = [event.key for event in validate_events if isinstance(event, SlotSet)]
    # As Rasa: an extracted slot the action does not set again was valid.
    return validate_events + [
        event for event in slot_events if event.key not in validated
    ]


def format_tracker_states(states: List[Dict]) -> Text:
    """Drop-in for `Policy.format_tracker_states`, used by `RulePolicy` only
    for a debug log line: formatted only when it would be logged."""
    import logging

    assert _original_format is not None
    if logging.getLogger("rasa").isEnabledFor(logging.DEBUG):
        return _original_format(states)
    return f"{len(states)} states (shown at log level DEBUG)"


def rule_window(policy: Any) -> int:
    """How many of the latest states can decide a `RulePolicy` prediction:
    one more than its longest rule (`_is_rule_applicable` passes every rule
    at a turn further back than the rule is long), so that a window's key
    for the "no rule applies" case is still longer than any rule's, as the
    whole history's is. Computed once per loaded policy."""
    from rasa.core.policies.rule_policy import (
        RULES,
        RULES_FOR_LOOP_UNHAPPY_PATH,
        RULES_NOT_IN_STORIES,
    )

    lookup = policy.lookup
    memo = policy.__dict__.get("_history_cache_window")
    if memo is not None and memo[0] is lookup:
        return int(memo[1])
    keys = [*lookup.get(RULES, {}), *lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH, {})]
    keys += list(lookup.get(RULES_NOT_IN_STORIES, []))
    longest = 0
    for key in keys:
        try:
            states = json.loads(key)
        except (TypeError, ValueError):  # a default or loop rule's name
            continue
        if isinstance(states, list):
            longest = max(longest, len(states))
    policy.__dict__["_history_cache_window"] = (lookup, longest + 1)
    return longest + 1


_ANY = object()  # a rule state that names no previous action or intent


def _rule_signature(rule_key: Text) -> Tuple[Any, Any]:
    """(previous action name, intent) that a rule's last state requires of
    the latest conversation state, `_ANY` where it requires none that can
    rule it out (as `_is_rule_applicable` reads the state: a rule state
    with no previous action is a conversation start and matches another;
    `should_not_be_set` and lists are left to Rasa's check)."""
    from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET, USER
    from rasa.shared.nlu.constants import ACTION_NAME, INTENT

    try:
        states = json.loads(rule_key)
        last = states[-1]
        previous = last.get(PREVIOUS_ACTION)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError):
        return _ANY, _ANY
    if not previous:
        return _ANY, _ANY

    def required(value: Any) -> Any:
        if isinstance(value, str) and value and value != SHOULD_NOT_BE_SET:
            return value
        return _ANY

    user = last.get(USER) or {}
    return required(previous.get(ACTION_NAME)), required(user.get(INTENT))


def _rule_index(
    policy: Any, lookup: Dict[Text, Any], keys: set
) -> Dict[Tuple[Any, Any], frozenset]:
    """The policy's rule keys grouped by `_rule_signature`, for `lookup`
    as it is now (rebuilt when its keys change, as in training)."""
    memo = policy.__dict__.setdefault("_history_cache_rule_index", {})
    kept = memo.get(id(lookup))
    if kept is not None and kept[0] is lookup and kept[1] == keys:
        return kept[2]
    groups: Dict[Tuple[Any, Any], set] = {}
    for key in keys:
        groups.setdefault(_rule_signature(key), set()).add(key)
    index = {signature: frozenset(found) for signature, found in groups.items()}
    memo[id(lookup)] = (lookup, frozenset(keys), index)
    return index


def possible_rule_keys(self: Any, lookup: Dict[Text, Any], states: List[State]) -> set:
    """Drop-in for `RulePolicy._get_possible_keys` (module docstring)."""
    from rasa.shared.core.constants import PREVIOUS_ACTION, USER
    from rasa.shared.nlu.constants import ACTION_NAME, INTENT

    possible_keys = set(lookup.keys())
    if not states:
        return possible_keys
    index = _rule_index(self, lookup, possible_keys)
    latest = states[-1]
    previous = latest.get(PREVIOUS_ACTION) or {}
    intent = (latest.get(USER) or {}).get(INTENT)
    action = previous.get(ACTION_NAME)
    candidates: set = set()
    for signature in ((action, intent), (action, _ANY), (_ANY, intent), (_ANY, _ANY)):
        candidates |= index.get(signature, frozenset())
    # Rasa's own loop, with the first turn's check skipped for the rules the
    # index rules out; the same keys pass, inserted in the same order.
    for i, state in enumerate(reversed(states)):
        possible_keys = {
            key
            for key in possible_keys
            if (i > 0 or key in candidates) and self._is_rule_applicable(key, i, state)
        }
    return possible_keys


def rasa_possible_keys() -> Callable[..., Any]:
    """Rasa's own `RulePolicy._get_possible_keys`, installed or not."""
    from rasa.core.policies.rule_policy import RulePolicy

    return _original_possible_keys or RulePolicy._get_possible_keys


def rule_policy_prediction_states(
    self: Any,
    tracker: Any,
    domain: Any,
    use_text_for_last_user_input: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[State]:
    """Drop-in for `RulePolicy._prediction_states` (module docstring): the
    last `rule_window` states, made as Rasa's MaxHistoryTrackerFeaturizer
    makes all of them, at prediction time; Rasa's own in training."""
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.core.policies.policy import SupportedData
    from rasa.shared.core.trackers import DialogueStateTracker

    assert _original_rule_states is not None
    featurizer = self.featurizer
    if (
        type(tracker) is not DialogueStateTracker  # training's trackers
        or type(featurizer) is not MaxHistoryTrackerFeaturizer
        or featurizer.max_history
    ):
        return _original_rule_states(
            self, tracker, domain, use_text_for_last_user_input, rule_only_data
        )
    states = last_states(
        domain,
        tracker,
        rule_window(self),
        omit_unset_slots=False,
        ignore_rule_only_turns=self.supported_data() == SupportedData.ML_DATA,
        rule_only_data=rule_only_data,
    )
    featurizer._choose_last_user_input([states], use_text_for_last_user_input)
    return states


def rasa_rule_prediction_states() -> Callable[..., List[State]]:
    """Rasa's own `RulePolicy._prediction_states`, installed or not."""
    from rasa.core.policies.rule_policy import RulePolicy

    return _original_rule_states or RulePolicy._prediction_states


def rasa_copy() -> Callable[[Any], Any]:
    """Rasa's own `DialogueStateTracker.copy`, installed or not."""
    from rasa.shared.core.trackers import DialogueStateTracker

    return _original_copy or DialogueStateTracker.copy


def rasa_current_state() -> Callable[..., Dict[Text, Any]]:
    """Rasa's own `DialogueStateTracker.current_state`, installed or not."""
    from rasa.shared.core.trackers import DialogueStateTracker

    return _original_current_state or DialogueStateTracker.current_state


def rasa_validation_action() -> Callable[..., Any]:
    """Rasa's own `ActionExtractSlots._execute_validation_action`."""
    from rasa.core.actions.action import ActionExtractSlots

    return _original_validation or ActionExtractSlots._execute_validation_action


def rasa_applied_events() -> Callable[[Any], List[Any]]:
    """Rasa's own `applied_events`, installed or not (for comparisons)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    return _original_applied or DialogueStateTracker.applied_events


def rasa_states_for_tracker_history() -> Callable[..., List[State]]:
    """Rasa's own function, installed or not (for comparisons)."""
    from rasa.shared.core.domain import Domain

    return _original or Domain.states_for_tracker_history


def install() -> None:
    global _original, _original_applied, _original_format
    global _original_rule_states, _original_copy
    global _original_current_state, _original_validation, _original_possible_keys
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    if _original is None:
        _original = Domain.states_for_tracker_history
        _original_applied = DialogueStateTracker.applied_events
        _original_format = Policy.format_tracker_states
        _original_rule_states = RulePolicy._prediction_states
        _original_copy = DialogueStateTracker.copy
        _original_current_state = DialogueStateTracker.current_state
        _original_validation = ActionExtractSlots._execute_validation_action
        _original_possible_keys = RulePolicy._get_possible_keys
    Domain.states_for_tracker_history = states_for_tracker_history
    DialogueStateTracker.applied_events = applied_events
    Policy.format_tracker_states = staticmethod(format_tracker_states)
    RulePolicy._prediction_states = rule_policy_prediction_states
    RulePolicy._get_possible_keys = possible_rule_keys
    DialogueStateTracker.copy = copy_tracker
    DialogueStateTracker.current_state = current_state
    ActionExtractSlots._execute_validation_action = execute_validation_action


def uninstall() -> None:
    """Rasa's own function back (`make bench` measures both)."""
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    if _original is not None:
        assert _original_applied is not None and _original_format is not None
        assert _original_rule_states is not None and _original_copy is not None
        assert _original_current_state is not None
        assert _original_validation is not None
        assert _original_possible_keys is not None
        Domain.states_for_tracker_history = _original
        DialogueStateTracker.applied_events = _original_applied
        Policy.format_tracker_states = staticmethod(_original_format)
        RulePolicy._prediction_states = _original_rule_states
        DialogueStateTracker.copy = _original_copy
        DialogueStateTracker.current_state = _original_current_state
        ActionExtractSlots._execute_validation_action = _original_validation
        RulePolicy._get_possible_keys = _original_possible_keys
    clear()
