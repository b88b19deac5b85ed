"""The benchmark's own code, on made-up figures, so it cannot rot unnoticed.

`make bench` itself (training, servers, timing) is not part of `make test`;
these check what it computes and writes: targets, report files, the
profile breakdown, the label mapping for Rasa's default pipeline, the
scoring of parses on both test sets, the with / without sentence features
configs and table, the epoch cap and the options. No time is judged here:
one slow test runs the part `handoff` for a few turns on the trained model,
to check that its figures and PASS/MISS lines come out.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from scripts.bench import (
    capacity,
    load,
    nlu,
    probe,
    profile,
    report,
    sentence,
    training,
)
from scripts.bench.__main__ import Options
from scripts.bench.nlu import rasa_label
from scripts.evaluate import TARGETS, Example

MIB = 1024**2


def turns_run(first: float, last: float, outside_nlu: float = 8.0) -> dict:
    by_ten = [
        {"turns": f"{i * 10 + 1}-{i * 10 + 10}", "p50": first + (last - first) * i / 7}
        for i in range(8)
    ]
    outside = [{"turns": row["turns"], "p50": outside_nlu} for row in by_ten]
    return {
        "turns": 80,
        "latency_ms": [first] * 40 + [last] * 40,
        "latency_by_ten": by_ten,
        "cpu_by_ten": by_ten,
        "cpu_outside_nlu_by_ten": outside,
    }


def fake_results(p50_paced: float = 80.0, rasa_rss_gib: float = 1.1) -> dict:
    def row(mode, concurrency, p50, errors=0):
        return {
            "mode": mode,
            "concurrency": concurrency,
            "think_s": 2.0 if mode == "paced" else 0.0,
            "seconds": 45.0,
            "messages": 300,
            "faq_turns": 270,
            "errors": errors,
            "error_kinds": {},
            "throughput_per_s": 6.7,
            "faq_latency_ms": {"p50": p50, "p95": p50 * 2, "p99": p50 * 3},
            "opening_latency_ms": {"p50": 90.0, "p95": 150.0, "p99": 170.0},
            "cpu_ms_per_message": {"rasa": 70.5, "actions": 3.0},
        }

    return {
        "meta": {
            "date": "2026-01-01 00:00 UTC",
            "machine": {"cpu": "Test CPU", "cores": 2, "memory_gib": 8.0},
            "mode": "full",
            "database": "throwaway SQLite file",
            "notes": ["made-up figures"],
        },
        "training": {
            "project": {"seconds": 300.0, "archive_bytes": 90 * 1024**2},
            "rasa_default": {"seconds": 900.0},
            "baseline": {"seconds": 20.0},
        },
        "startup": {"agent_load_seconds": 15.0, "server_start_seconds": 25.0},
        "turns": {
            "sqlite": {"kept": turns_run(40.0, 45.0), "replayed": turns_run(60.0, 90.0)}
        },
        "nlu": {
            "project": {
                "written": {
                    "examples": 354,
                    "overall_accuracy": 0.967,
                    "accuracy_without_fallback": 0.98,
                    "parse_ms": {"p50": 8.0},
                    "cpu_ms_per_message": 7.25,
                },
                "real": {"examples": 236, "overall_accuracy": 0.90},
                "real2": {"examples": 150, "overall_accuracy": 0.86},
            },
            "rasa_default": {
                "written": {"overall_accuracy": 0.95, "parse_ms": {"p50": 11.0}},
                "real": {"overall_accuracy": 0.92},
                "real2": {"overall_accuracy": 0.80},
            },
            "baseline": {
                "written": {"overall_accuracy": 0.99, "parse_ms": {"p50": 1.5}},
                "real": {"overall_accuracy": 0.85},
                "real2": {"overall_accuracy": 0.84},
            },
        },
        "sentence": fake_sentence(),
        "e2e": {
            "think_s": 2.0,
            "duration_per_level_s": 45.0,
            "levels": [
                row("paced", 1, 60.0),
                row("paced", 16, p50_paced),
                row("back_to_back", 16, 900.0, errors=2),
            ],
        },
        "profile": {
            "samples": 100,
            "during": "back_to_back, 16 conversations",
            "stages": [{"stage": "NLU parse (pipeline graph)", "share": 0.5}],
        },
        "rss": {
            "interval_s": 0.25,
            "rasa_peak_bytes": int(rasa_rss_gib * report.GIB),
            "actions_peak_bytes": 60 * 1024**2,
        },
    }


def fake_variant(accuracy: float, p50: float, cpu: float, peak_mib: int) -> dict:
    def figures(share: float) -> dict:
        return {
            "overall_accuracy": share,
            "faq_topic_accuracy": share - 0.01,
            "red_flag_recall": 1.0,
            "red_flag_false_alarms": 1,
            "parse_ms": {"p50": p50, "p95": p50 * 2},
            "cpu_ms_per_message": cpu,
        }

    return {
        "training_seconds": 100.0,
        "archive_bytes": 90 * MIB,
        "load_seconds": 9.5,
        "rss_after_load_bytes": (peak_mib - 100) * MIB,
        "rss_after_parse_bytes": (peak_mib - 50) * MIB,
        "rss_peak_bytes": peak_mib * MIB,
        "sets": {"written": figures(accuracy), "real": figures(accuracy - 0.1)},
    }


def fake_sentence() -> dict:
    return {
        "project_variant": "without",
        "variants": {
            "with": {
                "config": "sentence.yml + policies",
                **fake_variant(0.98, 12.0, 18.25, 1000),
            },
            "without": {"config": "config.yml", **fake_variant(0.96, 3.0, 2.5, 600)},
        },
    }


def verdicts(results: dict) -> dict:
    return {t.name: t.verdict for t in report.evaluate_targets(results)}


def test_targets_are_judged_against_the_issue_limits():
    got = verdicts(fake_results())
    assert got["FAQ turn p50, 16 conversations, paced"] == "PASS"  # 80 <= 100
    assert got["FAQ turn p95, 16 conversations, paced"] == "PASS"  # 160 <= 250
    assert got["FAQ turn p50, 16 conversations, back to back"] == "MISS"
    assert got["errors (all levels)"] == "MISS"  # two errors in one level
    assert got["Rasa server peak RSS"] == "PASS"
    written, real = "written test set", "real questions"
    assert got[f"NLU accuracy above the Rasa default pipeline, {written}"] == "PASS"
    assert got[f"NLU accuracy above the Rasa default pipeline, {real}"] == "MISS"
    baseline = "NLU accuracy above the TF-IDF + logistic regression"
    assert got[f"{baseline}, {written}"] == "MISS"
    assert got[f"{baseline}, {real}"] == "PASS"


@pytest.mark.parametrize(
    ("p50", "rss", "latency", "memory"),
    [(100.0, 1.5, "PASS", "PASS"), (100.5, 1.6, "MISS", "MISS")],
)
def test_limits_are_inclusive(p50, rss, latency, memory):
    got = verdicts(fake_results(p50_paced=p50, rasa_rss_gib=rss))
    assert got["FAQ turn p50, 16 conversations, paced"] == latency
    assert got["Rasa server peak RSS"] == memory


def test_unmeasured_figures_are_neither_pass_nor_miss():
    results = fake_results()
    del results["e2e"], results["rss"], results["nlu"]["baseline"]
    got = verdicts(results)
    assert got["FAQ turn p50, 16 conversations, paced"] == "n/a"
    assert got["errors (all levels)"] == "n/a"
    assert got["Rasa server peak RSS"] == "n/a"
    baseline = "NLU accuracy above the TF-IDF + logistic regression"
    assert got[f"{baseline}, written test set"] == "n/a"
    assert got[f"{baseline}, real questions"] == "n/a"
    assert got["NLU accuracy above the Rasa default pipeline, real questions"] == (
        "MISS"
    )


def test_report_files_are_written(tmp_path):
    targets = report.write({**fake_results(), **capacity_results()}, tmp_path)

    document = json.loads((tmp_path / "bench.json").read_text())
    assert document["e2e"]["levels"][1]["faq_latency_ms"]["p50"] == 80.0
    assert [t["name"] for t in document["targets"]] == [t.name for t in targets]
    assert {t["passed"] for t in document["targets"]} == {True, False}

    table = (tmp_path / "bench.md").read_text()
    assert (
        "| paced | 16 | 270 | 80.0 ms | 160.0 ms | 240.0 ms | 6.7 | 0 "
        "| 70.5 ms, 3.0 ms |"
    ) in table
    assert "## NLU on the written test set (`tests/nlu/test_nlu.yml`, 354" in table
    assert "## NLU on the real questions (`tests/nlu/real/questions.tsv`, 236" in table
    assert "| this project (config.yml) | 96.7% | 98.0% |" in table
    assert "| 8.00 ms | n/a | 7.25 ms | 300.0 s |" in table  # p50, p95, CPU
    assert "| TF-IDF + logistic regression | 85.0% |" in table
    assert "| NLU parse (pipeline graph) | 50% |" in table
    assert "| Rasa server | 1126 MiB |" in table
    assert "## Capacity and memory" in table
    assert "made-up figures" in table

    png = (tmp_path / "latency.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_a_report_without_load_figures_is_still_written(tmp_path):
    results = fake_results()
    del results["e2e"], results["profile"]
    report.write(results, tmp_path)
    assert "## End to end" in (tmp_path / "bench.md").read_text()
    assert (tmp_path / "latency.png").exists()


def test_percentiles():
    assert report.percentiles([]) == {}
    got = report.percentiles([float(x) for x in range(1, 101)])
    assert got == {"p50": 50.5, "p95": 95.05, "p99": 99.01}


def test_profile_stages_take_the_first_matching_stage():
    processor = "handle_message (rasa/core/processor.py:1)"
    check = "_validate_action_result (rasa/core/actions/action.py:700)"
    raw = "\n".join(
        [
            f"main (x.py:1);{processor};{check};check (jsonschema/validators.py:1) 6",
            f"main (x.py:1);{processor};"
            "_parse_message_with_graph (rasa/core/processor.py:9) 3",
            "iter_errors (jsonschema/validators.py:301) 1",  # a cut-short stack
            "main (x.py:1);select (selectors.py:469) 2",
            "",
        ]
    )
    got = {r["stage"]: r["share"] for r in profile.breakdown(raw)["stages"]}
    assert got == {
        profile.STAGES[0][0]: round(7 / 12, 4),
        "NLU parse (pipeline graph)": 0.25,
        profile.OTHER: round(2 / 12, 4),
    }


def test_the_default_pipelines_answer_is_read_like_the_projects():
    answer = {"response": {"intent_response_key": "faq/cost"}}
    default = {"intent": {"name": "faq"}, "response_selector": {"default": answer}}
    project = {"intent": {"name": "faq"}, "response_selector": {"faq": answer}}
    assert rasa_label(default) == rasa_label(project) == "faq/cost"
    assert rasa_label({"intent": {"name": "greet"}}) == "greet"


def test_without_fallback_the_classifiers_own_guess_counts():
    answer = {"response": {"intent_response_key": "faq/cost"}}
    parse = {
        "intent": {"name": "nlu_fallback", "confidence": 0.5},
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 0.5},
            {"name": "faq", "confidence": 0.45},
            {"name": "greet", "confidence": 0.3},
        ],
        "response_selector": {"faq": answer},
    }
    assert rasa_label(parse) == "nlu_fallback"
    assert rasa_label(parse, fallback=False) == "faq/cost"


def test_epochs_are_capped_in_a_copy_only(tmp_path):
    path, notes = training.capped_config(training.DEFAULT_CONFIG, 5, tmp_path)
    config = yaml.safe_load(path.read_text())
    components = config["pipeline"] + (config.get("policies") or [])
    epochs = [c["epochs"] for c in components if "epochs" in c]
    assert epochs and set(epochs) == {5}
    assert len(notes) == len(epochs)
    assert path.parent == tmp_path
    assert "epochs: 100" in training.DEFAULT_CONFIG.read_text()  # source untouched
    same, none = training.capped_config(training.PROJECT_CONFIG, None, tmp_path)
    assert (same, none) == (training.PROJECT_CONFIG, [])


def test_the_default_config_is_rasas_built_in_default():
    from rasa.engine.recipes import default_recipe

    builtin = Path(default_recipe.__file__).parent / "config_files"
    ours = yaml.safe_load(training.DEFAULT_CONFIG.read_text())
    theirs = yaml.safe_load((builtin / "default_config.yml").read_text())
    assert ours["pipeline"] == theirs["pipeline"]


def test_options_from_the_environment(tmp_path):
    quick = Options.from_env({"BENCH_QUICK": "1", "BENCH_OUT": str(tmp_path)})
    assert quick.quick and quick.epochs == 5 and quick.plan.duration == 10
    full = Options.from_env(
        {"BENCH_LEVELS": "2,16", "BENCH_THINK": "3", "BENCH_PROFILE": "0"}
    )
    assert not full.quick and full.epochs is None
    assert full.plan.paced_levels == [2, 16] and full.plan.think == 3.0
    assert full.plan.profile_to is None
    assert Options.from_env({"BENCH_SKIP": "sentence,load"}).skip == {
        "sentence",
        "load",
    }
    with pytest.raises(SystemExit):
        Options.from_env({"BENCH_SKIP": "everything"})
    with pytest.raises(SystemExit):
        Options.from_env({"BENCH_DATABASE": "mysql"})


def test_the_load_messages_are_not_from_the_test_set():
    from tests.conftest import ROOT

    test_set = (ROOT / "tests" / "nlu" / "test_nlu.yml").read_text().lower()
    for message in [*load.FAQ_MESSAGES, load.OPENING]:
        assert f"- {message.lower()}\n" not in test_set


def test_the_staff_benchmark_finds_what_it_wrote(tmp_path):
    """`make bench-staff` on a small data set: every query answers about the
    chats it generated (counted here straight from the table)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import create_engine, text

    from scripts.bench import staff

    url = f"sqlite:///{tmp_path / 'staff.db'}"
    figures = staff.measure(url, conversations=60, repeat=1)
    data, queries = figures["dataset"], figures["queries"]
    assert data["stored_events"] == data["events"] > 60 * 30
    assert set(figures["indexes_added"]) == {
        "ix_events_timestamp",
        "ix_events_type_name_timestamp",
    }
    assert queries["conversation list, all"]["result"] == {"total": 60, "rows": 50}
    assert (
        queries["conversation list, red flags"]["result"]["total"]
        == (data["red_flagged"])
    )
    today = datetime.now(timezone.utc).date()
    start = datetime.combine(today - timedelta(days=29), datetime.min.time())
    since = start.replace(tzinfo=timezone.utc).timestamp()
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        chatted = connection.execute(
            text(
                "SELECT count(DISTINCT sender_id) FROM events "
                "WHERE type_name = 'user' AND timestamp >= :since"
            ),
            {"since": since},
        ).scalar()
    engine.dispose()
    assert 0 < chatted < 60
    assert queries["dashboard, 30 days"]["result"]["conversations"] == chatted


