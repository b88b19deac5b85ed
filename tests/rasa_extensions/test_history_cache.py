"""The kept dialogue states (rasa_extensions/history_cache.py) equal Rasa's
own after every event: FAQ turns, a form with a correction, rewinds, a
restart and a new session; on the same tracker as it grows (the kept path)
and on a fresh copy of it (the replayed path)."""

from __future__ import annotations

from typing import Any, Iterator, List, Tuple

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_extensions import history_cache
from tests.conftest import assistant_domain
from tests.conversation import Chat, booking_messages

RASA_STATES = history_cache.rasa_states_for_tracker_history()
RASA_APPLIED = history_cache.rasa_applied_events()
RASA_RULE_STATES = history_cache.rasa_rule_prediction_states()
RASA_COPY = history_cache.rasa_copy()
RASA_POSSIBLE_KEYS = history_cache.rasa_possible_keys()


def rasa_states(
    domain: Domain, tracker: DialogueStateTracker, **flags: Any
) -> List[Any]:
    """Rasa's own states, with Rasa's own applied events under them."""
    installed = DialogueStateTracker.applied_events
    DialogueStateTracker.applied_events = RASA_APPLIED
    try:
        return RASA_STATES(domain, tracker, **flags)
    finally:
        DialogueStateTracker.applied_events = installed


FLAGS = [
    {},
    {
        "omit_unset_slots": True,
        "ignore_rule_only_turns": True,
        "rule_only_data": {"slots": ["faq_topic"], "active_loops": ["lead_form"]},
    },
]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return assistant_domain()


@pytest.fixture
def kept() -> Iterator[None]:
    was = Domain.states_for_tracker_history
    history_cache.install()
    history_cache.clear()
    assert RASA_STATES is not history_cache.states_for_tracker_history
    assert RASA_APPLIED is not history_cache.applied_events
    yield
    if was is RASA_STATES:
        history_cache.uninstall()
    history_cache.clear()


def said(text: str, intent: str) -> List[Event]:
    return [
        UserUttered(text, {"name": intent, "confidence": 0.9}),
    ]


def listen() -> Event:
    return ActionExecuted("action_listen")


def faq_turn(n: int) -> List[Event]:
    return [
        *said(f"question {n}", "faq"),
        SlotSet("faq_topic", "candidate" if n % 2 else "cost_coverage"),
        ActionExecuted("utter_faq"),
        BotUttered(f"answer {n}"),
        listen(),
    ]


def session_start() -> List[Event]:
    return [ActionExecuted("action_session_start"), SessionStarted(), listen()]


def conversation() -> List[Event]:
    form = ActionExecuted("lead_form")
    return [
        *session_start(),
        *said("hi", "greet"),
        ActionExecuted("utter_greet"),
        BotUttered("Hello"),
        listen(),
        *faq_turn(1),
        *faq_turn(2),
        # a form, with a correction in the middle and a rewind
        *said("I'd like to book", "book_assessment"),
        form,
        ActiveLoop("lead_form"),
        SlotSet("requested_slot", "lead_name"),
        listen(),
        *said("Ana Diaz", "greet"),
        ActionExecuted("lead_form"),
        SlotSet("lead_name", "Ana Diaz"),
        SlotSet("requested_slot", "lead_phone"),
        listen(),
        *said("what is IMS?", "faq"),
        ActionExecuted("lead_form"),
        ActionExecuted("utter_faq"),
        listen(),
        UserUtteranceReverted(),
        *said("604 555 0100", "deny"),
        ActionExecuted("lead_form"),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ActionExecuted("utter_lead_received"),
        listen(),
        *faq_turn(3),
        # a fallback that is reverted
        *said("blah", "out_of_scope"),
        ActionExecuted("action_default_fallback"),
        ActionReverted(),
        listen(),
        *faq_turn(4),
        *faq_turn(5),
        Restarted(),
        *session_start(),
        *faq_turn(6),
        *session_start(),
        *faq_turn(7),
        *faq_turn(8),
    ]


def states(domain: Domain, tracker: DialogueStateTracker, **flags: Any) -> List[Any]:
    return domain.states_for_tracker_history(tracker, **flags)


