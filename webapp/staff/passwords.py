"""The staff password policy: long enough, and not a common password.

The blocklist is the 30,000 most common passwords of real leaks that zxcvbn
ships (`zxcvbn.frequency_lists`, from Mark Burnett's and Xato's lists; a
maintained package, pinned in requirements.in), read from the installed
package, never downloaded. A password is refused when, lower-cased, it is on
the list, or is a listed one with digits or symbols added at the end
(`password1234`, `sunshine2024!`): that is how most people lengthen a
password to meet a length rule.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import FrozenSet

MIN_LENGTH = 12
MAX_LENGTH = 1024
_TAIL = re.compile(r"[\d\W_]+")


@lru_cache(maxsize=1)
def common_passwords() -> FrozenSet[str]:
    """The blocklist, loaded on first use (about 30,000 words)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    """Whether `password` is, or starts as, a common password (see above)."""
    lowered = password.lower()
    listed = common_passwords()
    if lowered in listed:
        return True
    for end in range(len(lowered) - 1, 3, -1):  # a listed word + a tail
        if not _TAIL.fullmatch(lowered[end:]):
            break
        if lowered[:end] in listed:
            return True
    return False


def problem(password: str) -> str:
    """What is wrong with `password` as a staff password, or "" if nothing."""
    if len(password or "") < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    if is_common(password):
        return (
            "that password is on the list of the most common passwords "
            "(it would be among the first guessed): choose another, e.g. "
            "a few unrelated words"
        )
    return ""