def test_the_with_and_without_table_puts_the_variants_side_by_side(tmp_path):
    report.write(fake_results(), tmp_path)
    table = (tmp_path / "bench.md").read_text()
    _, section = table.split("## With / without sentence features\n")
    section = section.split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows[0] == "| figure | with sentence features | without |"
    assert 'config.yml is the "without" one' in section
    real = TARGETS["real"]
    for row in [
        "| config | sentence.yml + policies | config.yml |",
        "| accuracy, written test set | 98.0% | 96.0% |",
        "| accuracy, real questions | 88.0% | 86.0% |",
        "| FAQ topic accuracy, written test set (`make evaluate`: >= "
        f"{TARGETS['written']['faq_topic_accuracy']:.0%}) | 97.0% | 95.0% |",
        "| FAQ topic accuracy, real questions (`make evaluate`: >= "
        f"{real['faq_topic_accuracy']:.0%}) | 87.0% | 85.0% |",
        "| out-of-scope recall, real questions (`make evaluate`: >= "
        f"{real['out_of_scope_recall']:.0%}) | n/a | n/a |",
        "| red-flag false alarms, written test set | 1 | 1 |",
        "| parse p50 / p95 per message, written test set "
        "| 12.00 / 24.00 ms | 3.00 / 6.00 ms |",
        "| CPU per parsed message, real questions | 18.25 ms | 2.50 ms |",
        "| `Agent.load` | 9.5 s | 9.5 s |",
        "| RSS after `Agent.load` | 900 MiB | 500 MiB |",
        "| peak RSS | 1000 MiB | 600 MiB |",
    ]:
        assert row in rows
    document = json.loads((tmp_path / "bench.json").read_text())
    variants = document["sentence"]["variants"]
    assert variants["with"]["sets"]["real"]["cpu_ms_per_message"] == 18.25


