"""Text normalisation and fuzzy word matching shared by the rule components."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterator, List, Tuple

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
