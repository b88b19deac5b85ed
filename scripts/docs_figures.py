"""Writes the measured figures into README.md and docs/, from the results files.

The tables between `<!-- figures:NAME -->` and `<!-- /figures:NAME -->` are
generated, never typed: `make docs-figures` rebuilds them from what
`make evaluate` (results/evaluation.json), `make bench`
(results/bench/bench.json) and `make readability` (results/readability.json)
last wrote, and says which results file each
came from. A table whose results file is missing is left as it is.

    python -m scripts.docs_figures [--check]

`--check` changes nothing and exits 1 if a page would change.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from scripts import readability
from scripts.bench import report
from scripts.evaluate import GOALS, ROOT, TARGETS, TEST_SETS

EVALUATION = ROOT / "results" / "evaluation.json"
BENCH = ROOT / "results" / "bench" / "bench.json"
PAGES = [
    ROOT / "README.md",
    ROOT / "docs" / "evaluation.md",
    ROOT / "docs" / "performance.md",
    ROOT / "docs" / "readability.md",
]

SET_NAMES = {"written": "written", "real": "real", "real2": "real, 2nd set"}
EVALUATION_ROWS = (
    ("faq_topic_accuracy", "FAQ topic accuracy"),
    ("out_of_scope_recall", "out-of-scope recall"),
    ("red_flag_recall", "red-flag recall"),
    ("red_flag_false_alarms", "red-flag false alarms"),
    ("in_scope_fallback_rate", "in-scope messages sent to fallback"),
)


def _share(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _limit(figures: Dict[str, Any], test_set: str, key: str) -> str:
    """The target and the goal of a figure, as a cell: those the results were
    scored against, else today's."""
    parts = []
    targets = figures.get("targets") or TARGETS.get(test_set, {})
    target = targets.get(key)
    if target is not None:
        parts.append(f">= {target:.0%}")
    goal = (figures.get("goals") or GOALS.get(test_set, {})).get(key)
    if goal is not None:
        parts.append(f"goal {goal:.0%}")
    return ", ".join(parts)


def evaluation_table(results: Dict[str, Any]) -> List[str]:
    """Each test set's figures, with its target and goal; nothing unless
    every test set was scored (`evaluate --only` scores one)."""
    if not all(isinstance(results.get(name), dict) for name in TEST_SETS):
        return []
    sets = list(TEST_SETS)
    header = " | ".join(
        f"{SET_NAMES.get(s, s)} ({results[s]['examples']})" for s in sets
    )
    lines = [
        f"| figure | {header} |",
        "| --- |" + " --- |" * len(sets),
    ]
    for key, label in EVALUATION_ROWS:
        cells = []
        for name in sets:
            value = results[name].get(key)
            shown = str(value) if key == "red_flag_false_alarms" else _share(value)
            limit = _limit(results[name], name, key)
            cells.append(f"{shown} ({limit})" if limit else shown)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


# make bench's load modes (scripts/bench/load.py), as the table names them.
MODES = {"paced": "paced", "back_to_back": "back to back"}


