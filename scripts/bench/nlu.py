"""The NLU comparison on the held-out test sets: accuracy, parse latency
and CPU time per parsed message.

Three systems, each trained on the same training data (`data/`, never the
test set): the project's model, Rasa's default pipeline, and a TF-IDF +
logistic regression baseline. Scoring is `scripts.evaluate`'s, so the
figures mean what `make evaluate` means: a FAQ question counts as right
only when the FAQ answer (retrieval key `faq/<topic>`) is right, and a
fallback counts as wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Tuple

from scripts.bench.report import percentiles
from scripts.evaluate import FALLBACK, Example, predicted_label, score

# Parsed first and not timed: TensorFlow builds its graphs on the first call.
WARM_UP = ["hello", "what is IMS?", "how much does it cost", "thanks, bye"]
# One test set's raw figures: labels, guesses, parse_ms, cpu_seconds.
Raw = Dict[str, Any]


def rasa_label(parse: Dict[str, Any], fallback: bool = True) -> str:
    """Like `predicted_label`, also for a ResponseSelector with no
    `retrieval_intent` (Rasa's default pipeline), which reports its answer
    under the key "default" instead of "faq". With `fallback=False`, the
    classifier's own best guess where the message went to fallback (as a
    classifier without a fallback, like the baseline, would answer)."""
    selectors = parse.get("response_selector") or {}
    if "faq" not in selectors and "default" in selectors:
        parse = {**parse, "response_selector": {"faq": selectors["default"]}}
    if not fallback and (parse.get("intent") or {}).get("name") == FALLBACK:
        ranking = [
            i for i in parse.get("intent_ranking") or [] if i.get("name") != FALLBACK
        ]
        if ranking:
            parse = {**parse, "intent": ranking[0]}
    return predicted_label(parse)


def _quiet_rasa() -> None:
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def load_agent(model: Path) -> Tuple[Any, float]:
    """Loads a trained model in process; returns the agent and the seconds
    `Agent.load` took (Rasa and TensorFlow already imported)."""
    from rasa.core.agent import Agent

    _quiet_rasa()
    started = time.perf_counter()
    agent = Agent.load(str(model))
    return agent, time.perf_counter() - started


def _raw(parses: List[Dict[str, Any]], times: List[float], cpu: float) -> Raw:
    return {
        "labels": [rasa_label(p) for p in parses],
        "guesses": [rasa_label(p, fallback=False) for p in parses],
        "parse_ms": times,
        "cpu_seconds": cpu,
    }


async def _parse_set(agent: Any, texts: List[str]) -> Raw:
    parses, times = [], []
    cpu = time.process_time()
    for text in texts:
        started = time.perf_counter()
        parses.append(await agent.parse_message(text))
        times.append((time.perf_counter() - started) * 1000)
    return _raw(parses, times, time.process_time() - cpu)


def parse_sets(agent: Any, sets: Dict[str, List[str]]) -> Dict[str, Raw]:
    """Parses each set's messages one at a time, after a warm-up. Per set:
    the labels, the best guesses without fallback, each parse's ms, and the
    process CPU seconds over the parses (all threads, TensorFlow's too)."""

    async def parse_all() -> Dict[str, Raw]:
        for text in WARM_UP:
            await agent.parse_message(text)
        return {name: await _parse_set(agent, texts) for name, texts in sets.items()}

    return asyncio.run(parse_all())


def set_figures(examples: List[Example], raw: Raw) -> Dict[str, Any]:
    """`score`'s figures for one test set, the accuracy with best guesses,
    parse p50/p95 and CPU ms per parsed message."""
    figures = score(zip(examples, raw["labels"], strict=True))
    guesses = score(zip(examples, raw["guesses"], strict=True))
    figures["accuracy_without_fallback"] = guesses["overall_accuracy"]
    figures["parse_ms"] = percentiles(raw["parse_ms"], (50, 95))
    figures["cpu_ms_per_message"] = round(
        raw["cpu_seconds"] * 1000 / max(len(examples), 1), 2
    )
    return figures


def rasa_figures(
    agent: Any, sets: Dict[str, List[Example]]
) -> Dict[str, Dict[str, Any]]:
    """Each test set parsed in this process and scored, by set name."""
    raw = parse_sets(agent, {name: [e.text for e in ex] for name, ex in sets.items()})
    return {name: set_figures(sets[name], raw[name]) for name in sets}


def train_baseline(training: List[Example]) -> Tuple[Any, Dict[str, Any]]:
    """TF-IDF (word 1-2-grams and character 1-4-grams, as the Rasa pipelines
    featurise) + logistic regression over the flat labels (`faq/<topic>` for
    each FAQ answer). C is chosen by 3-fold cross-validation on the training
    data alone. Returns the fitted model and what was trained."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline, make_union

    model = make_pipeline(
        make_union(
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
        ),
        LogisticRegressionCV(Cs=[0.1, 1.0, 10.0, 100.0], cv=3, max_iter=3000),
    )
    # LogisticRegressionCV needs every label in every fold's training part:
    # a label with fewer examples than folds (EXTERNAL_handoff_timeout, the
    # reminder nobody types, has one) is left out of the baseline.
    counts = Counter(e.label for e in training)
    training = [e for e in training if counts[e.label] >= 3]
    started = time.perf_counter()
    model.fit([e.text for e in training], [e.label for e in training])
    seconds = time.perf_counter() - started
    chosen_c = float(model[-1].C_[0])
    return model, {
        "seconds": round(seconds, 2),
        "examples": len(training),
        "labels": len({e.label for e in training}),
        "chosen_C": chosen_c,
    }


def _predict_set(model: Any, texts: List[str]) -> Raw:
    labels, times = [], []
    cpu = time.process_time()
    for text in texts:
        started = time.perf_counter()
        labels.append(str(model.predict([text])[0]))
        times.append((time.perf_counter() - started) * 1000)
    cpu = time.process_time() - cpu
    # The baseline has no fallback: its guesses are its labels.
    return {"labels": labels, "guesses": labels, "parse_ms": times, "cpu_seconds": cpu}


def baseline_figures(
    model: Any, sets: Dict[str, List[Example]]
) -> Dict[str, Dict[str, Any]]:
    """Predicts one message at a time (as a server would), timing each."""
    for text in WARM_UP:
        model.predict([text])
    return {
        name: set_figures(examples, _predict_set(model, [e.text for e in examples]))
        for name, examples in sets.items()
    }
