"""Scores a trained model on the two held-out NLU test sets (tests/nlu/).

- `written`: tests/nlu/test_nlu.yml, messages the project wrote itself in
  patients' styles, every label covered.
- `real`: tests/nlu/real/questions.tsv, questions people really asked on
  public pages, kept as written (their addresses: sources.tsv beside it).
  Its misreads were read to choose what kinds of question to write more
  training examples of, so it now flatters the model a little.
- `real2`: tests/nlu/real2/questions.tsv, a second set of real questions from
  other pages, collected after that work; nobody has read its misreads.

For each set it prints, and writes as JSON: FAQ topic accuracy at the
retrieval-key level (`faq/<id>`), accuracy on the other intents, out-of-scope
recall, the share of in-scope messages sent to fallback, red-flag recall, and
the confusions. Exits 1 when a figure is below its target.

    python -m scripts.evaluate --model models/ims-assistant.tar.gz
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
EMERGENCY = "emergency"


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # "faq/<topic>" for FAQ questions, else the intent name


def load_examples(path: Path) -> List[Example]:
    """Reads a test set: Rasa NLU YAML, or a TSV of `label<TAB>text` rows
    (the real questions, whose text must stay exactly as written)."""
    if path.suffix == ".tsv":
        return [Example(text=text, label=label) for label, text in read_tsv(path)]
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    examples = []
    for message in data.intent_examples:
        label = message.get("intent_response_key") or message.get("intent")
        examples.append(Example(text=message.get("text"), label=label))
    return examples


def read_tsv(path: Path) -> List[Tuple[str, str]]:
    """The two columns of each row of a TSV file with a header line."""
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(row.split("\t", 1)) for row in rows if row.strip()]  # type: ignore


def predicted_label(parse: Dict[str, Any]) -> str:
    """The label a parse result predicts, comparable with Example.label."""
    from clinic.faq_keys import label

    return label(parse) or ""


def share(hits: int, total: int) -> Optional[float]:
    return round(hits / total, 4) if total else None


def score(pairs: Iterable[Tuple[Example, str]]) -> Dict[str, Any]:
    """Computes the figures from (example, predicted label) pairs."""
    pairs = list(pairs)
    faq = [(e, p) for e, p in pairs if e.label.startswith("faq/")]
    other = [(e, p) for e, p in pairs if not e.label.startswith("faq/")]
    oos = [(e, p) for e, p in pairs if e.label == OUT_OF_SCOPE]
    flags = [(e, p) for e, p in pairs if e.label == EMERGENCY]
    in_scope = [(e, p) for e, p in pairs if e.label != OUT_OF_SCOPE]
    not_flags = [(e, p) for e, p in pairs if e.label != EMERGENCY]
    errors = [(e, p) for e, p in pairs if e.label != p]
    return {
        "examples": len(pairs),
        "faq_topic_accuracy": share(sum(e.label == p for e, p in faq), len(faq)),
        "other_intent_accuracy": share(sum(e.label == p for e, p in other), len(other)),
        "overall_accuracy": share(len(pairs) - len(errors), len(pairs)),
        "out_of_scope_recall": share(sum(p == OUT_OF_SCOPE for _, p in oos), len(oos)),
        "in_scope_fallback_rate": share(
            sum(p == FALLBACK for _, p in in_scope), len(in_scope)
        ),
        "red_flag_recall": share(sum(p == EMERGENCY for _, p in flags), len(flags)),
        "red_flag_false_alarms": sum(p == EMERGENCY for _, p in not_flags),
        "confusions": Counter(f"{e.label} -> {p}" for e, p in errors).most_common(),
        "errors": [
            {"text": e.text, "label": e.label, "predicted": p} for e, p in errors
        ],
    }


async def predict(model: Path, examples: List[Example]) -> List[Dict[str, Any]]:
    """Parses every example with the trained model, in process."""
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    return [await agent.parse_message(example.text) for example in examples]


ROOT = Path(__file__).resolve().parents[1]
TEST_SETS = {
    "written": ROOT / "tests" / "nlu" / "test_nlu.yml",
    "real": ROOT / "tests" / "nlu" / "real" / "questions.tsv",
    "real2": ROOT / "tests" / "nlu" / "real2" / "questions.tsv",
}
# Below a target, `make evaluate` (and so `make test`) fails.
TARGETS = {
    "written": {
        "faq_topic_accuracy": 0.97,
        "out_of_scope_recall": 0.90,
        "red_flag_recall": 1.0,
    },
    # Every red flag, and floors a little under today's figures, so that a
    # change which loses real-question understanding fails. The goals of
    # the real-questions issue (GOALS) are printed beside them.
    "real": {
        "faq_topic_accuracy": 0.85,
        "out_of_scope_recall": 0.85,
        "red_flag_recall": 1.0,
    },
    "real2": {
        "faq_topic_accuracy": 0.83,
        "out_of_scope_recall": 0.60,
        "red_flag_recall": 1.0,
    },
}
# Sets whose misreads are not printed (report's `blind`): real2 measures
# wording nobody tuned the model on, so long as nobody reads what it misses.
BLIND = {"real2"}
# Where the real-question figures should get to (printed, not enforced):
# docs/evaluation.md says how far they are.
GOALS = {
    name: {"faq_topic_accuracy": 0.90, "out_of_scope_recall": 0.85}
    for name in ("real", "real2")
}


def report(
    figures: Dict[str, Any],
    targets: Dict[str, float],
    name: str = "held-out",
    goals: Optional[Dict[str, float]] = None,
    blind: bool = False,
) -> List[str]:
    """Prints the figures; returns the names of the missed targets. For a
    blind set only the figures: its misreads go to the JSON file alone, so
    that nobody tuning the model reads them by chance."""
    print(f"\nNLU evaluation, {name} test set ({figures['examples']} messages)")
    names = [
        "faq_topic_accuracy",
        "other_intent_accuracy",
        "overall_accuracy",
        "out_of_scope_recall",
        "in_scope_fallback_rate",
        "red_flag_recall",
    ]
    missed = []
    for name in names:
        value = figures[name]
        target = targets.get(name)
        mark = ""
        if target is not None:
            ok = value is not None and value >= target
            mark = f"  (target >= {target:.0%}: {'ok' if ok else 'MISSED'})"
            if not ok:
                missed.append(name)
        goal = (goals or {}).get(name)
        if goal is not None and value is not None:
            mark += f"  (goal {goal:.0%}: {'met' if value >= goal else 'not yet'})"
        shown = "n/a" if value is None else f"{value:.1%}"
        print(f"  {name:<24} {shown:>7}{mark}")
    print(f"  {'red_flag_false_alarms':<24} {figures['red_flag_false_alarms']:>7}")
    if blind:
        print("  (a blind set: its confusions and misreads are only in the JSON)")
    elif figures["confusions"]:
        print("\nConfusions (label -> predicted: count)")
        for pair, count in figures["confusions"]:
            print(f"  {pair}: {count}")
        print("\nMisread messages")
        for error in figures["errors"]:
            print(f"  [{error['label']} -> {error['predicted']}] {error['text']}")
    return missed


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument(
        "--only", choices=sorted(TEST_SETS), help="score one test set only"
    )
    parser.add_argument("--out", type=Path, default=Path("results/evaluation.json"))
    args = parser.parse_args(argv)

    names = [args.only] if args.only else list(TEST_SETS)
    sets = {name: load_examples(TEST_SETS[name]) for name in names}
    everything = [example for name in names for example in sets[name]]
    parses = iter(asyncio.run(predict(args.model, everything)))
    results: Dict[str, Any] = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "model": str(args.model),
        }
    }
    missed: List[str] = []
    for name in names:
        examples = sets[name]
        labels = [predicted_label(next(parses)) for _ in examples]
        figures = score(zip(examples, labels, strict=True))
        results[name] = {"targets": TARGETS[name], "goals": GOALS.get(name), **figures}
        goals = GOALS.get(name)
        missed += [
            f"{name} {m}"
            for m in report(figures, TARGETS[name], name, goals, blind=name in BLIND)
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    if missed:
        print(f"\nFAILED: below target: {', '.join(missed)}")
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
