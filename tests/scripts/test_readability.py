"""The reading grade of every patient-facing answer (scripts/readability.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import readability
from scripts.docs_figures import fill
from scripts.readability import (
    MAX_GRADE,
    answers,
    grade,
    grades,
    response_files,
    syllables,
    words_and_sentences,
)
from tests.conftest import read_yaml


# Counted by hand from a dictionary's syllable breaks.
@pytest.mark.parametrize(
    "word, count",
    [
        ("the", 1),
        ("IMS", 1),
        ("muscle", 2),  # mus-cle: the final "le" is a syllable
        ("muscles", 2),
        ("times", 1),  # silent "es"
        ("places", 2),  # pla-ces
        ("relaxed", 2),  # silent "ed"
        ("needed", 2),  # nee-ded
        ("before", 2),  # silent final "e"
        ("free", 1),
        ("medicine", 3),
        ("beautiful", 3),
        ("being", 2),
        ("usual", 3),
        ("medium", 3),
        ("diagnosis", 4),
        ("inflammation", 4),
        ("physiotherapists", 6),
        ("radiculopathic", 6),
        ("acupuncture", 4),
        ("you're", 1),
    ],
)
def test_syllables(word: str, count: int) -> None:
    assert syllables(word) == count


@pytest.mark.parametrize(
    "text, words, sentences",
    [
        ("The cat sat on the mat.", 6, 1),
        ("Dr. Chan Gunn developed IMS. It works.", 7, 2),
        ("Light pressure, e.g. a bandage. Then rest", 7, 2),
        ('Say "skip".) Or not!', 4, 2),
        ("Name: Ana Souza\nPhone: 604 555 0129", 7, 2),  # a line is a sentence
        ("Is this right? - Yes", 4, 2),  # a lone dash is no word
        ("", 0, 0),
    ],
)
def test_words_and_sentences(text: str, words: int, sentences: int) -> None:
    found, counted = words_and_sentences(text)
    assert (len(found), counted) == (words, sentences)


@pytest.mark.parametrize(
    "text, expected",
    [
        # 6 words, 6 syllables, 1 sentence: 0.39*6 + 11.8*1 - 15.59
        ("The cat sat on the mat.", -1.45),
        # 7 words, 9 syllables, 2 sentences: 0.39*3.5 + 11.8*9/7 - 15.59
        ("I can help. Call the clinic today.", 0.39 * 3.5 + 11.8 * 9 / 7 - 15.59),
        # 3 words, 6+3+2 syllables: 0.39*3 + 11.8*11/3 - 15.59
        ("Physiotherapists examine patients.", 0.39 * 3 + 11.8 * 11 / 3 - 15.59),
        # A phone number and a web address are one syllable each, and the
        # address's dots end no sentence: 5 words, 6 syllables.
        (
            "Call 604-555-0123 or visit https://clinic.example.org/book.",
            0.39 * 5 + 11.8 * 6 / 5 - 15.59,
        ),
        ("", 0.0),
    ],
)
def test_flesch_kincaid_grade(text: str, expected: float) -> None:
    assert grade(text) == pytest.approx(expected)


def test_the_long_conditions_sentence_the_issue_names_fails() -> None:
    """The general conditions answer before it was rewritten: one 50-word
    sentence. The check must catch it."""
    old = (
        "Clinics use IMS for many kinds of long-lasting pain: chronic back "
        "pain, neck pain and tension, shoulder pain (including rotator cuff "
        "problems and frozen shoulder), tennis elbow (lateral epicondylitis), "
        "sciatica, fibromyalgia, chronic headaches and migraines, postural "
        "pain, osteoarthritis (it eases tight muscles around the joint but does "
        "not repair cartilage), and deep pain such as pelvic pain."
    )
    assert grade(old) > 13


def test_every_response_variation_is_scored_as_the_patient_reads_it() -> None:
    expected = sum(
        1
        for path in response_files()
        for variations in (read_yaml(path).get("responses") or {}).values()
        for variation in variations
        if variation.get("text")
    )
    texts = list(answers())
    assert len(texts) == expected
    labels = [label for label, _ in texts]
    assert "utter_faq/conditions_treated [condition=sciatica]" in labels
    assert "utter_lead_intro_assessment [channel=twilio]" in labels
    assert "utter_ask_lead_name" in labels
    for label, text in texts:
        assert "{" not in text and "None" not in text, label
    filled = dict(texts)
    assert "Sample Physiotherapy & IMS Clinic" in filled["utter_greet"]
    assert "Name: Ana Souza" in filled["utter_ask_lead_confirmed"]


def test_every_answer_reads_at_grade_9_or_below() -> None:
    rows = grades()
    print("\n".join(readability.table(rows)))  # shown with -rP, or on failure
    over = {label: value for label, value in rows if value > MAX_GRADE}
    assert over == {}, f"above grade {MAX_GRADE:g}: {over}"


def test_the_command_writes_every_grade_and_fails_above_the_limit(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    out = tmp_path / "readability.json"
    assert readability.main(["--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert len(written["answers"]) == len(grades())
    assert "| `utter_greet` |" in capsys.readouterr().out

    hard = [("utter_hard", 12.3), ("utter_easy", 4.0)]
    monkeypatch.setattr(readability, "grades", lambda: hard)
    assert readability.main(["--out", str(out)]) == 1
    assert "above grade 9: utter_hard" in capsys.readouterr().err


def test_the_docs_table_is_built_from_the_results_file() -> None:
    results = {
        "meta": {"date": "2026-12-02 17:00 UTC"},
        "max_grade": 9.0,
        "target_grade": 8.0,
        "answers": [
            {"answer": "utter_greet", "grade": 7.9},
            {"answer": "utter_faq/procedure", "grade": 8.4},
        ],
    }
    page = "<!-- figures:readability -->\nold\n<!-- /figures:readability -->\n"
    text = fill(page, lambda path: results if path == readability.OUT else None)
    assert "old" not in text
    assert "2 answers; 1 above grade 8, 0 above 9." in text
    # Hardest first.
    assert text.index("`utter_faq/procedure` | 8.4") < text.index("`utter_greet`")
