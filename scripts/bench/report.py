"""Targets, and the benchmark's results as JSON, a Markdown table and a chart.

Everything here works on the plain results dictionary that `__main__`
assembles, so it can be checked on made-up figures (tests/scripts/test_bench.py).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from scripts.evaluate import ROOT, TARGETS, TEST_SETS

GIB = 1024**3
# The systems compared on the held-out NLU test sets, in table order.
SYSTEMS = {
    "project": "this project (config.yml)",
    "rasa_default": "Rasa default pipeline",
    "baseline": "TF-IDF + logistic regression",
}
# The test sets (scripts/evaluate.py's TEST_SETS), as tables name them.
SET_LABELS = {
    "written": "written test set",
    "real": "real questions",
    "real2": "real questions, 2nd set",
}
# `score`'s figures in the with / without table: key, label, how shown.
SCORED = (
    ("overall_accuracy", "accuracy", "share"),
    ("faq_topic_accuracy", "FAQ topic accuracy", "share"),
    ("other_intent_accuracy", "other intents", "share"),
    ("out_of_scope_recall", "out-of-scope recall", "share"),
    ("in_scope_fallback_rate", "in-scope messages sent to fallback", "share"),
    ("red_flag_recall", "red-flag recall", "share"),
    ("red_flag_false_alarms", "red-flag false alarms", "count"),
)


@dataclass(frozen=True)
class Target:
    """One target; `passed` is None when its figure was not measured."""

    name: str
    value: Optional[float]
    limit: float
    unit: str
    comparison: str  # "<=" or ">"
    passed: Optional[bool]

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "MISS", None: "n/a"}[self.passed]


def percentiles(values: List[float], points=(50, 95, 99)) -> Dict[str, float]:
    """{"p50": ..., ...} of `values` (linear interpolation); empty when none."""
    if not values:
        return {}
    found = np.percentile(np.asarray(values, dtype=float), points)
    return {f"p{p}": round(float(v), 2) for p, v in zip(points, found, strict=True)}


def level(results: Dict[str, Any], concurrency: int, mode: str) -> Dict[str, Any]:
    """The end-to-end figures at one concurrency and mode, or {}."""
    for row in results.get("e2e", {}).get("levels", []):
        if row["concurrency"] == concurrency and row["mode"] == mode:
            return row
    return {}


def _target(name, value, limit, unit, comparison="<=") -> Target:
    if value is None:
        passed = None
    elif comparison == "<=":
        passed = value <= limit
    elif comparison == ">=":
        passed = value >= limit
    else:
        passed = value > limit
    return Target(name, value, limit, unit, comparison, passed)


# The capacity targets (scripts/bench/capacity.py): twice the 19
# messages/s measured before it, two replicas 1.8 times one process, and
# no memory growth per conversation.
CAPACITY_LIMIT = 2 * 19.0
SCALED_LIMIT = 1.8
MEMORY_LIMIT = 1.10


def capacity_targets(results: Dict[str, Any]) -> List[Target]:
    """The part `capacity`'s targets; each n/a when it was not measured."""
    found = results.get("capacity") or {}
    one = found.get("sixteen_by_forty") or {}
    p95 = (one.get("faq_latency_ms") or {}).get("p95")
    on = f", {found['database']}" if found.get("database") else ""
    shown = "n/a" if p95 is None else f"{p95:.0f} ms"
    targets = [
        _target(
            f"messages/s of one Rasa process, 16 conversations of 40 turns back "
            f"to back{on} (FAQ turn p95 {shown})",
            one.get("throughput_per_s"),
            CAPACITY_LIMIT,
            "/s",
            ">=",
        )
    ]
    scaled = found.get("scaled") or {}
    scaled_p95 = (scaled.get("faq_latency_ms") or {}).get("p95")
    why = found.get("scaled_missing")
    detail = (
        f"not measured: {why}"
        if why
        else "FAQ turn p95 " + ("n/a" if scaled_p95 is None else f"{scaled_p95:.0f} ms")
    )
    whole = found.get("scaled_ratio_whole_run")
    if whole is not None and not why:
        detail += f"; whole run {whole} x"
    targets.append(
        _target(
            f"make run-scaled (2 replicas) over one process, same load, while "
            f"all 16 conversations are under way ({detail})",
            found.get("scaled_ratio"),
            SCALED_LIMIT,
            "x",
            ">=",
        )
    )
    memory = found.get("memory") or {}
    targets.append(
        _target(
            f"Rasa server peak RSS until {memory.get('conversations', 1000)} "
            f"conversations over its RSS after {memory.get('first', 10)}",
            memory.get("ratio"),
            MEMORY_LIMIT,
            "x",
        )
    )
    return targets