def test_equal_to_rasa_after_every_event(domain, kept):
    growing = DialogueStateTracker("growing", domain.slots)
    events = conversation()
    for n, event in enumerate(events, 1):
        growing.update(event, domain)
        fresh = DialogueStateTracker.from_events(f"fresh-{n}", events[:n], domain.slots)
        assert growing.applied_events() == RASA_APPLIED(growing), (n, event)
        assert fresh.applied_events() == RASA_APPLIED(fresh), (n, event)
        for flags in FLAGS:
            expected = rasa_states(domain, growing, **flags)
            assert states(domain, growing, **flags) == expected, (n, event, flags)
            assert states(domain, fresh, **flags) == expected, (n, event, flags)


def forty_turns_then_counted(
    domain: Domain, sender: str, monkeypatch
) -> Tuple[DialogueStateTracker, List[int]]:
    """A tracker of 40 FAQ turns whose states are kept, and a list that
    gets an item for every dialogue state computed from then on."""
    tracker = DialogueStateTracker(sender, domain.slots)
    for event in session_start() + [e for n in range(40) for e in faq_turn(n)]:
        tracker.update(event, domain)
    states(domain, tracker)
    computed: List[int] = []
    real = Domain.get_active_state
    monkeypatch.setattr(
        Domain,
        "get_active_state",
        lambda self, *a, **k: computed.append(1) or real(self, *a, **k),
    )
    return tracker, computed


def test_a_turn_after_the_first_computes_only_the_new_states(domain, kept, monkeypatch):
    tracker, computed = forty_turns_then_counted(domain, "long", monkeypatch)
    for event in faq_turn(41):
        tracker.update(event, domain)
    result = states(domain, tracker)
    # the new turn's two actions and the tracker after them, not all ~125
    assert len(computed) == 3
    monkeypatch.undo()
    assert result == rasa_states(domain, tracker)
    assert len(result) > 80


def test_the_kept_states_survive_what_a_featurizer_does_to_its_copy(domain, kept):
    tracker = DialogueStateTracker.from_events(
        "edit", conversation()[:20], domain.slots
    )
    first = states(domain, tracker)
    for state in first:
        for sub in state.values():
            sub.clear()
    assert states(domain, tracker) == rasa_states(domain, tracker)


def test_the_applied_events_are_a_copy_each_time(domain, kept):
    tracker = DialogueStateTracker.from_events(
        "copy", conversation()[:20], domain.slots
    )
    tracker.applied_events().clear()
    assert tracker.applied_events() == RASA_APPLIED(tracker) != []


def test_the_rule_policy_s_debug_line_is_formatted_only_for_debug(kept, caplog):
    from rasa.core.policies.policy import Policy

    states = [{"user": {"intent": "greet"}}, {"prev_action": {"action_name": "x"}}]
    assert Policy.format_tracker_states(states) == "2 states (shown at log level DEBUG)"
    with caplog.at_level("DEBUG", logger="rasa"):
        assert "user intent: greet" in Policy.format_tracker_states(states)


def test_a_new_domain_starts_again(domain, kept):
    tracker = DialogueStateTracker.from_events(
        "model", conversation()[:20], domain.slots
    )
    states(domain, tracker)
    other = assistant_domain()
    assert states(other, tracker) == rasa_states(other, tracker)


def rasa_prediction_states(
    policy: Any, tracker: Any, *args: Any, **kw: Any
) -> List[Any]:
    """Rasa's own RulePolicy states: every state, from Rasa's functions."""
    installed = Domain.states_for_tracker_history, DialogueStateTracker.applied_events
    Domain.states_for_tracker_history = RASA_STATES
    DialogueStateTracker.applied_events = RASA_APPLIED
    try:
        return RASA_RULE_STATES(policy, tracker, *args, **kw)
    finally:
        Domain.states_for_tracker_history = installed[0]
        DialogueStateTracker.applied_events = installed[1]


