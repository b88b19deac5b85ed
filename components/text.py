"""Text normalisation and fuzzy word matching shared by the rule components."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Callable, Dict, Iterator, List, Pattern, Sequence, Tuple

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
_WORD = re.compile(r"[a-z]+")


def normalise_with_offsets(text: str) -> Tuple[str, List[int]]:
    """Text for matching, and the index in `text` of each output character
    (so a match maps back to the original).

    Lower-cased; accents and curly quotes folded; apostrophes dropped, so
    "can't", "cant" and "can’t" all read "cant"; runs of spaces made one.
    """
    chars: List[str] = []
    offsets: List[int] = []
    for index, original in enumerate(text or ""):
        folded = unicodedata.normalize("NFKD", original.translate(_APOSTROPHES))
        for ch in folded.lower():
            if unicodedata.combining(ch) or ch == "'":
                continue
            if ch.isspace():
                if not chars or chars[-1] == " ":
                    continue
                ch = " "
            chars.append(ch)
            offsets.append(index)
    if chars and chars[-1] == " ":
        chars.pop()
        offsets.pop()
    return "".join(chars), offsets


def words(text: str) -> Iterator[Tuple[str, int, int]]:
    """Yields (word, start, end) for each run of letters in normalised text."""
    for match in _WORD.finditer(text):
        yield match.group(0), match.start(), match.end()


def within_one_edit(a: str, b: str) -> bool:
    """True when `a` and `b` differ by at most one insertion, deletion,
    substitution or swap of neighbouring letters (a common typo)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    shorter, longer = (a, b) if la < lb else (b, a)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def find_phrases(
    text: str,
    patterns: Sequence[Tuple[str, Sequence[Pattern[str]]]],
    fuzzy_words: Dict[str, str],
    min_fuzzy_length: int,
) -> List[Tuple[str, int, int]]:
    """(value, start, end) for each value whose patterns match `text`, in
    reading order, once per value where it is first named; start and end are
    positions in `text` itself.

    `patterns` run on normalised text, most specific first: a span an
    earlier pattern took is not matched again. Then each word of at least
    `min_fuzzy_length` letters within one edit of a key of `fuzzy_words`
    gives that key's value.
    """
    norm, offsets = normalise_with_offsets(text)
    taken: List[Tuple[int, int]] = []
    found: List[Tuple[str, int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for value, compiled in patterns:
        for pattern in compiled:
            for match in pattern.finditer(norm):
                if free(match.start(), match.end()):
                    taken.append((match.start(), match.end()))
                    found.append((value, match.start(), match.end()))
    for word, start, end in words(norm):
        if len(word) < min_fuzzy_length or not free(start, end):
            continue
        for keyword, value in fuzzy_words.items():
            if within_one_edit(word, keyword):
                taken.append((start, end))
                found.append((value, start, end))
                break
    found.sort(key=lambda item: item[1])
    seen = set()
    unique = []
    for value, start, end in found:  # one entity per value, where first named
        if value not in seen:
            seen.add(value)
            unique.append((value, offsets[start], offsets[end - 1] + 1))
    return unique


def entities_added(
    messages: List[Any],
    entity: str,
    find: Callable[[str], List[Tuple[str, int, int]]],
    extractor: str,
) -> None:
    """Adds an `entity` entity to each Rasa message for each value `find`
    returns on its text (the rule-based extractors' `process`)."""
    for message in messages:
        found = find(message.get("text") or "")
        if not found:
            continue
        entities = list(message.get("entities", []))
        for value, start, end in found:
            entities.append(
                {
                    "entity": entity,
                    "value": value,
                    "start": start,
                    "end": end,
                    "confidence_entity": 1.0,
                    "extractor": extractor,
                }
            )
        message.set("entities", entities, add_to_output=True)