def test_no_with_and_without_table_when_it_was_skipped(tmp_path):
    results = fake_results()
    del results["sentence"]
    report.write(results, tmp_path)
    assert "With / without" not in (tmp_path / "bench.md").read_text()


EXAMPLES = [
    Example("how much is it", "faq/cost"),
    Example("hello", "greet"),
    Example("my leg is numb and I cannot breathe", "emergency"),
    Example("what is the weather", "out_of_scope"),
]


def test_set_figures_score_the_labels_and_divide_the_cpu_time():
    raw = {
        "labels": ["faq/cost", "greet", "emergency", "nlu_fallback"],
        "guesses": ["faq/cost", "greet", "emergency", "out_of_scope"],
        "parse_ms": [1.0, 2.0, 3.0, 4.0],
        "cpu_seconds": 0.01,
    }
    got = nlu.set_figures(EXAMPLES, raw)
    assert got["examples"] == 4
    assert got["overall_accuracy"] == 0.75
    assert got["accuracy_without_fallback"] == 1.0
    assert got["out_of_scope_recall"] == 0.0
    assert got["red_flag_recall"] == 1.0
    assert got["parse_ms"] == {"p50": 2.5, "p95": 3.85}
    assert got["cpu_ms_per_message"] == 2.5  # 10 ms over 4 messages


