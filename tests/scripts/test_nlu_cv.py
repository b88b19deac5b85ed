"""Cross-validation of NLU pipelines (scripts/nlu_cv.py): folds, fold data,
and one real two-fold run of the project's config."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from scripts import nlu_cv

ROOT = Path(__file__).resolve().parents[2]


def test_folds_cover_every_example_once_and_keep_label_shares() -> None:
    labels = ["a"] * 30 + ["b"] * 15 + ["c"] * 6
    folds = nlu_cv.folds_of(labels, 3, seed=0)
    held = [i for fold in folds for i in fold]
    assert sorted(held) == list(range(len(labels)))
    for fold in folds:
        counts = Counter(labels[i] for i in fold)
        assert counts == {"a": 10, "b": 5, "c": 2}


def test_folds_repeat_with_the_seed() -> None:
    labels = ["a", "b"] * 20
    assert nlu_cv.folds_of(labels, 4, seed=1) == nlu_cv.folds_of(labels, 4, seed=1)
    assert nlu_cv.folds_of(labels, 4, seed=1) != nlu_cv.folds_of(labels, 4, seed=2)


def test_fold_data_holds_only_the_kept_examples(tmp_path: Path) -> None:
    data = load_data(str(ROOT / "data" / "nlu"))
    keep = list(range(0, len(data.intent_examples), 3))
    nlu_cv.write_fold_data(data, keep, tmp_path)
    written = load_data(str(tmp_path))
    kept = {data.intent_examples[i].get("text") for i in keep}
    assert {m.get("text") for m in written.intent_examples} == kept
    keys = {m.get("intent_response_key") for m in written.intent_examples}
    assert "faq/what_is_ims" in keys  # retrieval labels survive the round trip
    assert written.responses  # the FAQ answers come along


def test_a_share_keeps_that_part_of_every_label_in_order() -> None:
    labels = ["a"] * 40 + ["b"] * 8 + ["c"] * 3
    kept = nlu_cv.share_of(labels, 0.25)
    assert kept == sorted(kept)
    counts = Counter(labels[i] for i in kept)
    # a quarter of each label, and never fewer than two (one per fold of two)
    assert counts == {"a": 10, "b": 2, "c": 2}
    assert nlu_cv.share_of(labels, 1.0) == list(range(len(labels)))
    with pytest.raises(ValueError):
        nlu_cv.share_of(labels, 0)


@pytest.mark.slow  # trains the project's pipeline twice (on a quarter of the data)
def test_two_fold_run_of_the_project_config(tmp_path: Path, capsys) -> None:
    argv = ["config.yml", "--folds", "2", "--share", "0.25", "--out", str(tmp_path)]
    assert nlu_cv.main(argv) == 0
    report = json.loads((tmp_path / "nlu-cv.json").read_text())
    systems = report["systems"]
    assert set(systems) == {"config.yml", "tfidf_logreg"}
    data = load_data(str(ROOT / "data" / "nlu")).intent_examples
    labels = [nlu_cv.label_of(m) for m in data]
    total = len(nlu_cv.share_of(labels, 0.25))
    assert total < len(data) / 3
    for figures in systems.values():
        assert figures["examples"] == total
        misses = len(figures["misses"])
        assert figures["overall_accuracy"] == round((total - misses) / total, 4)
        # Trained on an eighth of the data, each system still gets most
        # messages right.
        assert figures["overall_accuracy"] > 0.5
    assert "tfidf_logreg" in capsys.readouterr().out