@pytest.mark.slow
async def test_a_real_conversation_sees_the_states_rasa_would(agent, kept, monkeypatch):
    """The trained assistant, a booking with a question and a correction in
    the middle of the form, then more questions: at every prediction, the
    rule policy's window of states is the end of Rasa's own states, the
    rules that window lets through are those Rasa's whole history lets
    through, and the kept states equal Rasa's."""
    from rasa.core.policies.rule_policy import (
        RULES,
        RULES_FOR_LOOP_UNHAPPY_PATH,
        RulePolicy,
    )

    compared: List[int] = []

    def checked(self: RulePolicy, tracker: Any, domain: Domain, *args: Any, **kw: Any):
        ours = history_cache.rule_policy_prediction_states(
            self, tracker, domain, *args, **kw
        )
        theirs = rasa_prediction_states(self, tracker, domain, *args, **kw)
        window = history_cache.rule_window(self)
        assert len(ours) == min(window, len(theirs)), tracker.sender_id
        assert ours == theirs[-window:], tracker.sender_id
        for lookup in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH):
            rules = self.lookup.get(lookup, {})
            assert self._get_possible_keys(rules, ours) == self._get_possible_keys(
                rules, theirs
            ), lookup
            # the indexed rule keys are Rasa's own, in Rasa's order (the
            # longest rule wins, the first of equal length)
            for states in (ours, theirs):
                assert list(history_cache.possible_rule_keys(self, rules, states)) == (
                    list(RASA_POSSIBLE_KEYS(self, rules, states))
                ), lookup
        assert domain.states_for_tracker_history(tracker) == rasa_states(
            domain, tracker
        )
        compared.append(len(theirs))
        return ours

    monkeypatch.setattr(RulePolicy, "_prediction_states", checked)
    booking = booking_messages("Ana Diaz", "604 555 0100", "sciatica down my leg")
    chat = Chat(agent)
    for message in [
        "hi",
        "what is IMS?",
        *booking[:3],
        "does IMS hurt?",
        *booking[3:-1],
        "change something",
        "phone number",
        "604 555 0101",
        "yes, send it",
        "how often do I need IMS?",
        "thanks",
        *[QUESTIONS[n % len(QUESTIONS)] for n in range(8)],
    ]:
        await chat.say(message)
    assert len(compared) >= 20, compared
    # the window cut the history short: longer histories were compared
    assert max(compared) > history_cache.rule_window(policy_of(agent)), compared


QUESTIONS = ("what is IMS?", "does IMS hurt?", "how much does a session cost?")


def policy_of(agent: Any) -> Any:
    """The loaded RulePolicy of an agent's graph."""
    from rasa.core.policies.rule_policy import RulePolicy

    runner = agent.processor.graph_runner
    for node in runner._instantiated_nodes.values():
        component = getattr(node, "_component", None)
        if isinstance(component, RulePolicy):
            return component
    raise AssertionError("no RulePolicy in the graph")


def snapshot(tracker: DialogueStateTracker) -> Any:
    """Everything a tracker holds, comparable with ==."""
    from rasa.shared.core.trackers import EventVerbosity

    held = {
        key: value
        for key, value in vars(tracker).items()
        if not key.startswith("_history_cache")
    }
    held["events"] = list(tracker.events)
    held["slots"] = {name: vars(slot) for name, slot in tracker.slots.items()}
    return held, tracker.current_state(EventVerbosity.ALL)


def test_a_copy_equals_rasas_after_every_event(domain, kept):
    from rasa.shared.core.events import FollowupAction

    tracker = DialogueStateTracker("copies", domain.slots)
    events = conversation()
    events.insert(12, FollowupAction("utter_greet"))
    for n, event in enumerate(events, 1):
        tracker.update(event, domain)
        if isinstance(event, FollowupAction):
            tracker.clear_followup_action()  # as the processor does: no event
        ours, theirs = tracker.copy(), RASA_COPY(tracker)
        assert snapshot(ours) == snapshot(theirs), (n, event)
        # a copy is the caller's own: what it does to one reaches no other
        ours.update(SlotSet("faq_topic", "changed"), domain)
        ours.update(ActionExecuted("utter_changed"), domain)
        assert snapshot(tracker.copy()) == snapshot(theirs), (n, event)
        assert snapshot(RASA_COPY(tracker)) == snapshot(theirs), (n, event)