class FakeAgent:
    """Answers like Rasa's parse: faq with a selector answer, or greet."""

    def __init__(self):
        self.seen = []

    async def parse_message(self, text):
        self.seen.append(text)
        if "much" in text:
            key = {"intent_response_key": "faq/cost"}
            return {
                "intent": {"name": "faq"},
                "response_selector": {"faq": {"response": key}},
            }
        return {"intent": {"name": "greet"}}


def test_each_test_set_is_parsed_after_the_warm_up_and_scored_apart():
    agent = FakeAgent()
    sets = {"written": EXAMPLES[:2], "real": EXAMPLES[2:]}
    got = nlu.rasa_figures(agent, sets)
    texts = [e.text for e in EXAMPLES]
    assert agent.seen == [*nlu.WARM_UP, *texts]
    assert got["written"]["overall_accuracy"] == 1.0
    assert got["real"]["overall_accuracy"] == 0.0  # both read as greet
    assert got["written"]["examples"] == got["real"]["examples"] == 2
    assert got["real"]["cpu_ms_per_message"] >= 0


def test_the_baseline_is_scored_on_every_set():
    class Model:
        def predict(self, texts):
            return ["faq/cost" if "much" in texts[0] else "greet"]

    got = nlu.baseline_figures(Model(), {"written": EXAMPLES, "real": EXAMPLES[:1]})
    assert got["written"]["overall_accuracy"] == 0.5
    assert got["real"]["overall_accuracy"] == 1.0
    assert got["written"]["accuracy_without_fallback"] == 0.5


def read_config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


FEATURIZER = {"name": "my.own.SentenceEmbeddingFeaturizer", "model_path": "x"}
CLASSIFIER = {"name": "components.linear_classifier.LinearIntentClassifier"}


def test_without_drops_the_featurizer_and_the_dense_weight(tmp_path):
    """And the nearest-examples vote, which reads the same vectors."""
    config = {
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            FEATURIZER,
            {**CLASSIFIER, "C": 100, "dense_weight": 1.0, "neighbour_weight": 0.4},
        ],
        "policies": [{"name": "RulePolicy"}],
    }
    assert sentence.variant_of(config) == sentence.WITH
    other, derived, source = sentence.other_variant(config)
    assert other == sentence.WITHOUT and "config.yml" in source
    assert derived["pipeline"] == [
        {"name": "WhitespaceTokenizer"},
        {**CLASSIFIER, "C": 100, "dense_weight": 0.0, "neighbour_weight": 0.0},
    ]
    assert derived["policies"] == config["policies"]
    assert sentence.variant_of(derived) == sentence.WITHOUT
    assert config["pipeline"][1] == FEATURIZER  # the source is untouched


def test_a_config_without_the_featurizer_has_nothing_to_compare():
    project = {"pipeline": [{"name": "WhitespaceTokenizer"}, CLASSIFIER]}
    with pytest.raises(SystemExit):
        sentence.other_variant(project)


def test_the_two_variants_of_the_project_differ_by_the_featurizer_only():
    with_ = project = read_config(training.PROJECT_CONFIG)
    assert sentence.variant_of(project) == sentence.WITH
    without = sentence.without_features(with_)
    names = sentence.pipeline_names(with_)
    assert any(n.endswith(sentence.FEATURIZER) for n in names)
    assert sentence.pipeline_names(without) == [
        n for n in names if not n.endswith(sentence.FEATURIZER)
    ]
    assert without["policies"] == with_["policies"] == project["policies"]


