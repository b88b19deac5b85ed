"""The NLU comparison on the held-out test set: accuracy and parse latency.

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
from pathlib import Path
from typing import Any, Dict, List, Tuple

from scripts.bench.report import percentiles
from scripts.evaluate import FALLBACK, Example, predicted_label, score

# Parsed first and not timed: TensorFlow builds its graphs on the first call.
WARM_UP = ["hello", "what is IMS?", "how much does it cost", "thanks, bye"]


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


def rasa_figures(agent: Any, examples: List[Example]) -> Dict[str, Any]:
    """Parses every test message one at a time, timing each parse."""

    async def parse_all() -> Tuple[List[Dict[str, Any]], List[float]]:
        for text in WARM_UP:
            await agent.parse_message(text)
        parses, times = [], []
        for example in examples:
            started = time.perf_counter()
            parses.append(await agent.parse_message(example.text))
            times.append((time.perf_counter() - started) * 1000)
        return parses, times

    parses, times = asyncio.run(parse_all())
    figures = _figures(examples, [rasa_label(p) for p in parses], times)
    guesses = [rasa_label(p, fallback=False) for p in parses]
    figures["accuracy_without_fallback"] = score(zip(examples, guesses, strict=True))[
        "overall_accuracy"
    ]
    return figures


def _figures(
    examples: List[Example], labels: List[str], times: List[float]
) -> Dict[str, Any]:
    figures = score(zip(examples, labels, strict=True))
    figures["parse_ms"] = percentiles(times, (50, 95))
    return figures


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


def baseline_figures(model: Any, examples: List[Example]) -> Dict[str, Any]:
    """Predicts one message at a time (as a server would), timing each."""
    for text in WARM_UP:
        model.predict([text])
    labels, times = [], []
    for example in examples:
        started = time.perf_counter()
        labels.append(str(model.predict([example.text])[0]))
        times.append((time.perf_counter() - started) * 1000)
    figures = _figures(examples, labels, times)
    figures["accuracy_without_fallback"] = figures["overall_accuracy"]  # has none
    return figures