def test_a_copy_replays_only_the_new_events(domain, kept, monkeypatch):
    tracker = DialogueStateTracker("long-copy", domain.slots)
    for event in session_start() + [e for n in range(40) for e in faq_turn(n)]:
        tracker.update(event, domain)
    tracker.copy()
    replayed: List[Event] = []
    real = DialogueStateTracker.update
    monkeypatch.setattr(
        DialogueStateTracker,
        "update",
        lambda self, event, *a: replayed.append(event) or real(self, event, *a),
    )
    new = faq_turn(41)
    for event in new:
        tracker.update(event, domain)
    replayed.clear()
    copied = tracker.copy()
    monkeypatch.undo()
    assert replayed == new  # not the ~160 events before them
    assert snapshot(copied) == snapshot(RASA_COPY(tracker))


def a_rule_policy(longest_rule: int) -> Any:
    """A RulePolicy with one rule of `longest_rule` states, as loaded."""
    import json

    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.core.policies.rule_policy import RULES, RulePolicy

    policy = RulePolicy.__new__(RulePolicy)
    rule = [{"prev_action": {"action_name": "action_listen"}}] * longest_rule
    policy.lookup = {RULES: {json.dumps(rule): "utter_greet"}}
    policy._Policy__featurizer = MaxHistoryTrackerFeaturizer(None, None)
    return policy


@pytest.mark.parametrize("use_text", [False, True])
def test_the_rule_policy_reads_a_window_of_rasas_states(domain, kept, use_text):
    policy = a_rule_policy(longest_rule=4)
    assert history_cache.rule_window(policy) == 5
    tracker = DialogueStateTracker("window", domain.slots)
    longest = 0
    for n, event in enumerate(conversation(), 1):
        tracker.update(event, domain)
        ours = policy._prediction_states(tracker, domain, use_text)
        theirs = rasa_prediction_states(policy, tracker, domain, use_text)
        assert ours == theirs[-5:], (n, event)
        assert len(ours) == min(5, len(theirs))
        longest = max(longest, len(theirs))
    assert longest > 10


def rules_of_every_kind() -> Any:
    """A RulePolicy whose rules end in every kind of state
    `_is_rule_applicable` reads differently: an action and an intent, an
    action only, a conversation start, `should_not_be_set`, an action's
    text, and longer rules over the same last state."""
    import json

    from rasa.core.policies.rule_policy import RULES

    listen = {"action_name": "action_listen"}
    ends = [
        {"prev_action": listen, "user": {"intent": "greet"}},
        {"prev_action": listen, "user": {"intent": "faq"}},
        {"prev_action": {"action_name": "utter_greet"}},
        {"user": {"intent": "greet"}},
        {},
        {"prev_action": {"action_name": "should_not_be_set"}},
        {"prev_action": listen, "user": {"intent": "should_not_be_set"}},
        {"prev_action": {"action_text": "Hello"}},
        {"prev_action": listen, "slots": {"handoff": (1.0,)}},
    ]
    rules = {}
    for n, end in enumerate(ends):
        rules[json.dumps([end])] = f"action_{n}"
        rules[json.dumps([{"prev_action": listen}, end])] = f"action_{n}_long"
    policy = a_rule_policy(longest_rule=1)
    policy.lookup = {RULES: rules}
    return policy


def test_indexed_rules_are_rasas_for_every_kind_of_state(monkeypatch) -> None:
    """`possible_rule_keys` returns Rasa's keys in Rasa's order for states
    of every kind, and checks fewer rules on the latest state than Rasa."""
    from rasa.core.policies.rule_policy import RULES, RulePolicy

    policy = rules_of_every_kind()
    rules = policy.lookup[RULES]
    listen = {"action_name": "action_listen"}
    latest_states = [
        {},
        {"user": {"intent": "greet"}},
        {"prev_action": listen},
        {"prev_action": listen, "user": {"intent": "greet"}},
        {"prev_action": listen, "user": {"intent": "faq"}},
        {"prev_action": listen, "user": {"text": "hi"}},
        {
            "prev_action": listen,
            "user": {"intent": "greet"},
            "slots": {"handoff": (1.0,)},
        },
        {"prev_action": {"action_name": "utter_greet"}},
        {"prev_action": {"action_text": "Hello"}},
    ]
    checks = {"ours": 0, "rasa": 0}
    counting = {"who": "rasa"}
    applicable = RulePolicy._is_rule_applicable

    def counted(self: Any, key: str, turn: int, state: Any) -> bool:
        if turn == 0:
            checks[counting["who"]] += 1
        return applicable(self, key, turn, state)

    monkeypatch.setattr(RulePolicy, "_is_rule_applicable", counted)
    for latest in latest_states:
        for earlier in ([], [{}], [{"prev_action": listen}]):
            states = [*earlier, latest]
            counting["who"] = "rasa"
            theirs = list(RASA_POSSIBLE_KEYS(policy, rules, states))
            counting["who"] = "ours"
            ours = list(history_cache.possible_rule_keys(policy, rules, states))
            assert ours == theirs, states
    no_states = history_cache.possible_rule_keys(policy, rules, [])
    assert list(no_states) == list(RASA_POSSIBLE_KEYS(policy, rules, []))
    assert no_states == set(rules)
    assert checks["ours"] < checks["rasa"], checks