def test_a_probe_is_scored_per_test_set(tmp_path, monkeypatch):
    sets = {"written": EXAMPLES[:2], "real": EXAMPLES[2:]}

    def fake_probe(command, log, extra_env=None):
        model, messages, out = (Path(a) for a in command[-3:])
        assert command[:3] == [sys.executable, "-m", "scripts.bench.probe"]
        given = json.loads(messages.read_text())
        assert given == {k: [e.text for e in v] for k, v in sets.items()}
        raw = {
            name: {
                "labels": [e.label for e in examples],
                "guesses": [e.label for e in examples],
                "parse_ms": [5.0, 7.0],
                "cpu_seconds": 0.03,
            }
            for name, examples in sets.items()
        }
        raw["written"]["labels"][0] = "nlu_fallback"
        out.write_text(
            json.dumps({"load_seconds": 2.5, "rss_peak_bytes": 7, "sets": raw})
        )
        return 1.0

    monkeypatch.setattr(training, "run_logged", fake_probe)
    got = sentence.measure(tmp_path / "m.tar.gz", sets, tmp_path, "with")
    assert got["load_seconds"] == 2.5 and got["rss_peak_bytes"] == 7
    assert got["rss_after_load_bytes"] is None  # not reported: not made up
    assert got["sets"]["written"]["overall_accuracy"] == 0.5
    assert got["sets"]["written"]["accuracy_without_fallback"] == 1.0
    assert got["sets"]["real"]["overall_accuracy"] == 1.0
    assert got["sets"]["real"]["cpu_ms_per_message"] == 15.0
    assert got["sets"]["real"]["parse_ms"] == {"p50": 6.0, "p95": 6.9}


def test_the_probes_memory_readings_are_bytes():
    now = probe.rss_bytes()
    assert 10 * MIB < now < 1024 * 1024 * MIB
    # Bytes, not KiB (Linux's unit): within a small factor of the RSS now.
    assert now / 2 < probe.kernel_peak_bytes() < now * 100
    assert probe.peak_rss_bytes() >= probe.kernel_peak_bytes()


def test_a_probes_peak_is_its_own_not_its_parents():
    """A probe started by a process that holds much memory (as the benchmark
    does, with three models loaded) reports only its own."""
    import subprocess

    held = b"x" * (400 * MIB)  # resident in this process
    code = "from scripts.bench.probe import peak_rss_bytes; print(peak_rss_bytes())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert int(done.stdout) < 300 * MIB < len(held)


def test_the_probe_explains_its_arguments(capsys):
    assert probe.main(["only-a-model"]) == 2
    assert "MESSAGES.json" in capsys.readouterr().err


def test_a_failing_subprocess_raises_with_its_output(tmp_path):
    command = [sys.executable, "-c", "print('the reason'); raise SystemExit(3)"]
    with pytest.raises(RuntimeError, match="the reason"):
        training.run_logged(command, tmp_path / "fail.log")
    assert training.run_logged([sys.executable, "-c", ""], tmp_path / "ok.log") >= 0


@pytest.mark.parametrize(
    ("first", "last", "verdict"),
    [(40.0, 50.0, "PASS"), (40.0, 51.0, "MISS")],
)
def test_a_turns_cost_by_its_number_is_judged(first, last, verdict):
    results = fake_results()
    results["turns"] = {
        "sqlite": {"kept": turns_run(first, last), "replayed": turns_run(60, 120)},
        "postgresql": {"kept": turns_run(40, 45, 12.0), "replayed": turns_run(60, 120)},
    }
    name = "last 10 turns' p50 over first 10 turns' p50, one 80-turn conversation"
    assert verdicts(results)[f"{name}, sqlite"] == verdict
    assert verdicts(results)[f"{name}, postgresql"] == "PASS"
    outside = "CPU per FAQ turn outside NLU, turns {}, {}"
    assert verdicts(results)[outside.format("1-10", "sqlite")] == "PASS"
    assert verdicts(results)[outside.format("71-80", "postgresql")] == "MISS"
    table = report.markdown(results, report.evaluate_targets(results))
    assert "| 71-80 | 120.0 ms | " in table  # replayed, beside kept
    assert "in process, PostgreSQL)" in table


def test_a_bench_json_from_before_postgresql_still_reads_as_sqlite():
    results = fake_results()
    results["turns"] = {"kept": turns_run(40, 45), "replayed": turns_run(60, 90)}
    assert list(report.turns_runs(results)) == ["sqlite"]
    assert "| 1-10 | 60.0 ms | 40.0 ms |" in "\n".join(report.turns_table(results))


def test_the_turns_chart_is_drawn(tmp_path):
    results = fake_results()
    assert report.turns_chart(results, tmp_path / "turns.png")
    assert (tmp_path / "turns.png").stat().st_size > 10_000
    assert not report.turns_chart({}, tmp_path / "none.png")


def test_turns_figures_come_in_runs_of_ten():
    from scripts.bench.turns import windows

    assert windows([1.0, 2.0, 3.0] * 5) == [
        {"turns": "1-10", "p50": 2.0},
        {"turns": "11-15", "p50": 2.0},
    ]


def test_a_turns_time_is_broken_down_by_suspect():
    from types import SimpleNamespace

    from scripts.bench.turns import SUSPECTS, breakdown

    def row(seconds):
        return (1, 1, 0.0, seconds, {})

    stats = SimpleNamespace(
        stats={
            ("/x/rasa/shared/core/domain.py", 1, "states_for_tracker_history"): row(
                0.05
            ),
            # the wrapper's time includes Rasa's own, which it called
            (
                "/x/rasa_extensions/history_cache.py",
                9,
                "states_for_tracker_history",
            ): row(0.08),
            ("/x/rasa/core/processor.py", 2, "handle_message"): row(0.4),
            ("/x/elsewhere.py", 3, "handle_message"): row(9.0),
        }
    )
    found = breakdown(stats, turns=10)
    assert set(found) == set(SUSPECTS)
    assert found["  of which the states"] == 8.0
    assert found["whole turn"] == 40.0
    assert found["NLU parse"] == 0.0