def bench_table(results: Dict[str, Any]) -> List[str]:
    """make bench's run, its targets, and the REST latency by load."""
    measured = [t for t in results.get("targets") or [] if t["value"] is not None]
    levels = (results.get("e2e") or {}).get("levels") or []
    if not levels and not measured:
        return []  # the run measured nothing this table shows
    meta = results.get("meta") or {}
    machine = meta.get("machine") or {}
    lines = [
        f"Run on {machine.get('cores', 'n/a')} cores ({machine.get('cpu', 'n/a')}), "
        f"Python {machine.get('python', 'n/a')}, Rasa {machine.get('rasa', 'n/a')}, "
        f"database {meta.get('database', 'n/a')}.",
        *(f"- {note}" for note in meta.get("notes") or []),
        "",
        "| target | measured | limit | result |",
        "| --- | --- | --- | --- |",
    ]
    verdicts = {True: "PASS", False: "MISS", None: "n/a"}
    # A target the run did not measure (a part left out) is not shown.
    for t in measured:
        value = f"{t['value']:g} {t['unit']}".strip()
        limit = f"{t['comparison']} {t['limit']:g} {t['unit']}".strip()
        lines.append(f"| {t['name']} | {value} | {limit} | {verdicts[t['passed']]} |")
    if not levels:
        return lines  # the run left the load part out
    lines += [
        "",
        "| FAQ turn over REST | conversations | p50 | p95 | messages/s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in levels:
        latency = row.get("faq_latency_ms") or {}
        shown = [
            "n/a" if latency.get(p) is None else f"{latency[p]:.0f} ms"
            for p in ("p50", "p95")
        ]
        rate = row.get("throughput_per_s")
        lines.append(
            f"| {MODES.get(row.get('mode'), row.get('mode'))} "
            f"| {row.get('concurrency', 'n/a')} "
            f"| {shown[0]} | {shown[1]} "
            f"| {'n/a' if rate is None else f'{rate:.1f}'} |"
        )
    return lines


# The rows of the with / without table the README shows; docs/performance.md
# has them all.
SUMMARY_ROWS = (
    "FAQ topic accuracy",
    "out-of-scope recall",
    "CPU per parsed message",
    "peak RSS",
    "`Agent.load`",
)


def sentence_summary_rows(results: Dict[str, Any]) -> List[str]:
    """make bench's with / without sentence features table, only the rows
    that say what the sentence vector buys and costs."""
    rows = report.sentence_rows(results)
    return rows[:2] + [r for r in rows[2:] if r[2:].startswith(SUMMARY_ROWS)]


def _read(path: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


TABLES: Dict[str, tuple] = {
    "evaluation": (EVALUATION, "make evaluate", evaluation_table),
    # The same table as make bench's own report (scripts/bench/report.py).
    "sentence": (BENCH, "make bench", report.sentence_rows),
    "sentence_summary": (BENCH, "make bench", sentence_summary_rows),
    "bench": (BENCH, "make bench", bench_table),
    "capacity": (BENCH, "make bench", report.capacity_table),
    "profile": (BENCH, "make bench", report.profile_table),
    "turns": (BENCH, "make bench", report.turns_table),
    "turns_profile": (BENCH, "make bench", report.turns_profile_table),
    "handoff": (BENCH, "make bench", report.handoff_table),
    "readability": (readability.OUT, "make readability", readability.results_table),
}


def render(name: str, results: Dict[str, Any], source: Path) -> List[str]:
    """The generated block's lines for table `name`."""
    _, command, build = TABLES[name]
    when = (results.get("meta") or {}).get("date") or ""
    origin = f"`{command}`" + (f", {when}" if when else "")
    body: List[str] = build(results)
    if not body:
        return []
    return [
        f"<!-- generated by `make docs-figures` from {source.relative_to(ROOT)} "
        f"({origin}); do not edit -->",
        *body,
    ]


_BLOCK = re.compile(
    r"(<!-- figures:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /figures:(?P=name) -->)",
    re.DOTALL,
)


def fill(text: str, load: Callable[[Path], Optional[Dict[str, Any]]]) -> str:
    """`text` with every figures block rebuilt from its results file."""

    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in TABLES:
            return match.group(0)
        source = TABLES[name][0]
        results = load(source)
        try:
            lines = render(name, results, source) if isinstance(results, dict) else []
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # A results file of another shape: say so, keep the old table.
            print(
                f"figures:{name}: {source} not understood ({error!r})", file=sys.stderr
            )
            lines = []
        if not lines:
            return match.group(0)
        return match.group(1) + "\n".join(lines) + "\n" + match.group(4)

    return _BLOCK.sub(replace, text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    for page in PAGES:
        before = page.read_text(encoding="utf-8")
        after = fill(before, _read)
        if after != before:
            stale.append(page)
            if not args.check:
                page.write_text(after, encoding="utf-8")
    for page in stale:
        shown = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
        print(f"{'would rewrite' if args.check else 'rewrote'} {shown}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
