"""The figure tables in README.md and docs/ are generated from results files."""

from __future__ import annotations

from pathlib import Path

from scripts import docs_figures
from scripts.docs_figures import BENCH, EVALUATION, PAGES, fill
from scripts.evaluate import GOALS, TARGETS

FIGURES = {
    "faq_topic_accuracy": 0.883,
    "out_of_scope_recall": 0.944,
    "red_flag_recall": 1.0,
    "red_flag_false_alarms": 3,
    "in_scope_fallback_rate": 0.0,
    "examples": 236,
}
EVALUATION_RESULTS = {
    "meta": {"date": "2026-12-02 00:10 UTC"},
    **dict.fromkeys(docs_figures.TEST_SETS, FIGURES),
}
BENCH_RESULTS = {
    "sentence": {
        "variants": {
            "with": {
                "sets": {
                    "real": {
                        **FIGURES,
                        "cpu_ms_per_message": 41.5,
                        "parse_ms": {"p50": 40.2, "p95": 60.9},
                    }
                },
                "rss_after_load_bytes": 787 * 2**20,
                "training_seconds": 160.0,
            },
            "without": {"sets": {"real": {"faq_topic_accuracy": 0.71}}},
        }
    }
}
PAGE = """intro
<!-- figures:evaluation -->
stale table
<!-- /figures:evaluation -->
between
<!-- figures:sentence -->
<!-- /figures:sentence -->
end
"""


def loader(found):
    return lambda path: found.get(path)


def test_a_block_is_rebuilt_from_its_results_file() -> None:
    text = fill(PAGE, loader({EVALUATION: EVALUATION_RESULTS}))
    assert "stale table" not in text
    cells = [
        f"88.3% (>= {TARGETS[name]['faq_topic_accuracy']:.0%}"
        + (", goal 90%)" if name in GOALS else ")")
        for name in docs_figures.TEST_SETS
    ]
    assert f"| FAQ topic accuracy | {' | '.join(cells)} |" in text
    assert "| red-flag false alarms | 3 | 3 | 3 |" in text
    assert "results/evaluation.json (`make evaluate`, 2026-12-02 00:10 UTC)" in text
    # The bench block had no results: left as it was.
    assert "<!-- figures:sentence -->\n<!-- /figures:sentence -->" in text
    assert text.startswith("intro\n") and text.endswith("end\n")


def test_the_sentence_block_is_make_bench_s_own_table() -> None:
    text = fill(PAGE, loader({BENCH: BENCH_RESULTS}))
    assert "| figure | with sentence features | without |" in text
    assert "| FAQ topic accuracy, real questions (`make evaluate`: >= " in text
    assert "| 88.3% | 71.0% |" in text
    assert "| CPU per parsed message, real questions | 41.50 ms | n/a |" in text
    assert "| RSS after `Agent.load` | 787 MiB | n/a |" in text
    assert "stale table" in text  # no evaluation results: untouched


def test_the_readme_s_sentence_summary_keeps_what_it_buys_and_costs() -> None:
    page = "<!-- figures:sentence_summary -->\n<!-- /figures:sentence_summary -->\n"
    text = fill(page, loader({BENCH: BENCH_RESULTS}))
    assert "| figure | with sentence features | without |" in text
    assert "| FAQ topic accuracy, real questions (`make evaluate`: >= " in text
    assert "| CPU per parsed message, real questions | 41.50 ms | n/a |" in text
    assert "parse p50" not in text and "RSS after `Agent.load`" not in text
    full = fill(PAGE, loader({BENCH: BENCH_RESULTS}))
    assert len(text.splitlines()) < len(full.splitlines()) - 5


def test_filling_twice_changes_nothing() -> None:
    found = loader({EVALUATION: EVALUATION_RESULTS, BENCH: BENCH_RESULTS})
    once = fill(PAGE, found)
    assert fill(once, found) == once


def test_check_reports_a_stale_page(tmp_path: Path, monkeypatch) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    monkeypatch.setattr(docs_figures, "PAGES", [page])
    monkeypatch.setattr(docs_figures, "_read", loader({EVALUATION: EVALUATION_RESULTS}))
    assert docs_figures.main(["--check"]) == 1
    assert page.read_text() == PAGE
    assert docs_figures.main([]) == 0
    assert docs_figures.main(["--check"]) == 0


def test_the_pages_have_their_figure_blocks() -> None:
    text = "".join(page.read_text(encoding="utf-8") for page in PAGES)
    for name in docs_figures.TABLES:
        assert f"<!-- figures:{name} -->" in text


def test_the_bench_block_shows_targets_and_load_levels() -> None:
    results = {
        "meta": {"date": "d", "machine": {"cores": 2}, "database": "sqlite"},
        "targets": [
            {
                "name": "FAQ turn p50",
                "value": 31.0,
                "limit": 100.0,
                "unit": "ms",
                "comparison": "<=",
                "passed": True,
            },
        ],
        "e2e": {
            "levels": [
                {
                    "mode": "back_to_back",
                    "concurrency": 16,
                    "throughput_per_s": 30.25,
                    "faq_latency_ms": {"p50": 480.4, "p95": 700.0},
                },
            ]
        },
    }
    page = "<!-- figures:bench -->\n<!-- /figures:bench -->\n"
    text = fill(page, loader({BENCH: results}))
    assert "| FAQ turn p50 | 31 ms | <= 100 ms | PASS |" in text
    assert "| back to back | 16 | 480 ms | 700 ms | 30.2 |" in text


def test_results_of_another_shape_leave_the_table_as_it_was(capsys) -> None:
    odd = {
        EVALUATION: {"real": FIGURES},  # one set only (evaluate --only)
        BENCH: {
            "sentence": {
                "variants": {
                    "with": {
                        "sets": {"real": {"parse_ms": {}, "faq_topic_accuracy": "high"}}
                    }
                }
            }
        },
    }
    assert fill(PAGE, loader(odd)) == PAGE
    assert "not understood" in capsys.readouterr().err


def test_every_table_name_is_read_as_a_block() -> None:
    """A name the block pattern cannot read (turns_profile, once) is never
    filled, silently."""
    for name in docs_figures.TABLES:
        block = f"<!-- figures:{name} -->\nold\n<!-- /figures:{name} -->"
        match = docs_figures._BLOCK.search(block)
        assert match and match.group("name") == name, name


def test_the_bench_block_shows_the_targets_of_a_run_without_load() -> None:
    results = {
        "meta": {"date": "d", "machine": {"cores": 2}, "database": "sqlite"},
        "targets": [
            {
                "name": "CPU per FAQ turn outside NLU, turns 1-10, sqlite",
                "value": 7.5,
                "limit": 10.0,
                "unit": "ms",
                "comparison": "<=",
                "passed": True,
            },
        ],
    }
    page = "<!-- figures:bench -->\n<!-- /figures:bench -->\n"
    text = fill(page, loader({BENCH: results}))
    assert "| CPU per FAQ turn outside NLU, turns 1-10, sqlite | 7.5 ms |" in text
    assert "FAQ turn over REST" not in text