def test_the_profile_table_has_a_column_per_run_and_window():
    results = fake_results()
    window = {"whole turn": 40.0, "NLU parse": 20.0}
    results["turns_profile"] = {
        "replayed": {"1-10": window, "71-80": {**window, "whole turn": 90.0}},
        "kept": {"1-10": window, "71-80": {**window, "whole turn": 45.0}},
    }
    lines = report.turns_profile_table(results)
    assert "replayed, turns 71-80 | kept, turns 1-10" in lines[0]
    assert "| whole turn | 40.0 | 90.0 | 40.0 | 45.0 |" in lines
    assert report.turns_profile_table(fake_results()) == []


def capacity_results(rate=40.0, scaled=76.0, first=900, peak=950) -> dict:
    def run(messages_per_s: float) -> dict:
        return {
            "messages": 656,
            "seconds": 656 / messages_per_s,
            "throughput_per_s": messages_per_s,
            "all_under_way_per_s": messages_per_s,
            "faq_latency_ms": {"p50": 380.0, "p95": 612.0},
            "errors": 0,
            "cpu_ms_per_message": 21.0,
            "machine_busy": 0.97,
            "cpu_by_process": {
                "Rasa": 21.0,
                "PostgreSQL": 2.0,
                "load client": 1.25,
                "rest of the machine": 0.5,
            },
        }

    return {
        "capacity": {
            "database": "postgresql",
            "sixteen_by_forty": run(rate),
            "scaled": run(scaled),
            "scaled_ratio": round(scaled / rate, 2),
            "scaled_ratio_whole_run": round(scaled / rate, 2),
            "memory": {
                "conversations": 1000,
                "first": 10,
                "rss_after_first_bytes": first * MIB,
                "peak_rss_after_all_bytes": peak * MIB,
                "ratio": round(peak / first, 3),
            },
        }
    }


@pytest.mark.parametrize(
    "rate, scaled, peak, verdicts",
    [
        (40.0, 76.0, 950, ["PASS", "PASS", "PASS"]),
        (38.0, 68.4, 990, ["PASS", "PASS", "PASS"]),  # limits are inclusive
        (24.3, 40.0, 1200, ["MISS", "MISS", "MISS"]),
    ],
)
def test_the_capacity_targets_are_judged(rate, scaled, peak, verdicts):
    targets = report.capacity_targets(capacity_results(rate, scaled, 900, peak))
    assert [t.verdict for t in targets] == verdicts
    assert "FAQ turn p95 612 ms" in targets[0].name
    assert "16 conversations of 40 turns" in targets[0].name
    assert [t.limit for t in targets] == [38.0, 1.8, 1.1]
    found = capacity_results(rate, scaled, 900, peak)
    names = [t.name for t in report.evaluate_targets(found)]
    assert all(t.name in names for t in targets)


def test_the_scaled_ratio_is_of_the_rates_while_every_conversation_runs():
    one = {"throughput_per_s": 50.0, "all_under_way_per_s": 51.0}
    two = {"throughput_per_s": 80.0, "all_under_way_per_s": 102.0}
    assert capacity.ratios(one, two) == {
        "scaled_ratio": 2.0,
        "scaled_ratio_whole_run": 1.6,
    }
    # a run that could not tell (fewer ends than people): the whole run's
    assert capacity.ratios({"throughput_per_s": 50.0}, two)["scaled_ratio"] == 1.6


def test_all_under_way_counts_the_replies_before_the_first_end():
    # four people; 6 replies by 2 s, when the first conversation ended
    replied = [0.5, 1.0, 1.0, 1.5, 2.0, 2.0, 3.0, 4.0, 4.0]
    found = capacity.all_under_way(replied, [4.0, 2.0, 4.0, 3.0], people=4)
    assert found["all_under_way_s"] == 2.0
    assert found["all_under_way_per_s"] == 3.0
    assert found["ended_at_s"] == [2.0, 3.0, 4.0, 4.0]
    # not every person finished: no rate
    assert "all_under_way_per_s" not in capacity.all_under_way(replied, [2.0], 4)


def test_the_capacity_table_shows_when_each_scaled_conversation_ended():
    found = capacity_results()
    found["capacity"]["scaled"]["ended_at_s"] = [4.26, 4.3, 7.08, 7.42]
    text = "\n".join(report.capacity_table(found))
    assert "conversation ended: 4.26, 4.3, 7.08, 7.42." in text
    targets = report.capacity_targets(found)
    assert "while all 16 conversations are under way" in targets[1].name
    assert "whole run 1.9 x" in targets[1].name


def test_capacity_targets_not_measured_are_neither_pass_nor_miss():
    targets = report.capacity_targets({})
    assert [t.verdict for t in targets] == ["n/a"] * 3
    found = capacity_results()
    del found["capacity"]["scaled"], found["capacity"]["scaled_ratio"]
    found["capacity"]["scaled_missing"] = "nginx is not installed"
    scaled = report.capacity_targets(found)[1]
    assert scaled.verdict == "n/a" and "nginx is not installed" in scaled.name