def test_the_rule_index_follows_a_changed_lookup() -> None:
    """Rules added after a first prediction (as training adds them) are
    indexed too."""
    import json

    from rasa.core.policies.rule_policy import RULES

    policy = rules_of_every_kind()
    rules = policy.lookup[RULES]
    state = {"prev_action": {"action_name": "utter_new"}}
    assert history_cache.possible_rule_keys(policy, rules, [state]) == set(
        RASA_POSSIBLE_KEYS(policy, rules, [state])
    )
    new = json.dumps([{"prev_action": {"action_name": "utter_new"}}])
    rules[new] = "action_new"
    assert new in history_cache.possible_rule_keys(policy, rules, [state])


# --- the tracker each action call sends, and the slot validation's ---

RASA_CURRENT_STATE = history_cache.rasa_current_state()
RASA_VALIDATION = history_cache.rasa_validation_action()


def rasa_state(tracker: DialogueStateTracker) -> Any:
    from rasa.shared.core.trackers import EventVerbosity

    return RASA_CURRENT_STATE(tracker, EventVerbosity.ALL)


def sent_state(tracker: DialogueStateTracker) -> Any:
    """What an action call sends (`RemoteAction._action_call_format`)."""
    from rasa.shared.core.trackers import EventVerbosity

    return tracker.current_state(EventVerbosity.ALL)


def test_the_sent_tracker_equals_rasas_after_every_event(domain, kept):
    from rasa.shared.core.trackers import EventVerbosity

    tracker = DialogueStateTracker("sent", domain.slots)
    for n, event in enumerate(conversation(), 1):
        tracker.update(event, domain)
        ours = sent_state(tracker)
        assert ours == rasa_state(tracker), (n, event)
        assert list(ours) == list(rasa_state(tracker)), (n, event)  # key order
        copied = tracker.copy()  # shares the kept dicts
        assert sent_state(copied) == rasa_state(copied), (n, event)
        # a caller's changes to what it got reach nobody else
        for item in ours["events"]:
            item["event"] = "changed"
        assert sent_state(tracker) == rasa_state(tracker), (n, event)
        assert sent_state(copied) == rasa_state(copied), (n, event)
        for verbosity in (EventVerbosity.APPLIED, EventVerbosity.AFTER_RESTART):
            assert tracker.current_state(verbosity) == RASA_CURRENT_STATE(
                tracker, verbosity
            )


def test_a_copy_that_goes_another_way_is_sent_as_it_is(domain, kept):
    """A tracker and its copy share the kept dicts, for the events they
    share; each is sent with its own events."""
    tracker = DialogueStateTracker.from_events(
        "diverge", conversation()[:20], domain.slots
    )
    sent_state(tracker)
    copied = tracker.copy()
    for event in faq_turn(1) + faq_turn(2):
        copied.update(event, domain)
    assert sent_state(copied) == rasa_state(copied)
    for event in faq_turn(3) + faq_turn(4):
        tracker.update(event, domain)
    assert sent_state(tracker) == rasa_state(tracker)
    assert sent_state(copied) == rasa_state(copied)


