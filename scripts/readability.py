"""The reading grade of every answer a patient can get.

Flesch-Kincaid grade level, written out here (no dependency):

    0.39 * words / sentences + 11.8 * syllables / words - 15.59

Syllables are counted by the usual rules of thumb (vowel groups, a silent
final e, a few vowel pairs that are two syllables). A number, phone number,
web address or email counts as one word of one syllable: it is read at a
glance or copied, not sounded out. A sentence ends at ". ", "! ", "? " (not
after "Dr." or "e.g.") and at a line break, which on a phone starts a line
of its own.

The texts are every variation of every response in domain.yml and
data/responses/, with the clinic's details from clinic_profile.yml (and a
sample for a detail the profile leaves empty) and sample values for what an
action passes in ({phone}, {summary}, ...).

    python -m scripts.readability [--out results/readability.json]

prints each answer's grade, writes them for `make docs-figures`
(docs/readability.md), and exits 1 when one is above MAX_GRADE.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "readability.json"
# The test fails above this; answers are written for grade 8 or below.
MAX_GRADE = 9.0
TARGET_GRADE = 8.0

ABBREVIATIONS = {"dr.", "e.g.", "i.e.", "st.", "mr.", "mrs.", "ms.", "vs."}
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")
_AT_A_GLANCE = re.compile(r"\d|@|://|^www\.", re.IGNORECASE)


def syllables(word: str) -> int:
    """Syllables in one word (a rule of thumb, right for most words)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) <= 3:
        return 1 if w else 0
    if w.endswith("es") and not re.search(r"([sxzcg]|ch|sh|[^aeiouy]l)es$", w):
        w = w[:-2]  # times, goes
    elif w.endswith("ed") and not re.search(r"[td]ed$", w):
        w = w[:-2]  # relaxed, called
    elif w.endswith("e") and not re.search(r"([^aeiouy]l|e)e$", w):
        w = w[:-1]  # take, before; not muscle, free
    count = len(re.findall(r"[aeiouy]+", w))
    # Vowel pairs read as two: physio, media, medium, usual, being.
    count += len(re.findall(r"io(?!n)|(?<![cts])ia|iu|(?<!q)ua|[aeiouy]ing$", w))
    return max(1, count)


def words_and_sentences(text: str) -> Tuple[List[str], int]:
    """The words of `text` and how many sentences it has."""
    found: List[str] = []
    sentences = 0
    for line in text.splitlines():
        in_sentence = False
        for chunk in line.split():
            if not re.search(r"[A-Za-z0-9]", chunk):
                continue  # a lone dash or colon
            found.append(chunk)
            in_sentence = True
            if _SENTENCE_END.search(chunk) and chunk.lower() not in ABBREVIATIONS:
                sentences += 1
                in_sentence = False
        sentences += in_sentence
    return found, sentences


def word_syllables(chunk: str) -> int:
    """Syllables of a whitespace-separated chunk: hyphenated parts add up."""
    if _AT_A_GLANCE.search(chunk):
        return 1
    return sum(syllables(part) for part in re.split(r"[-/]", chunk) if part) or 1


def grade(text: str) -> float:
    """The Flesch-Kincaid grade level of `text` (0 for no words)."""
    found, sentences = words_and_sentences(text)
    if not found:
        return 0.0
    total = sum(word_syllables(chunk) for chunk in found)
    return 0.39 * len(found) / sentences + 11.8 * total / len(found) - 15.59


# What a response can be filled with, beyond the clinic profile: a sample
# for a detail the sample profile leaves empty, and what actions pass in.
SAMPLE_DETAILS = {
    "clinic_fees": "$120 for the first visit and $95 for each visit after",
    "clinic_hours": "Mon-Fri 8am-6pm",
    "clinic_booking_url": "https://clinic.example.org/book",
}
SAMPLE_LEAD = {
    "lead_name": "Ana Souza",
    "lead_phone": "+16045550129",
    "lead_contact_method": "call",
    "lead_contact_time": "Mornings",
    "lead_concern": "low back pain that goes down my leg",
    "lead_duration": "3 to 12 months",
    "lead_screening": "no",
}


def fill_values() -> Dict[str, str]:
    """Every placeholder a response may hold, with a realistic value."""
    from actions.leads import summary
    from clinic.profile import load_profile

    values = {k: v for k, v in load_profile().slots().items() if v is not None}
    for key, sample in SAMPLE_DETAILS.items():
        values.setdefault(key, sample)
    values.update(
        phone="+1 604 555 0129",
        reason="the domain name gmial.com does not exist",
        reference="IMS-7K3Q9P",
        summary=summary(SAMPLE_LEAD),
        concern="sciatica",
        duration="8 months",
        conversations="2",  # a privacy request's deletion (actions/privacy.py)
        leads="1",
        name="Ana Souza",  # what the call-back form kept (actions/leads.py)
        email="ana.souza@example.com",
    )
    return values


def response_files() -> List[Path]:
    return [ROOT / "domain.yml", *sorted((ROOT / "data" / "responses").glob("*.yml"))]


def variation_label(name: str, variation: Dict[str, Any]) -> str:
    """`utter_faq/conditions_treated [condition=sciatica]`, and so on."""
    tags = [
        f"{c.get('name')}={c.get('value')}" for c in variation.get("condition") or []
    ]
    if variation.get("channel"):
        tags.append(f"channel={variation['channel']}")
    return f"{name} [{', '.join(tags)}]" if tags else name


def answers() -> Iterator[Tuple[str, str]]:
    """(label, text as the patient reads it) for every response variation."""
    values = fill_values()

    def value(match: re.Match) -> str:
        return values[match.group(1)]  # a new placeholder needs a sample

    for path in response_files():
        responses = (yaml.safe_load(path.read_text("utf-8")) or {}).get("responses")
        for name, variations in (responses or {}).items():
            for variation in variations:
                if variation.get("text"):
                    text = re.sub(r"\{(\w+)\}", value, variation["text"])
                    yield variation_label(name, variation), text


def grades() -> List[Tuple[str, float]]:
    """Each answer's label and grade, in file order."""
    return [(label, round(grade(text), 1)) for label, text in answers()]


def table(rows: List[Tuple[str, float]]) -> List[str]:
    """A Markdown table of the grades, hardest first."""
    lines = ["| answer | grade |", "| --- | --- |"]
    ordered = sorted(rows, key=lambda row: -row[1])
    lines += [f"| `{label}` | {value:.1f} |" for label, value in ordered]
    return lines


def results_table(results: Dict[str, Any]) -> List[str]:
    """The table of a results file (`make docs-figures`, docs/readability.md)."""
    rows = [(item["answer"], float(item["grade"])) for item in results["answers"]]
    over = sum(value > results["max_grade"] for _, value in rows)
    above_target = sum(value > results["target_grade"] for _, value in rows)
    return [
        f"{len(rows)} answers; {above_target} above grade "
        f"{results['target_grade']:g}, {over} above {results['max_grade']:g}.",
        "",
        *table(rows),
    ]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = grades()
    print("\n".join(table(rows)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "meta": {
                    "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                },
                "max_grade": MAX_GRADE,
                "target_grade": TARGET_GRADE,
                "answers": [{"answer": a, "grade": g} for a, g in rows],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    over = [label for label, value in rows if value > MAX_GRADE]
    for label in over:
        print(f"above grade {MAX_GRADE:g}: {label}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