def test_the_capacity_table_shows_both_servers_and_the_memory():
    text = "\n".join(report.capacity_table(capacity_results()))
    assert (
        "| one Rasa process | 656 | 16.4 s | 40.0 | 40.0 | 380.0 ms | 612.0 ms |"
        in text
    )
    assert "make run-scaled (2 replicas behind nginx) | 656 |" in text
    assert "900 MiB" in text and "950 MiB" in text and "1.056 x" in text
    assert report.capacity_table({}) == []


def test_the_capacity_table_shows_the_cpu_of_each_process():
    found = capacity_results()
    found["capacity"]["scaled"]["cpu_by_process"]["nginx"] = 0.16
    text = "\n".join(report.capacity_table(found))
    assert "| process | one Rasa process | make run-scaled" in text
    assert "| Rasa | 21.00 ms | 21.00 ms |" in text
    assert "| nginx | n/a | 0.16 ms |" in text
    assert text.index("| Rasa |") < text.index("| nginx |") < text.index("| load")
    assert "| all but the rest of the machine | 24.25 ms | 24.41 ms |" in text


def test_cpu_by_process_is_per_message_and_counts_new_processes():
    from scripts.bench import capacity

    before = {(1, 0.0): ("Rasa", 10.0), (2, 0.0): ("PostgreSQL", 1.0)}
    after = {
        (1, 0.0): ("Rasa", 12.0),
        (2, 0.0): ("PostgreSQL", 1.5),
        (3, 5.0): ("PostgreSQL", 0.1),  # a backend started during the run
    }
    tick = os.sysconf("SC_CLK_TCK")
    machine = ([0] * 10, [int(3.0 * tick), 0, 0, int(1.0 * tick)] + [0] * 6)
    spent = capacity.cpu_by_process(before, after, machine, 200)
    assert spent == {"PostgreSQL": 3.0, "Rasa": 10.0, "rest of the machine": 2.0}


def test_process_cpu_finds_the_set_up_s_processes_and_this_one(tmp_path):
    import subprocess
    import sys

    from scripts.bench import capacity

    child = subprocess.Popen(  # stands in for `rasa run` (its command line)
        [sys.executable, "-c", "import time; time.sleep(30)", "rasa_extensions run"]
    )
    try:
        found = capacity.process_cpu([child.pid])
    finally:
        child.kill()
        child.wait()
    kinds = {key[0]: kind for key, (kind, _) in found.items()}
    assert kinds[child.pid] == "Rasa" and kinds[os.getpid()] == "load client"