def test_the_latest_user_message_is_sent_as_it_is_now(domain, kept):
    """Rasa changes the latest user message in place (entities added, its
    metadata): what is sent after that has the change."""
    from rasa.shared.core.events import EntitiesAdded

    tracker = DialogueStateTracker.from_events(
        "changed", conversation()[:20], domain.slots
    )
    for event in said("my knee hurts", "faq"):
        tracker.update(event, domain)
    sent_state(tracker)
    tracker.update(EntitiesAdded([{"entity": "condition", "value": "knee"}]))
    tracker.latest_message.metadata = {"changed": True}
    sent = sent_state(tracker)
    assert sent == rasa_state(tracker)
    assert sent["events"][-2]["metadata"] == {"changed": True}


def test_only_the_new_events_are_serialised(domain, kept, monkeypatch):
    tracker = DialogueStateTracker("long-sent", domain.slots)
    for event in session_start() + [e for n in range(40) for e in faq_turn(n)]:
        tracker.update(event, domain)
    sent_state(tracker)
    serialised: List[Event] = []
    for kind in (ActionExecuted, BotUttered, SlotSet, UserUttered):
        real = kind.as_dict
        monkeypatch.setattr(
            kind,
            "as_dict",
            lambda self, real=real: serialised.append(self) or real(self),
        )
    new = faq_turn(41)
    for event in new:
        tracker.update(event, domain)
    sent = sent_state(tracker.copy())
    monkeypatch.undo()
    # the previous turn, settled since, and the new one; not the ~200 before
    assert serialised == faq_turn_events(tracker, 2)
    assert sent == rasa_state(tracker)


def faq_turn_events(tracker: DialogueStateTracker, turns: int) -> List[Event]:
    """The last `turns` turns' events (each from its user message on)."""
    events = list(tracker.events)
    starts = [i for i, e in enumerate(events) if isinstance(e, UserUttered)]
    return events[starts[-turns] :]


def rasa_validation_tracker(
    tracker: DialogueStateTracker, slot_events: List[Event], domain: Domain
) -> DialogueStateTracker:
    """The tracker Rasa's `_execute_validation_action` builds."""
    return DialogueStateTracker.from_events(
        tracker.sender_id,
        tracker.events_after_latest_restart() + slot_events,
        slots=domain.slots,
    )


def test_the_validation_tracker_equals_rasas_rebuilt_one(domain, kept):
    tracker = DialogueStateTracker("validation", domain.slots)
    made = 0
    for n, event in enumerate(conversation(), 1):
        tracker.update(event, domain)
        extracted = [SlotSet("faq_topic", "candidate"), SlotSet("condition", None)]
        ours = history_cache.validation_tracker(tracker, extracted, domain)
        if any(isinstance(e, Restarted) for e in tracker.events):
            assert ours is None, (n, event)  # Rasa sends what follows it only
            continue
        theirs = rasa_validation_tracker(tracker, extracted, domain)
        assert snapshot(ours) == snapshot(theirs), (n, event)
        assert sent_state(ours) == rasa_state(theirs), (n, event)
        made += 1
    assert made > 40


def test_a_tracker_with_other_slots_is_rebuilt_as_rasa_does(domain, kept):
    events = conversation()[:20]
    for slots in (None, domain.slots[:-1], domain.slots[1:] + domain.slots[:1]):
        tracker = DialogueStateTracker.from_events("other-slots", events, slots)
        assert history_cache.validation_tracker(tracker, [], domain) is None


async def test_the_slot_validation_sends_and_returns_what_rasas_does(
    domain, kept, monkeypatch
):
    from rasa.core.actions.action import ActionExtractSlots

    sent: List[Any] = []

    async def validate(self, name, output_channel, nlg, tracker, domain):
        sent.append((name, rasa_state(tracker)))
        return [SlotSet("condition", None), BotUttered("that is not a condition")]

    monkeypatch.setattr(ActionExtractSlots, "_run_custom_action", validate)
    action = ActionExtractSlots(None)
    tracker = DialogueStateTracker.from_events(
        "validate", conversation()[:40], domain.slots
    )
    for event in said("sciatica down my leg", "faq"):
        tracker.update(event, domain)
    extracted = [
        SlotSet("condition", "sciatica"),
        BotUttered("from a mapping action"),
        SlotSet("faq_topic", "candidate"),
    ]
    ours = await history_cache.execute_validation_action(
        action, extracted, None, None, tracker, domain
    )
    theirs = await RASA_VALIDATION(action, extracted, None, None, tracker, domain)
    assert ours == theirs
    assert [e.key for e in ours if isinstance(e, SlotSet)] == ["condition", "faq_topic"]
    assert len(sent) == 2 and sent[0] == sent[1]
    assert sent[0][0] == "action_validate_slot_mappings"


