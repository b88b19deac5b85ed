"""Compares NLU pipelines by k-fold cross-validation on the training data.

The way to choose between pipeline settings without looking at the held-out
test set (tests/nlu/): every config named is trained on k-1 folds of
`data/nlu` and scored on the fold it did not see, with the scoring of
`make evaluate` (a FAQ question is right only when its answer, `faq/<topic>`,
is right; a fallback is wrong). The TF-IDF + logistic regression baseline of
`make bench` is scored on the same folds, so every row is comparable.

    python -m scripts.nlu_cv config.yml bench/configs/rasa_default.yml \
        --folds 5 --out results/nlu-cv

Prints one row per system and writes the figures and every miss as JSON.
`--share 0.25` runs on a part of the data (the same share of each label's
examples), as the test of this script does to stay quick; figures for
choosing a pipeline come from the whole of it.
Red-flag recall here flatters the project's pipeline: its red-flag rules
were written with the training data in view (see docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[1]
FIGURES = (
    "overall_accuracy",
    "faq_topic_accuracy",
    "other_intent_accuracy",
    "out_of_scope_recall",
    "in_scope_fallback_rate",
    "red_flag_recall",
)


def folds_of(labels: Sequence[str], k: int, seed: int) -> List[List[int]]:
    """Stratified folds: indices of the examples held out in each fold."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [list(test) for _, test in splitter.split(list(labels), list(labels))]


def share_of(labels: Sequence[str], share: float) -> List[int]:
    """Indices of the first `share` of each label's examples (at least two,
    so that every fold of two can hold one out), in the data's order."""
    import math

    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], not {share}")
    wanted: Dict[str, int] = {}
    for label in labels:
        wanted[label] = wanted.get(label, 0) + 1
    wanted = {label: max(2, math.ceil(n * share)) for label, n in wanted.items()}
    taken: Dict[str, int] = defaultdict(int)
    kept = []
    for index, label in enumerate(labels):
        if taken[label] < wanted[label]:
            taken[label] += 1
            kept.append(index)
    return kept


def write_fold_data(data: Any, keep: Sequence[int], folder: Path) -> None:
    """The training examples at `keep`, plus everything else the NLU data
    holds (regexes, lookups, synonyms) and the FAQ responses."""
    from rasa.shared.nlu.training_data.training_data import TrainingData

    examples = data.intent_examples
    fold = TrainingData(
        training_examples=[examples[i] for i in keep],
        entity_synonyms=data.entity_synonyms,
        regex_features=data.regex_features,
        lookup_tables=data.lookup_tables,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nlu.yml").write_text(fold.nlu_as_yaml())
    shutil.copy(ROOT / "data" / "responses" / "faq.yml", folder / "responses.yml")


def rasa_predictions(config: Path, train_dir: Path, texts: List[str]) -> List[str]:
    import asyncio

    from rasa.model_training import train_nlu

    from scripts.bench.nlu import load_agent, rasa_label

    model = train_nlu(
        str(config), str(train_dir), str(train_dir / "model"), domain="domain.yml"
    )
    agent, _ = load_agent(Path(model))

    async def parse_all() -> List[Dict[str, Any]]:
        return [await agent.parse_message(text) for text in texts]

    return [rasa_label(parse) for parse in asyncio.run(parse_all())]


def baseline_predictions(train: List[Any], texts: List[str]) -> List[str]:
    from scripts.bench.nlu import train_baseline

    model, _ = train_baseline(train)
    return [str(label) for label in model.predict(texts)]


def label_of(message: Any) -> str:
    """`faq/<topic>` for an FAQ example, else its intent."""
    return str(message.get("intent_response_key") or message.get("intent"))


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", type=Path, help="Rasa configs")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--share",
        type=float,
        default=1.0,
        help="run on this share of each label's examples (a quick check)",
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "nlu-cv")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from scripts.bench.nlu import _quiet_rasa
    from scripts.evaluate import Example, score

    _quiet_rasa()
    logging.getLogger("rasa").setLevel(logging.ERROR)
    data = load_data(str(ROOT / "data" / "nlu"))
    if args.share < 1:
        labels = [label_of(m) for m in data.intent_examples]
        part = [data.intent_examples[i] for i in share_of(labels, args.share)]
        data = TrainingData(
            training_examples=part,
            entity_synonyms=data.entity_synonyms,
            regex_features=data.regex_features,
            lookup_tables=data.lookup_tables,
        )
    examples = [Example(m.get("text"), label_of(m)) for m in data.intent_examples]
    folds = folds_of([e.label for e in examples], args.folds, args.seed)
    systems: Dict[str, Any] = {str(c): c for c in args.configs}
    if not args.no_baseline:
        systems["tfidf_logreg"] = None
    predictions: Dict[str, List[str]] = defaultdict(lambda: [""] * len(examples))
    seconds: Dict[str, float] = defaultdict(float)

    with tempfile.TemporaryDirectory(prefix="nlu-cv-") as tmp:
        for number, held_out in enumerate(folds, 1):
            held = set(held_out)
            keep = [i for i in range(len(examples)) if i not in held]
            texts = [examples[i].text for i in held_out]
            train_dir = Path(tmp) / f"fold{number}"
            write_fold_data(data, keep, train_dir)
            for name, config in systems.items():
                started = time.monotonic()
                if config is None:
                    labels = baseline_predictions([examples[i] for i in keep], texts)
                else:
                    labels = rasa_predictions(config, train_dir, texts)
                    shutil.rmtree(train_dir / "model", ignore_errors=True)
                seconds[name] += time.monotonic() - started
                for index, label in zip(held_out, labels, strict=True):
                    predictions[name][index] = label
                print(f"fold {number}/{len(folds)} {name}: done", file=sys.stderr)

    args.out.mkdir(parents=True, exist_ok=True)
    report: Dict[str, Any] = {
        "folds": args.folds,
        "seed": args.seed,
        "share": args.share,
        "systems": {},
    }
    print(f"{'system':40} " + " ".join(f"{f[:12]:>12}" for f in FIGURES))
    for name in systems:
        figures = score(zip(examples, predictions[name], strict=True))
        figures["seconds"] = round(seconds[name], 1)
        figures["misses"] = [
            {"text": e.text, "label": e.label, "predicted": p}
            for e, p in zip(examples, predictions[name], strict=True)
            if e.label != p
        ]
        report["systems"][name] = figures
        row = " ".join(
            f"{figures[f]:>12.4f}" if figures[f] is not None else f"{'-':>12}"
            for f in FIGURES
        )
        print(f"{name[-40:]:40} {row}")
    (args.out / "nlu-cv.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