async def test_the_capacity_load_counts_whole_conversations():
    """`capacity.conversations` on a stand-in server: each of `total`
    conversations is a greeting and `turns` questions."""
    from aiohttp import web

    from scripts.bench import capacity
    from scripts.ports import free_port

    seen: list = []

    async def webhook(request):
        seen.append((await request.json())["sender"])
        return web.json_response([{"text": "an answer"}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        ended: list = []
        run = await capacity.conversations(
            f"http://127.0.0.1:{port}", 3, 2, 7, "t", ended.append
        )
    finally:
        await runner.cleanup()
    assert run["conversations"] == 7 and ended == list(range(1, 8))
    assert run["messages"] == 7 * 3 == len(seen) and run["errors"] == 0
    assert len(set(seen)) == 7  # a sender per conversation
    assert run["throughput_per_s"] > 0 and "p95" in run["faq_latency_ms"]
    # three people, seven conversations: every end is timed, and the rate
    # while all three ran covers the replies up to the first end
    assert len(run["ended_at_s"]) == 7 and run["ended_at_s"] == sorted(
        run["ended_at_s"]
    )
    assert run["all_under_way_s"] == run["ended_at_s"][0]
    assert run["all_under_way_per_s"] > 0


def test_the_capacity_part_can_be_left_out_and_sized():
    options = Options.from_env({"BENCH_SKIP": "capacity", "BENCH_CONVERSATIONS": "20"})
    assert "capacity" in options.skip and options.conversations == 20
    assert Options.from_env({}).conversations == 1000


def test_the_py_spy_table_is_its_own_for_the_docs():
    rows = report.profile_table(fake_results())
    assert "| NLU parse (pipeline graph) | 50% |" in rows
    assert report.profile_table({}) == []


def handoff_run(cpu=(30.0, 31.0), latency=(50.0, 52.0), sql=(4.0, 4.0)) -> dict:
    """The part `handoff`'s figures for one database: never, then after."""

    def kind(cpu_ms, latency_ms, statements):
        return {
            "faq_turns": 120,
            "median": {
                "latency_ms": latency_ms,
                "cpu_ms": cpu_ms,
                "cpu_outside_nlu_ms": cpu_ms / 3,
            },
            "per_turn_mean": {
                "sql_statements": statements,
                "live_chat_sql_statements": 0.0,
                "actions": 2.0,
                "action_server_calls": 0.0,
            },
        }

    never, after = kind(cpu[0], latency[0], sql[0]), kind(cpu[1], latency[1], sql[1])
    return {
        "conversations": 3,
        "other_open_chats": 4,
        "faq_turns_with_other_replies": 0,
        "never": never,
        "after": after,
        "cpu_ratio": round(cpu[1] / cpu[0], 3),
        "latency_ratio": round(latency[1] / latency[0], 3),
        "extra_per_faq_turn": {
            key: after["per_turn_mean"][key] - never["per_turn_mean"][key]
            for key in never["per_turn_mean"]
        },
    }


@pytest.mark.parametrize(
    ("cpu", "latency", "sql", "verdicts"),
    [
        ((30.0, 33.0), (50.0, 50.0), (4.0, 4.0), ["PASS"] * 4),  # 1.10: inclusive
        ((30.0, 33.1), (50.0, 56.0), (4.0, 5.0), ["MISS", "MISS", "MISS", "PASS"]),
    ],
)
def test_an_faq_turn_after_a_live_chat_is_judged(cpu, latency, sql, verdicts):
    results = {"handoff": {"sqlite": handoff_run(cpu, latency, sql)}}
    targets = report.handoff_targets(results)
    assert [t.verdict for t in targets] == verdicts
    assert [t.limit for t in targets] == [1.1, 1.1, 0, 0]
    assert "median CPU per FAQ turn after a live chat" in targets[0].name
    assert all(t.name.endswith("sqlite") or "sqlite" in t.name for t in targets)
    names = [t.name for t in report.evaluate_targets({**fake_results(), **results})]
    assert all(t.name in names for t in targets)
    assert report.handoff_targets(fake_results()) == []


def test_the_handoff_table_puts_never_beside_after():
    results = {
        "handoff": {
            "sqlite": handoff_run(),
            "postgresql": handoff_run((40.0, 41.0), (60.0, 59.0), (5.0, 5.0)),
        }
    }
    lines = report.handoff_table(results)
    assert "3 conversations that never had a live chat" in lines[0]
    assert "| SQLite | 120 | 50.0 ms | 52.0 ms | 30.0 ms | 31.0 ms |" in lines[4]
    assert lines[5].startswith("| PostgreSQL | 120 | 60.0 ms | 59.0 ms |")
    assert "| 5 / 5 | 0 / 0 | 0 / 0 | 0 |" in lines[5]
    table = report.markdown({**fake_results(), **results}, [])
    assert "## An FAQ turn after a live chat" in table
    assert report.handoff_table(fake_results()) == []


def test_the_handoff_part_counts_sql_statements_and_live_chat_tables():
    from sqlalchemy import create_engine, text

    from scripts.bench import handoff

    counts = handoff.Counts()
    engine = create_engine("sqlite://", future=True)
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE handoff_chats (id INTEGER)"))
        with handoff.counting_sql(counts):
            connection.execute(text("SELECT 1"))
            connection.execute(text("SELECT count(*) FROM handoff_chats"))
        connection.execute(text("SELECT 2"))  # after: not counted
    engine.dispose()
    assert (counts.sql, counts.live_chat_sql) == (2, 1)
    counts.reset()
    assert (counts.sql, counts.live_chat_sql, counts.action_names) == (0, 0, [])


async def test_the_handoff_part_counts_what_reaches_the_action_server():
    """Actions the FAQ path runs in Rasa's process are counted as actions
    only; any other goes on to the action server (here in process)."""
    from rasa_sdk.interfaces import ActionNotFoundException

    from scripts.bench import handoff

    counts = handoff.Counts()
    endpoint = handoff.counting_endpoint(counts)
    tracker = {"sender_id": "x", "events": [], "slots": {}, "latest_message": {}}
    body = {"tracker": tracker, "domain": {}, "version": "3.6.21"}
    await endpoint.request(json={**body, "next_action": "action_ask_feedback"})
    assert (counts.actions, counts.action_server) == (1, 0)
    with pytest.raises(ActionNotFoundException):
        await endpoint.request(json={**body, "next_action": "action_nobody_wrote"})
    assert (counts.actions, counts.action_server) == (2, 1)
    assert counts.action_names == ["action_ask_feedback", "action_nobody_wrote"]


@pytest.mark.slow  # loads the trained model, has a live chat and 6 FAQ turns
def test_the_handoff_part_runs_and_prints_its_targets(trained_model, capsys):
    from scripts.bench import handoff

    arguments = ["--model", str(trained_model), "--rounds", "3"]
    assert (
        handoff.main([*arguments, "--conversations", "1", "--database", "sqlite"]) == 0
    )
    out = capsys.readouterr().out
    assert "sqlite: 3 FAQ turns of each kind; CPU p50 " in out
    assert "tables), 0 action-server calls" in out  # an FAQ turn never calls it
    for target in ("median CPU per FAQ turn", "median latency per FAQ turn"):
        assert re.search(
            rf"  (PASS|MISS)  {target} after a live chat over one without "
            r"\(3 each, sqlite\): [0-9.]+ x \(<= 1.1\)",
            out,
        )
    assert re.search(r"  PASS  SQL statements per FAQ turn .*, sqlite: 0 ", out)
    assert re.search(r"  PASS  action-server calls per FAQ turn .*: 0 ", out)


def test_the_machines_busy_share_counts_every_busy_tick_and_not_idle_or_io_wait():
    from scripts.bench.capacity import busy_share

    #         user nice system idle iowait irq softirq steal guest
    before = [100, 0, 50, 1000, 10, 0, 0, 0, 0]
    after = [160, 0, 70, 1010, 20, 5, 5, 0, 99]  # guest is in user already
    assert busy_share(before, after) == 0.82  # 90 busy of 110
    assert busy_share(None, after) is None
    assert busy_share(before, before) is None


def test_the_capacity_table_shows_how_busy_the_machine_was():
    found = capacity_results()
    del found["capacity"]["scaled"]["machine_busy"]
    lines = report.capacity_table(found)
    rows = [line for line in lines if line.startswith(("| one", "| make"))]
    assert rows[0].endswith("| 97% |") and rows[1].endswith("| n/a |")