# The part `handoff` (scripts/bench/handoff.py, #15): an FAQ turn after a
# live chat costs at most this much more than one in a conversation that
# never had one (the median of each; the rest is noise on a shared machine),
# and sends no more SQL statements or action-server calls.
HANDOFF_LIMIT = 1.10


def handoff_targets(results: Dict[str, Any]) -> List[Target]:
    """The part `handoff`'s targets, for each database it measured."""
    targets = []
    for kind, run in (results.get("handoff") or {}).items():
        turns = (run.get("after") or {}).get("faq_turns", "n/a")
        extra = run.get("extra_per_faq_turn") or {}
        on_tables = extra.get("live_chat_sql_statements")
        more = "n/a" if on_tables is None else f"{on_tables:g}"
        after = f"FAQ turn after a live chat over one without ({turns} each, {kind})"
        targets += [
            _target(
                f"median CPU per {after}",
                run.get("cpu_ratio"),
                HANDOFF_LIMIT,
                "x",
            ),
            _target(
                f"median latency per {after}",
                run.get("latency_ratio"),
                HANDOFF_LIMIT,
                "x",
            ),
            _target(
                f"SQL statements per FAQ turn after a live chat less without "
                f"({more} more on the live-chat tables), {kind}",
                extra.get("sql_statements"),
                0,
                "",
            ),
            _target(
                f"action-server calls per FAQ turn after a live chat less "
                f"without, {kind}",
                extra.get("action_server_calls"),
                0,
                "",
            ),
        ]
    return targets


def evaluate_targets(results: Dict[str, Any]) -> List[Target]:
    """The issue's targets, checked against the measured figures: latency
    both paced (people who read and type) and back to back (a stress run,
    which on 2 cores cannot meet them: latency = 16 / throughput there)."""
    targets = []
    for mode, label in (("paced", "paced"), ("back_to_back", "back to back")):
        latency = level(results, 16, mode).get("faq_latency_ms", {})
        for point, limit in (("p50", 100), ("p95", 250)):
            name = f"FAQ turn {point}, 16 conversations, {label}"
            targets.append(_target(name, latency.get(point), limit, "ms"))
    errors = None
    if results.get("e2e", {}).get("levels"):
        errors = sum(row["errors"] for row in results["e2e"]["levels"])
    targets.append(_target("errors (all levels)", errors, 0, ""))
    rasa_rss = results.get("rss", {}).get("rasa_peak_bytes")
    targets.append(
        _target(
            "Rasa server peak RSS",
            None if rasa_rss is None else round(rasa_rss / GIB, 3),
            1.5,
            "GiB",
        )
    )
    for kind, runs in turns_runs(results).items():
        kept = runs.get("kept", {})
        by_ten = kept.get("latency_by_ten") or []
        ratio = None
        if len(by_ten) >= 2 and by_ten[0]["p50"]:
            ratio = round(by_ten[-1]["p50"] / by_ten[0]["p50"], 2)
        targets.append(
            _target(
                f"last 10 turns' p50 over first 10 turns' p50, one "
                f"{kept.get('turns', 80)}-turn conversation, {kind}",
                ratio,
                1.25,
                "x",
            )
        )
        outside = kept.get("cpu_outside_nlu_by_ten") or []
        for row in outside[:1] + outside[-1:] if len(outside) >= 2 else []:
            targets.append(
                _target(
                    f"CPU per FAQ turn outside NLU, turns {row['turns']}, {kind}",
                    row["p50"],
                    10,
                    "ms",
                )
            )
    targets += handoff_targets(results)
    targets += capacity_targets(results)
    nlu = results.get("nlu", {})
    for test_set in TEST_SETS:
        ours = nlu.get("project", {}).get(test_set, {}).get("overall_accuracy")
        for other in ("rasa_default", "baseline"):
            theirs = nlu.get(other, {}).get(test_set, {}).get("overall_accuracy")
            value = ours if theirs is not None else None
            name = f"NLU accuracy above the {SYSTEMS[other]}, {set_label(test_set)}"
            targets.append(_target(name, value, theirs or 0.0, "", ">"))
    return targets


