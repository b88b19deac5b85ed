"""The catalogue contract, answer length and wording, and data hygiene."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Set

import pytest

from actions.fallback import TOPIC_BUTTONS
from clinic.profile import load_profile
from components.condition_answers import CATALOGUED, PRECAUTIONS, UNLISTED
from components.conditions import PATTERNS
from tests.conftest import ROOT, read_yaml, seed_pages, shared_missing

MIN_EXAMPLES = 15
MAX_ANSWER = 600


def examples_by_label(path: Path) -> Dict[str, List[str]]:
    labels: Dict[str, List[str]] = {}
    for block in read_yaml(path).get("nlu", []):
        if "intent" in block:
            lines = [
                line.strip()[2:].strip()
                for line in block["examples"].splitlines()
                if line.strip().startswith("- ")
            ]
            labels.setdefault(block["intent"], []).extend(lines)
    return labels


def test_a_missing_contract_file_fails_in_ci_and_skips_elsewhere(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="faq_topics.yml is not beside"):
        shared_missing("faq_topics.yml")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="seeds is not beside"):
        shared_missing("seeds")


@pytest.fixture(scope="module")
def training() -> Dict[str, List[str]]:
    labels: Dict[str, List[str]] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for label, texts in examples_by_label(path).items():
            labels.setdefault(label, []).extend(texts)
    return labels


@pytest.fixture(scope="module")
def test_set() -> Dict[str, List[str]]:
    return examples_by_label(ROOT / "tests" / "nlu" / "test_nlu.yml")


def test_every_topic_has_an_answer_and_training_examples(
    catalogue, faq_responses, training
) -> None:
    for topic in catalogue["topics"]:
        assert f"utter_faq/{topic}" in faq_responses, topic
        assert len(training.get(f"faq/{topic}", [])) >= MIN_EXAMPLES, topic
    answered = {key.split("/", 1)[1] for key in faq_responses}
    assert answered == set(catalogue["topics"])


def test_every_catalogue_intent_is_in_the_domain_with_examples(
    catalogue, domain, training
) -> None:
    for intent in catalogue["intents"]:
        assert intent in domain["intents"], intent
        assert len(training.get(intent, [])) >= MIN_EXAMPLES, intent


def test_test_set_covers_every_label_and_is_held_out(catalogue, training, test_set):
    labels = {f"faq/{t}" for t in catalogue["topics"]} | set(catalogue["intents"])
    assert set(test_set) == labels
    for label in labels:
        assert len(test_set[label]) >= 5, label

    def norm(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()

    trained = {norm(t) for texts in training.values() for t in texts}
    leaked = [t for texts in test_set.values() for t in texts if norm(t) in trained]
    assert leaked == []


def test_answers_fit_on_a_phone(faq_responses, domain) -> None:
    slots = load_profile().slots()
    filled = {k: (v or "to be confirmed") for k, v in slots.items()}
    responses = {**faq_responses, **domain["responses"]}
    for name, variations in responses.items():
        for variation in variations:
            text = variation["text"].format(**filled)
            assert len(text) <= MAX_ANSWER, (name, len(text))


def _word_runs(text: str, n: int) -> Set[tuple]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_answers_are_written_in_our_own_words(faq_responses) -> None:
    seeds = seed_pages()
    seed_runs: Set[tuple] = set()
    for path in seeds:
        seed_runs |= _word_runs(path.read_text(encoding="utf-8"), 8)
    for name, variations in faq_responses.items():
        for variation in variations:
            copied = _word_runs(variation["text"], 8) & seed_runs
            assert not copied, (name, [" ".join(run) for run in copied])


def test_condition_answers_match_extractor_values(faq_responses) -> None:
    """Each catalogued condition has its answer, one answer covers every
    unlisted condition, and nothing else is conditioned on."""
    values = {value for value, _ in PATTERNS}
    assert values >= CATALOGUED
    variations = faq_responses["utter_faq/conditions_treated"]
    conditioned = set()
    for variation in variations[:-1]:
        [cond] = variation["condition"]
        assert cond["name"] == "condition"
        conditioned.add(cond["value"])
    assert conditioned == CATALOGUED | {UNLISTED}
    assert "condition" not in variations[-1], "the general answer must come last"


def test_precaution_answers_match_extractor_values(faq_responses) -> None:
    """The contraindications answer has a variation for each precaution the
    extractor names, each leading with its own matter, and the whole list
    last for a message that names none or several."""
    variations = faq_responses["utter_faq/contraindications"]
    leads = {
        "pregnancy": "If you are pregnant",
        "blood_thinners": "Blood thinners",
        "clotting_disorder": "A bleeding or clotting disorder",
        "hiv_hepatitis": "If you have HIV or hepatitis",
        "implant": "Tell the clinic about a pacemaker",
        "medication": "Tell your practitioner about every medicine",
    }
    conditioned = {}
    for variation in variations[:-1]:
        [cond] = variation["condition"]
        assert cond["name"] == "precaution"
        conditioned[cond["value"]] = variation["text"]
    assert set(conditioned) == PRECAUTIONS == set(leads)
    for value, text in conditioned.items():
        assert text.startswith(leads[value]), value
        # Every one still points to the rest and leaves the decision to the
        # clinic; a medicine is never to be stopped without the prescriber.
        assert "the clinic decides at an assessment" in text, value
        assert "implant" in text and "medicine" in text, value
    for value in ("blood_thinners", "medication"):
        assert (
            "never stop or change a prescribed medicine" in conditioned[value].lower()
        )
    general = variations[-1]
    assert "condition" not in general, "the whole list must come last"
    for fact in ("warfarin", "pregnant", "clotting disorder", "HIV", "pacemaker"):
        assert fact in general["text"]


def test_fallback_suggestions_cover_every_topic(faq_responses) -> None:
    assert set(TOPIC_BUTTONS) == {key.split("/", 1)[1] for key in faq_responses}


def test_buttons_send_known_intents_or_plain_questions(faq_responses, domain) -> None:
    intents = set(domain["intents"])
    responses = {**faq_responses, **domain["responses"]}
    for name, variations in responses.items():
        for variation in variations:
            for button in variation.get("buttons", []):
                payload = button["payload"]
                if payload.startswith("/"):
                    assert payload[1:] in intents, (name, payload)


# The two sets of real questions (scripts/evaluate.py, TEST_SETS).
REAL_SETS = [ROOT / "tests" / "nlu" / "real", ROOT / "tests" / "nlu" / "real2"]


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.fixture(scope="module", params=REAL_SETS, ids=lambda path: path.name)
def real_set(request) -> Path:
    return request.param


@pytest.fixture(scope="module")
def real_questions(real_set) -> List[tuple]:
    from scripts.evaluate import read_tsv

    return read_tsv(real_set / "questions.tsv")


def test_real_questions_are_labelled_by_the_catalogue_and_have_sources(
    catalogue, real_set, real_questions
) -> None:
    from scripts.evaluate import read_tsv

    labels = {f"faq/{t}" for t in catalogue["topics"]} | set(catalogue["intents"])
    assert len(real_questions) >= 150
    assert {label for label, _ in real_questions} <= labels
    sources = dict(read_tsv(real_set / "sources.tsv"))
    texts = [text for _, text in real_questions]
    assert len(set(texts)) == len(texts), "a question is in the set twice"
    assert set(sources) == set(texts)
    assert all(url.startswith(("http://", "https://")) for url in sources.values())


def test_the_second_real_set_shares_no_question_and_no_page_with_the_first() -> None:
    """real2 was collected after real's misreads had been read, to measure
    what that work did on questions nobody had looked at."""
    from scripts.evaluate import read_tsv

    first, second = (dict(read_tsv(path / "sources.tsv")) for path in REAL_SETS)
    assert not {_norm(t) for t in first} & {_norm(t) for t in second}
    assert not set(first.values()) & set(second.values())


def test_no_real_question_or_seed_sentence_is_in_the_training_data(
    real_questions,
) -> None:
    """Training data is written in the project's own words: not one real test
    question, and not one sentence of the seed pages, appears in data/nlu
    (answers are checked against the seeds above)."""
    data = " \n ".join(
        _norm(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "data" / "nlu").rglob("*.yml"))
    )
    examples = {
        _norm(text)
        for path in sorted((ROOT / "data" / "nlu").glob("*.yml"))
        for texts in examples_by_label(path).values()
        for text in texts
    }
    copied = []
    for _, question in real_questions:
        norm = _norm(question)
        # Not as an example, and a longer one not even inside one (a short
        # one, "do I need a referral", may begin a longer question by chance).
        if norm in examples or (len(norm.split()) >= 8 and norm in data):
            copied.append(question)
    assert copied == []
    seeds = seed_pages()
    for path in seeds:
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", path.read_text("utf-8")):
            norm = _norm(sentence)
            if len(norm.split()) >= 6 and norm in data:
                copied.append(sentence)
    assert copied == []


def test_an_empty_profile_field_never_makes_a_false_sentence(tmp_path) -> None:
    """Each clinic answer reads sensibly with every optional field empty:
    the variation for an empty field is chosen, and the others say who will
    confirm it."""
    from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    text = (ROOT / "clinic_profile.yml").read_text(encoding="utf-8")
    keep = ("name:", "phone:", "email:", "privacy_url:", "phone_region:")
    bare = "\n".join(line for line in text.splitlines() if line.startswith(keep))
    (tmp_path / "p.yml").write_text(bare, encoding="utf-8")
    slots = load_profile(tmp_path / "p.yml").slots()
    domain = Domain.load([str(ROOT / "domain.yml"), str(ROOT / "data")])
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    tracker = DialogueStateTracker.from_dict("t", [], domain.slots)
    for slot, value in slots.items():
        tracker.slots[slot].value = value
    for topic in ("clinic_hours", "clinic_contact", "booking_info", "referral"):
        reply = nlg.generate_from_slots(
            f"utter_faq/{topic}", tracker.current_slot_values(), "rest"
        )
        assert reply is not None and "None" not in reply["text"], topic
        assert "online at the team" not in reply["text"]
        assert "open the team" not in reply["text"]


def test_emergency_and_crisis_numbers_come_from_the_clinic_profile() -> None:
    """No response types a number in: a clinic elsewhere has other ones."""
    sources = [
        ROOT / "domain.yml",
        *sorted((ROOT / "data" / "responses").glob("*.yml")),
    ]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(911|988|112|999)\b", text), path.name
    slots = load_profile().slots()
    assert slots["clinic_emergency_number"] == "911"
    assert slots["clinic_crisis_line"] == "988"


async def test_the_urgent_replies_give_the_profile_s_numbers() -> None:
    from tests.conftest import rendered

    assert "call 911 now" in await rendered("utter_emergency", "rest")
    assert "If this is an emergency, call 911." in await rendered("utter_greet", "rest")


def test_no_comment_hides_inside_a_block_of_training_examples() -> None:
    """A `#` line inside an `examples: |` block is text, not a YAML comment:
    Rasa skips it with a warning, so it is either a lost example or a note
    in the wrong place."""
    misplaced = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        inside = False
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*examples:\s*\|", line):
                inside = True
            elif inside and line.strip() and not line.startswith("    "):
                inside = False
            if inside and line.strip().startswith("#"):
                misplaced.append(f"{path.name}:{number}")
    assert not misplaced
