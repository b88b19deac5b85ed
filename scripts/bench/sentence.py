"""With and without the sentence features: the two pipelines, measured alike.

"With" runs components.sentence_embeddings.SentenceEmbeddingFeaturizer and
gives its vectors to LinearIntentClassifier (`dense_weight` above 0);
"without" has neither. config.yml is "with"; "without" is derived from it:
config.yml less every component whose name ends in
SentenceEmbeddingFeaturizer, with LinearIntentClassifier's `dense_weight`
and `neighbour_weight` (the vote over the same vectors) set to 0, and the
same policies, so that both are whole models trained by
the same `rasa train`.

The benchmark trains the derived one (the project's model is already
trained) and measures each in a fresh process (scripts/bench/probe.py), so
that one model's memory does not count against the other's.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

from scripts.bench import nlu, training
from scripts.evaluate import Example

ROOT = Path(__file__).resolve().parents[2]
FEATURIZER = "SentenceEmbeddingFeaturizer"
CLASSIFIER = "LinearIntentClassifier"
WITH, WITHOUT = "with", "without"
VARIANTS = (WITH, WITHOUT)
MEMORY = (
    "load_seconds",
    "rss_after_load_bytes",
    "rss_after_parse_bytes",
    "rss_peak_bytes",
)


def _named(component: Dict[str, Any], suffix: str) -> bool:
    return str(component.get("name", "")).endswith(suffix)


def pipeline_names(config: Dict[str, Any]) -> List[str]:
    """The names of the config's pipeline components, in order."""
    return [str(c.get("name")) for c in config.get("pipeline") or []]


def variant_of(config: Dict[str, Any]) -> str:
    """WITH when the pipeline has the featurizer, else WITHOUT."""
    has = any(_named(c, FEATURIZER) for c in config.get("pipeline") or [])
    return WITH if has else WITHOUT


def without_features(config: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of `config` without the featurizer, and `dense_weight` and
    `neighbour_weight` 0: both read the featurizer's vectors."""
    derived = copy.deepcopy(config)
    pipeline = [c for c in derived.get("pipeline") or [] if not _named(c, FEATURIZER)]
    for component in pipeline:
        if _named(component, CLASSIFIER):
            component["dense_weight"] = 0.0
            component["neighbour_weight"] = 0.0
    derived["pipeline"] = pipeline
    return derived


def other_variant(project: Dict[str, Any]) -> Tuple[str, Dict[str, Any], str]:
    """The variant config.yml is not: its name, its config, where it is from.
    config.yml must be "with" (there is one definition of the pipeline)."""
    if variant_of(project) != WITH:
        raise SystemExit(f"config.yml has no {FEATURIZER}: nothing to compare")
    source = (
        f"config.yml less {FEATURIZER}, {CLASSIFIER} dense_weight and "
        "neighbour_weight 0"
    )
    return WITHOUT, without_features(project), source


def write_config(config: Dict[str, Any], path: Path) -> Path:
    """Writes a derived config as YAML; returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def summarise(raw: Dict[str, Any], sets: Dict[str, List[Example]]) -> Dict[str, Any]:
    """A probe's output, scored: its memory readings, and `set_figures`
    for each test set."""
    return {
        **{key: raw.get(key) for key in MEMORY},
        "sets": {name: nlu.set_figures(sets[name], raw["sets"][name]) for name in sets},
    }


def measure(
    model: Path, sets: Dict[str, List[Example]], workdir: Path, name: str
) -> Dict[str, Any]:
    """Runs the probe on `model` in a fresh process; its figures, scored."""
    messages = workdir / f"probe-{name}-messages.json"
    out = workdir / f"probe-{name}.json"
    texts = {key: [e.text for e in value] for key, value in sets.items()}
    messages.write_text(json.dumps(texts))
    command = [sys.executable, "-m", "scripts.bench.probe"]
    training.run_logged(
        [*command, str(model), str(messages), str(out)],
        workdir / f"probe-{name}.log",
    )
    return summarise(json.loads(out.read_text()), sets)
