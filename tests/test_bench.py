"""The benchmark's own code, on made-up figures, so it cannot rot unnoticed.

`make bench` itself (training, servers, timing) is not part of `make test`;
these check what it computes and writes: targets, report files, the
profile breakdown, the label mapping for Rasa's default pipeline, the
epoch cap and the options. Nothing here is timed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from scripts.bench import load, profile, report, training
from scripts.bench.__main__ import Options
from scripts.bench.nlu import rasa_label


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
        "nlu": {
            "project": {
                "overall_accuracy": 0.967,
                "accuracy_without_fallback": 0.98,
                "parse_ms": {"p50": 8.0},
            },
            "rasa_default": {"overall_accuracy": 0.95, "parse_ms": {"p50": 11.0}},
            "baseline": {"overall_accuracy": 0.99, "parse_ms": {"p50": 1.5}},
        },
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


def verdicts(results: dict) -> dict:
    return {t.name: t.verdict for t in report.evaluate_targets(results)}


def test_targets_are_judged_against_the_issue_limits():
    got = verdicts(fake_results())
    assert got["FAQ turn p50, 16 conversations, paced"] == "PASS"  # 80 <= 100
    assert got["FAQ turn p95, 16 conversations, paced"] == "PASS"  # 160 <= 250
    assert got["FAQ turn p50, 16 conversations, back to back"] == "MISS"
    assert got["errors (all levels)"] == "MISS"  # two errors in one level
    assert got["Rasa server peak RSS"] == "PASS"
    assert got["NLU accuracy above the Rasa default pipeline"] == "PASS"
    assert got["NLU accuracy above the TF-IDF + logistic regression"] == "MISS"


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
    assert got["NLU accuracy above the TF-IDF + logistic regression"] == "n/a"
    assert got["NLU accuracy above the Rasa default pipeline"] == "PASS"


def test_report_files_are_written(tmp_path):
    targets = report.write(fake_results(), tmp_path)

    document = json.loads((tmp_path / "bench.json").read_text())
    assert document["e2e"]["levels"][1]["faq_latency_ms"]["p50"] == 80.0
    assert [t["name"] for t in document["targets"]] == [t.name for t in targets]
    assert {t["passed"] for t in document["targets"]} == {True, False}

    table = (tmp_path / "bench.md").read_text()
    assert (
        "| paced | 16 | 270 | 80.0 ms | 160.0 ms | 240.0 ms | 6.7 | 0 "
        "| 70.5 ms, 3.0 ms |"
    ) in table
    assert "| this project (config.yml) | 96.7% | 98.0% |" in table
    assert "| NLU parse (pipeline graph) | 50% |" in table
    assert "| Rasa server | 1126 MiB |" in table
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