def set_label(test_set: str) -> str:
    """How tables name a test set."""
    return SET_LABELS.get(test_set, test_set)


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}{(' ' + unit) if unit else ''}"
    return f"{value}{(' ' + unit) if unit else ''}"


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _mib(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value / 1024**2:.0f} MiB"


def markdown(results: Dict[str, Any], targets: List[Target]) -> str:
    """The results as Markdown tables (what docs/performance.md's figures come from)."""
    meta = results.get("meta", {})
    machine = meta.get("machine", {})
    lines = [
        "# `make bench` results",
        "",
        f"Run {meta.get('date', 'n/a')} on {machine.get('cpu', 'n/a')}, "
        f"{machine.get('cores', 'n/a')} cores, "
        f"{machine.get('memory_gib', 'n/a')} GiB RAM, Python "
        f"{machine.get('python', 'n/a')}, Rasa {machine.get('rasa', 'n/a')}; "
        f"mode: {meta.get('mode', 'n/a')}; database: {meta.get('database', 'n/a')}.",
        "",
    ]
    for note in meta.get("notes", []):
        lines.append(f"- {note}")
    if meta.get("notes"):
        lines.append("")

    lines += ["## Targets", "", "| target | measured | limit | result |"]
    lines.append("| --- | --- | --- | --- |")
    for t in targets:
        value = "n/a" if t.value is None else f"{t.value:g} {t.unit}".strip()
        lines.append(
            f"| {t.name} | {value} | {t.comparison} {t.limit:g} {t.unit} "
            f"| {t.verdict} |".replace("  |", " |")
        )

    capacity_rows = capacity_table(results)
    if capacity_rows:
        lines += ["", "## Capacity and memory", "", *capacity_rows]
    lines += turns_table(results)
    profile_rows = turns_profile_table(results)
    if profile_rows:
        lines += ["", "## Where a turn's time goes, by its number", "", *profile_rows]
    handoff_rows = handoff_table(results)
    if handoff_rows:
        lines += ["", "## An FAQ turn after a live chat", "", *handoff_rows]
    training = results.get("training", {})
    project = training.get("project", {})
    startup = results.get("startup", {})
    lines += [
        "",
        "## Model",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| training time (`rasa train`, NLU and dialogue) "
        f"| {_fmt(project.get('seconds'), 's')} |",
        f"| model archive size | {_mib(project.get('archive_bytes'))} |",
        f"| model load time in process (`Agent.load`) "
        f"| {_fmt(startup.get('agent_load_seconds'), 's', 2)} |",
        f"| `rasa run` start until it answers HTTP "
        f"| {_fmt(startup.get('server_start_seconds'), 's')} |",
        f"| action server start until /health "
        f"| {_fmt(startup.get('action_server_start_seconds'), 's')} |",
    ]

    lines += nlu_tables(results)
    lines += sentence_table(results)

    e2e = results.get("e2e", {})
    lines += [
        "",
        "## End to end: an FAQ turn over `POST /webhooks/rest/webhook`",
        "",
        f"Paced: each person waits {e2e.get('think_s', 'n/a')} s on average "
        "(half to one and a half times that) after a reply. Back to back: no "
        f"wait (a stress run). {e2e.get('duration_per_level_s', 'n/a')} s per "
        "row, after a warm-up.",
        "",
        "| load | conversations | FAQ turns | p50 | p95 | p99 "
        "| throughput (messages/s) | errors | CPU per message: Rasa, actions |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in e2e.get("levels", []):
        latency = row.get("faq_latency_ms", {})
        cpu = row.get("cpu_ms_per_message", {})
        mode = row["mode"].replace("_", " ")
        lines.append(
            f"| {mode} | {row['concurrency']} | {row.get('faq_turns', 'n/a')} "
            f"| {_fmt(latency.get('p50'), 'ms')} | {_fmt(latency.get('p95'), 'ms')} "
            f"| {_fmt(latency.get('p99'), 'ms')} "
            f"| {_fmt(row.get('throughput_per_s'))} | {row.get('errors', 'n/a')} "
            f"| {_fmt(cpu.get('rasa'), 'ms')}, {_fmt(cpu.get('actions'), 'ms')} |"
        )
    profile_rows = profile_table(results)
    if profile_rows:
        lines += ["", *profile_rows]
    rss = results.get("rss", {})
    lines += [
        "",
        "| peak RSS (process and children, sampled every "
        f"{rss.get('interval_s', 'n/a')} s) | value |",
        "| --- | --- |",
        f"| Rasa server | {_mib(rss.get('rasa_peak_bytes'))} |",
        f"| action server | {_mib(rss.get('actions_peak_bytes'))} |",
        "",
    ]
    return "\n".join(lines)


def profile_table(results: Dict[str, Any]) -> List[str]:
    """Where the Rasa server's time goes under load (py-spy, the load part's
    top back-to-back level, scripts/bench/profile.py)."""
    profiled = results.get("profile") or {}
    if not profiled.get("stages"):
        return []
    lines = [
        f"Where the Rasa server's time goes (py-spy, {profiled['samples']} "
        f"samples during {profiled.get('during', 'n/a')}):",
        "",
        "| stage of a turn | share of samples |",
        "| --- | --- |",
    ]
    return lines + [f"| {r['stage']} | {r['share']:.0%} |" for r in profiled["stages"]]


def _percent(share: Optional[float]) -> str:
    return "n/a" if share is None else f"{share * 100:.0f}%"


def capacity_table(results: Dict[str, Any]) -> List[str]:
    """The part `capacity` (scripts/bench/capacity.py): 16 conversations of
    40 turns back to back on one process and on two replicas, and the Rasa
    server's memory over many conversations."""
    found = results.get("capacity") or {}
    rows = [
        ("one Rasa process", found.get("sixteen_by_forty")),
        ("make run-scaled (2 replicas behind nginx)", found.get("scaled")),
    ]
    rows = [(name, run) for name, run in rows if run]
    if not rows:
        return []
    database = DATABASE_NAMES.get(found.get("database"), found.get("database"))
    lines = [
        f"16 conversations of a greeting and 40 FAQ questions each, back to "
        f"back, over REST, {database}:",
        "",
        "| server | messages | seconds | messages/s | messages/s while all 16 "
        "are under way | FAQ turn p50 | FAQ turn p95 "
        "| errors | Rasa CPU per message | machine's CPU busy |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, run in rows:
        latency = run.get("faq_latency_ms") or {}
        lines.append(
            f"| {name} | {run['messages']} | {_fmt(run.get('seconds'), 's')} "
            f"| {_fmt(run.get('throughput_per_s'))} "
            f"| {_fmt(run.get('all_under_way_per_s'))} "
            f"| {_fmt(latency.get('p50'), 'ms')} | {_fmt(latency.get('p95'), 'ms')} "
            f"| {run.get('errors', 'n/a')} "
            f"| {_fmt(run.get('cpu_ms_per_message'), 'ms')} "
            f"| {_percent(run.get('machine_busy'))} |"
        )
    lines += [
        "",
        "Machine's CPU busy: all cores, every process (the load client and "
        "the database too), during the run; 100% leaves a second replica "
        "nothing to run on. Rasa CPU per message: both replicas' together "
        "for make run-scaled. While all 16 are under way: up to the first "
        "conversation's end; nginx keeps a conversation on one replica, so 16 "
        "can split unevenly (10 and 6, say), and the replica given fewer then "
        "waits while the other finishes (the target's ratio is of these rates).",
    ]
    ends = (found.get("scaled") or {}).get("ended_at_s")
    if ends:
        lines += [
            "",
            "Seconds from the start at which each make run-scaled conversation "
            "ended: " + ", ".join(f"{t:g}" for t in ends) + ".",
        ]
    lines += cpu_by_process_table(rows)
    if found.get("scaled_missing"):
        lines += ["", f"make run-scaled not measured: {found['scaled_missing']}."]
    memory = found.get("memory") or {}
    if memory:
        lines += [
            "",
            f"The Rasa server's RSS (with its children) after the first "
            f"{memory['first']} conversations of a greeting and one FAQ question "
            f"(16 at a time, back to back): "
            f"{_mib(memory.get('rss_after_first_bytes'))}; its peak until "
            f"{memory['conversations']} had ended: "
            f"{_mib(memory.get('peak_rss_after_all_bytes'))} "
            f"({_fmt(memory.get('ratio'), 'x', 3)}).",
        ]
    return lines


CPU_KINDS = [
    "Rasa",
    "action servers",
    "nginx",
    "Redis",
    "PostgreSQL",
    "web app and notification worker",
    "load client",
    "rest of the machine",
]


def cpu_by_process_table(rows: List[Any]) -> List[str]:
    """CPU per message by kind of process for each 16 x 40 run that has it
    (scripts/bench/capacity.py, `cpu_by_process`)."""
    rows = [
        (name, run["cpu_by_process"]) for name, run in rows if run.get("cpu_by_process")
    ]
    if not rows:
        return []
    kinds = [k for k in CPU_KINDS if any(k in cpu for _, cpu in rows)]
    kinds += sorted({k for _, cpu in rows for k in cpu} - set(kinds))
    lines = [
        "",
        "CPU time per message by process during the same runs (ms; from /proc, "
        "before and after each run; the rest of the machine is every core's "
        "busy time less these, other work on the machine included):",
        "",
        "| process | " + " | ".join(name for name, _ in rows) + " |",
        "| --- |" + " --- |" * len(rows),
    ]
    for kind in kinds:
        lines.append(
            f"| {kind} | "
            + " | ".join(_fmt(cpu.get(kind), "ms", 2) for _, cpu in rows)
            + " |"
        )
    lines.append(
        "| all but the rest of the machine | "
        + " | ".join(
            _fmt(sum(v for k, v in cpu.items() if k != "rest of the machine"), "ms", 2)
            for _, cpu in rows
        )
        + " |"
    )
    return lines


def turns_runs(results: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The part `turns` by database: {"sqlite": {"kept": .., "replayed": ..}}
    (a bench.json from before PostgreSQL was measured too holds one pair)."""
    runs = results.get("turns") or {}
    if "kept" in runs:
        return {"sqlite": runs}
    return runs


DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def turns_table(results: Dict[str, Any]) -> List[str]:
    """A turn's cost by its number (scripts/bench/turns.py), both runs, for
    each database measured."""
    lines: List[str] = []
    for kind, runs in turns_runs(results).items():
        kept, replayed = runs.get("kept"), runs.get("replayed")
        if not kept or not replayed:
            continue
        lines += [
            "",
            f"## A turn's cost by its number (one conversation of {kept['turns']} "
            f"FAQ turns, in process, {DATABASE_NAMES.get(kind, kind)})",
            "",
            "Median of each ten turns. Replayed: as Rasa does by itself, the "
            "tracker read from the table and the session replayed on every turn "
            "(`cache_size: 0`) and the policies' states computed from the first "
            "event on every prediction; kept: the tracker kept between turns and "
            "each conversation's states kept between predictions (the default). "
            "CPU outside NLU: the turn's CPU time less that of parsing the message.",
            "",
            "| turns | latency, replayed | latency, kept | CPU, replayed | CPU, kept "
            "| CPU outside NLU, replayed | CPU outside NLU, kept |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        none = [{"p50": None}] * len(kept["latency_by_ten"])
        for row, old, cpu_new, cpu_old, out_new, out_old in zip(
            kept["latency_by_ten"],
            replayed["latency_by_ten"],
            kept["cpu_by_ten"],
            replayed["cpu_by_ten"],
            kept.get("cpu_outside_nlu_by_ten") or none,
            replayed.get("cpu_outside_nlu_by_ten") or none,
            strict=True,
        ):
            lines.append(
                f"| {row['turns']} | {_fmt(old['p50'], 'ms')} "
                f"| {_fmt(row['p50'], 'ms')} | {_fmt(cpu_old['p50'], 'ms')} "
                f"| {_fmt(cpu_new['p50'], 'ms')} | {_fmt(out_old['p50'], 'ms')} "
                f"| {_fmt(out_new['p50'], 'ms')} |"
            )
    return lines


def turns_profile_table(results: Dict[str, Any]) -> List[str]:
    """Where a turn's time goes by its number (scripts/bench/turns.py's
    `measure_profile`): ms per turn of each suspect, both runs."""
    found = results.get("turns_profile") or {}
    replayed, kept = found.get("replayed") or {}, found.get("kept") or {}
    if not replayed or not kept:
        return []
    windows = list(replayed)
    header = [f"replayed, turns {w}" for w in windows] + [
        f"kept, turns {w}" for w in kept
    ]
    lines = [
        "| ms per turn, under cProfile | " + " | ".join(header) + " |",
        "| --- |" + " --- |" * len(header),
    ]
    suspects = list(next(iter(replayed.values())))
    for suspect in suspects:
        cells = [_fmt(replayed[w].get(suspect)) for w in windows]
        cells += [_fmt(kept[w].get(suspect)) for w in kept]
        lines.append(f"| {suspect} | " + " | ".join(cells) + " |")
    return lines


def handoff_table(results: Dict[str, Any]) -> List[str]:
    """The part `handoff` (scripts/bench/handoff.py): an FAQ turn in a
    conversation that never had a live chat beside one after a live chat,
    for each database measured."""
    runs = results.get("handoff") or {}
    if not runs:
        return []
    first = next(iter(runs.values()))
    lines = [
        f"The same FAQ questions in {first['conversations']} conversations that "
        f"never had a live chat and {first['conversations']} that had one first "
        "(requested, taken, three messages each way, ended), their turns "
        "interleaved, in one process; "
        f"{first['other_open_chats']} other chats open and a staff member "
        "available. Medians per FAQ turn; calls and statements are means.",
        "",
        "| database | FAQ turns, each | latency, never | latency, after | CPU, never "
        "| CPU, after | CPU outside NLU, never | CPU outside NLU, after "
        "| SQL statements, never / after | of them on live-chat tables "
        "| action-server calls | replies that differ |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, run in runs.items():
        never, after = run["never"], run["after"]
        low, high = never["median"], after["median"]
        calls = (never["per_turn_mean"], after["per_turn_mean"])
        lines.append(
            f"| {DATABASE_NAMES.get(kind, kind)} | {after['faq_turns']} "
            f"| {_fmt(low['latency_ms'], 'ms')} | {_fmt(high['latency_ms'], 'ms')} "
            f"| {_fmt(low['cpu_ms'], 'ms')} | {_fmt(high['cpu_ms'], 'ms')} "
            f"| {_fmt(low['cpu_outside_nlu_ms'], 'ms')} "
            f"| {_fmt(high['cpu_outside_nlu_ms'], 'ms')} "
            f"| {calls[0]['sql_statements']:g} / {calls[1]['sql_statements']:g} "
            f"| {calls[0]['live_chat_sql_statements']:g} / "
            f"{calls[1]['live_chat_sql_statements']:g} "
            f"| {calls[0]['action_server_calls']:g} / "
            f"{calls[1]['action_server_calls']:g} "
            f"| {run['faq_turns_with_other_replies']} |"
        )
    return lines


def nlu_tables(results: Dict[str, Any]) -> List[str]:
    """One table per test set: the three systems side by side."""
    lines: List[str] = []
    for test_set in TEST_SETS:
        lines += _nlu_table(results, test_set)
    return lines


def _nlu_table(results: Dict[str, Any], test_set: str) -> List[str]:
    nlu, training = results.get("nlu", {}), results.get("training", {})
    rows = {k: nlu[k][test_set] for k in SYSTEMS if test_set in nlu.get(k, {})}
    size = next(iter(rows.values()), {}).get("examples", "n/a")
    lines = [
        "",
        f"## NLU on the {set_label(test_set)} "
        f"(`{TEST_SETS[test_set].relative_to(ROOT)}`, {size} messages)",
        "",
        "Accuracy counts a fallback as wrong; the next column takes the "
        "classifier's own best guess instead (the baseline has no fallback). "
        "CPU: process CPU time over the parses, per message.",
        "",
        "| system | accuracy | without fallback | FAQ topic accuracy "
        "| other intents | out-of-scope recall | red-flag recall | parse p50 "
        "| parse p95 | CPU per message | training time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, row in rows.items():
        parse = row.get("parse_ms", {})
        lines.append(
            f"| {SYSTEMS[key]} | {_pct(row.get('overall_accuracy'))} "
            f"| {_pct(row.get('accuracy_without_fallback'))} "
            f"| {_pct(row.get('faq_topic_accuracy'))} "
            f"| {_pct(row.get('other_intent_accuracy'))} "
            f"| {_pct(row.get('out_of_scope_recall'))} "
            f"| {_pct(row.get('red_flag_recall'))} "
            f"| {_fmt(parse.get('p50'), 'ms', 2)} | {_fmt(parse.get('p95'), 'ms', 2)} "
            f"| {_fmt(row.get('cpu_ms_per_message'), 'ms', 2)} "
            f"| {_fmt(training.get(key, {}).get('seconds'), 's')} |"
        )
    return lines


# A row of the with / without table: label, test set (None: the model's
# own), figure key, and how to show it (a key of _SHOW).
Row = Tuple[str, Optional[str], str, str]
_SHOW: Dict[str, Callable[[Any], str]] = {
    "text": lambda v: "n/a" if v is None else str(v),
    "share": _pct,
    "count": _fmt,
    "s": lambda v: _fmt(v, "s"),
    "ms": lambda v: _fmt(v, "ms", 2),
    "mib": _mib,
    "p50/p95": lambda v: (
        f"{_fmt((v or {}).get('p50'), digits=2)} / "
        f"{_fmt((v or {}).get('p95'), digits=2)} ms"
    ),
}


def _scored_rows(test_set: str) -> List[Row]:
    """The with / without table's rows for one test set."""
    targets, name = TARGETS.get(test_set, {}), set_label(test_set)
    rows: List[Row] = []
    for key, label, show in SCORED:
        target = f" (`make evaluate`: >= {targets[key]:.0%})" if key in targets else ""
        rows.append((f"{label}, {name}{target}", test_set, key, show))
    return rows + [
        (f"parse p50 / p95 per message, {name}", test_set, "parse_ms", "p50/p95"),
        (f"CPU per parsed message, {name}", test_set, "cpu_ms_per_message", "ms"),
    ]


def variant_rows(sets: List[str]) -> List[Row]:
    """Every row of the with / without table, for these test sets."""
    rows: List[Row] = [
        ("config", None, "config", "text"),
        ("training time (`rasa train`)", None, "training_seconds", "s"),
        ("model archive size", None, "archive_bytes", "mib"),
        ("`Agent.load`", None, "load_seconds", "s"),
    ]
    for test_set in sets:
        rows += _scored_rows(test_set)
    return rows + [
        ("RSS after `Agent.load`", None, "rss_after_load_bytes", "mib"),
        ("RSS after the parses", None, "rss_after_parse_bytes", "mib"),
        ("peak RSS", None, "rss_peak_bytes", "mib"),
    ]


def cell(variant: Dict[str, Any], row: Row) -> str:
    """One variant's figure for `row`, formatted."""
    _, test_set, key, show = row
    figures = (variant.get("sets") or {}).get(test_set) or {} if test_set else variant
    return _SHOW[show](figures.get(key))


def sentence_rows(results: Dict[str, Any]) -> List[str]:
    """The with / without sentence features table itself (header and rows),
    or nothing; docs-figures writes the same table into the docs."""
    found = results.get("sentence") or {}
    variants = found.get("variants") or {}
    if not variants:
        return []
    mine = [variants.get("with") or {}, variants.get("without") or {}]
    sets = [s for s in TEST_SETS if any(s in (v.get("sets") or {}) for v in mine)]
    lines = [
        "| figure | with sentence features | without |",
        "| --- | --- | --- |",
    ]
    for row in variant_rows(sets):
        lines.append(f"| {row[0]} | {cell(mine[0], row)} | {cell(mine[1], row)} |")
    return lines


def sentence_table(results: Dict[str, Any]) -> List[str]:
    """The with / without sentence features section, or nothing."""
    rows = sentence_rows(results)
    if not rows:
        return []
    found = results.get("sentence") or {}
    return [
        "",
        "## With / without sentence features",
        "",
        "SentenceEmbeddingFeaturizer (all-MiniLM-L6-v2) feeding "
        "LinearIntentClassifier, or neither. Each model is loaded in a fresh "
        "process that parses both test sets one message at a time; RSS is that "
        "process's (peak: the kernel's VmHWM), CPU its CPU time over the "
        "parses. "
        f'config.yml is the "{found.get("project_variant", "n/a")}" one.',
        "",
        *rows,
    ]


def chart(results: Dict[str, Any], path: Path) -> None:
    """Latency percentiles and throughput by concurrency, as a PNG."""
    # matplotlib 3.5 calls pyparsing names that newer pyparsing deprecates.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _chart(results, path)


def _chart(results: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results.get("e2e", {}).get("levels", [])
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for mode, colour in (("paced", "tab:blue"), ("back_to_back", "tab:red")):
        mine = [row for row in rows if row["mode"] == mode]
        xs = [row["concurrency"] for row in mine]
        label = mode.replace("_", " ")
        for point, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
            ys = [row.get("faq_latency_ms", {}).get(point, np.nan) for row in mine]
            left.plot(xs, ys, style, color=colour, label=f"{label} {point}")
        right.plot(
            xs,
            [row.get("throughput_per_s") or 0 for row in mine],
            "o-",
            color=colour,
            label=label,
        )
    for limit in (100, 250):
        left.axhline(limit, color="grey", linestyle=":", linewidth=1)
    left.set_yscale("log")
    left.set_xlabel("concurrent conversations")
    left.set_ylabel("FAQ turn latency (ms, log scale)")
    left.set_title("Latency (grey: 100 and 250 ms targets)")
    left.legend(fontsize="small")
    right.set_xlabel("concurrent conversations")
    right.set_ylabel("messages per second")
    right.set_title("Throughput")
    right.legend(fontsize="small")
    concurrency = sorted({row["concurrency"] for row in rows})
    for axis in (left, right):
        if concurrency:
            axis.set_xticks(concurrency)
    meta = results.get("meta", {})
    figure.suptitle(
        f"make bench, {meta.get('date', '')}, {meta.get('machine', {}).get('cores')}"
        f" cores, {meta.get('mode', '')} run"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def turns_chart(results: Dict[str, Any], path: Path) -> bool:
    """Latency by turn number (part `turns`), as a PNG; False when there
    are no such figures."""
    runs = turns_runs(results)
    if not runs:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4.5))
        axes = np.atleast_1d(axes)
        for axis, (kind, pair) in zip(axes, runs.items(), strict=True):
            for name, colour in (("replayed", "tab:red"), ("kept", "tab:blue")):
                run = pair.get(name) or {}
                values = run.get("latency_ms") or []
                xs = np.arange(1, len(values) + 1)
                axis.plot(xs, values, ".", color=colour, alpha=0.35)
                middles = [
                    10 * i + 5.5 for i in range(len(run.get("latency_by_ten", [])))
                ]
                medians = [row["p50"] for row in run.get("latency_by_ten", [])]
                axis.plot(
                    middles, medians, "o-", color=colour, label=f"{name}, median of 10"
                )
            axis.set_title(
                f"A turn's latency by its number, {DATABASE_NAMES.get(kind, kind)}"
            )
            axis.set_xlabel("turn of the conversation")
            axis.set_ylabel("ms")
            axis.set_ylim(bottom=0)
            axis.legend()
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
        plt.close(figure)
    return True


def write(results: Dict[str, Any], out: Path) -> List[Target]:
    """Writes bench.json, bench.md, latency.png and turns.png into `out`;
    returns targets."""
    targets = evaluate_targets(results)
    out.mkdir(parents=True, exist_ok=True)
    document = {**results, "targets": [asdict(t) for t in targets]}
    (out / "bench.json").write_text(json.dumps(document, indent=2, default=str))
    (out / "bench.md").write_text(markdown(results, targets))
    chart(results, out / "latency.png")
    turns_chart(results, out / "turns.png")
    return targets


def print_summary(results: Dict[str, Any], targets: List[Target]) -> None:
    """The figures and a PASS/MISS line per target, on stdout."""
    print()
    print(markdown(results, targets))
    print("Targets:")
    for t in targets:
        print(target_line(t))


def target_line(t: Target) -> str:
    """A target as the summary prints it: PASS / MISS / n/a, name, figure."""
    value = "n/a" if t.value is None else f"{t.value:g} {t.unit}".strip()
    return f"  {t.verdict:<4}  {t.name}: {value} ({t.comparison} {t.limit:g})"