@pytest.mark.slow
async def test_a_real_conversation_sends_the_trackers_rasa_would(
    agent, kept, monkeypatch
):
    """The trained assistant with its action server, a booking with a
    question in the middle of the form: every tracker an action call sends,
    and every slot validation's, is the one Rasa's own code would send."""
    checked: List[str] = []
    ours_current = DialogueStateTracker.current_state
    ours_validation = history_cache.validation_tracker

    def current_state(self: DialogueStateTracker, verbosity: Any = None) -> Any:
        state = ours_current(self, verbosity)
        if verbosity is not None and state.get("events") is not None:
            assert state == RASA_CURRENT_STATE(self, verbosity)
            checked.append("sent")
        return state

    def validation_tracker(tracker: Any, slot_events: Any, domain: Domain) -> Any:
        ours = ours_validation(tracker, slot_events, domain)
        assert ours is not None
        theirs = rasa_validation_tracker(tracker, slot_events, domain)
        assert snapshot(ours) == snapshot(theirs)
        checked.append("validation")
        return ours

    monkeypatch.setattr(DialogueStateTracker, "current_state", current_state)
    monkeypatch.setattr(history_cache, "validation_tracker", validation_tracker)
    booking = booking_messages("Ana Diaz", "604 555 0100", "sciatica down my leg")
    chat = Chat(agent)
    for message in ["hi", "what is IMS?", *booking[:4], "does IMS hurt?"]:
        await chat.say(message)
    for message in [*booking[4:], *QUESTIONS]:
        await chat.say(message)
    assert await chat.slot("condition") is None  # validated every turn
    # at least once a message (and the ones Rasa's code would send)
    assert checked.count("validation") >= 2 + len(booking) + 1 + len(QUESTIONS)
    assert checked.count("sent") > checked.count("validation")


def read_back(events: List[Event]) -> List[Event]:
    """Events as the tracker store reads another replica's rows: new
    objects, made from the stored dicts."""
    from rasa.shared.core.events import deserialise_events

    return deserialise_events([event.as_dict() for event in events])


def everything_equals_rasas(domain: Domain, tracker: DialogueStateTracker) -> None:
    """Every kept answer about `tracker` equals Rasa's own."""
    assert tracker.applied_events() == RASA_APPLIED(tracker)
    for flags in FLAGS:
        assert states(domain, tracker, **flags) == rasa_states(domain, tracker, **flags)
    assert snapshot(tracker.copy()) == snapshot(RASA_COPY(tracker))
    assert sent_state(tracker) == rasa_state(tracker)


@pytest.mark.parametrize("gained", [1, 5, 12])
def test_events_gained_unseen_are_taken_as_rasa_takes_them(domain, kept, gained):
    """The tracker store catches a kept tracker up with the turns another
    replica wrote (rasa_extensions/tracker_store.py): its events grow by
    several at once, read from the table, with none of the kept answers
    asked in between. After every such jump, through FAQ turns, the form,
    rewinds, a restart and new sessions, every answer equals Rasa's."""
    events = conversation()
    tracker = DialogueStateTracker("caught-up", domain.slots)
    for start in range(0, len(events), gained + 3):
        for event in events[start : start + 3]:  # this replica's own turn
            tracker.update(event, domain)
            everything_equals_rasas(domain, tracker)
        for event in read_back(events[start + 3 : start + 3 + gained]):
            tracker.update(event)  # as the store applies them: no domain
        everything_equals_rasas(domain, tracker)


def test_a_turn_gained_unseen_computes_only_its_states(domain, kept, monkeypatch):
    tracker, computed = forty_turns_then_counted(domain, "long-caught-up", monkeypatch)
    for event in read_back(faq_turn(41) + faq_turn(42)):
        tracker.update(event)
    result = states(domain, tracker)
    assert len(computed) == 5  # two turns' four actions, then the tracker after
    monkeypatch.undo()
    assert result == rasa_states(domain, tracker)
