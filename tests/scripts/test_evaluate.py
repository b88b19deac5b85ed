"""make evaluate's scoring and targets (scripts/evaluate.py)."""

from __future__ import annotations

from scripts.evaluate import GOALS, TARGETS, Example, load_examples, report, score


def test_a_tsv_test_set_keeps_each_question_exactly_as_written(tmp_path) -> None:
    path = tmp_path / "questions.tsv"
    path.write_text(
        "label\ttext\nfaq/does_it_hurt\tDoes it hurt?? [asking] for a friend\n",
        encoding="utf-8",
    )
    [example] = load_examples(path)
    assert example == Example(
        "Does it hurt?? [asking] for a friend", "faq/does_it_hurt"
    )


def test_a_figure_below_its_target_fails_and_a_goal_only_reports() -> None:
    pairs = [
        (Example("a", "faq/x"), "faq/x"),
        (Example("b", "faq/y"), "faq/x"),
        (Example("c", "out_of_scope"), "out_of_scope"),
        (Example("d", "emergency"), "emergency"),
    ]
    figures = score(pairs)
    assert figures["faq_topic_accuracy"] == 0.5
    missed = report(figures, {"faq_topic_accuracy": 0.75}, "t", {"red_flag_recall": 2})
    assert missed == ["faq_topic_accuracy"]
    assert report(figures, {"faq_topic_accuracy": 0.5}, "t", GOALS["real"]) == []


def test_every_red_flag_is_required_on_every_test_set() -> None:
    assert {name: t["red_flag_recall"] for name, t in TARGETS.items()} == {
        "written": 1.0,
        "real": 1.0,
        "real2": 1.0,
    }


def test_a_blind_set_prints_its_figures_but_not_its_misreads(capsys) -> None:
    from scripts.evaluate import BLIND, Example, score

    figures = score([(Example("what is ims", "faq/what_is_ims"), "greet")])
    report(figures, {}, "t", blind=True)
    shown = capsys.readouterr().out
    assert "faq_topic_accuracy" in shown and "what is ims" not in shown
    report(figures, {}, "t")
    assert "what is ims" in capsys.readouterr().out
    assert "real2" in BLIND
