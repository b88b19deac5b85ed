"""CSV export of the lead queue, in the words of the lead page, safe to open
in a spreadsheet.

A cell that starts with = + - @ (or a tab or carriage return) could run as a
formula in Excel, LibreOffice or Google Sheets: it gets a leading apostrophe,
which spreadsheets show as text. A phone number ("+1 604-555-0129") starts
with + but holds only digits and the marks people put between them, so no
function or cell reference: it is left as written, to stay readable.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional

from db.models import Lead
from db.staff_models import LeadNote
from webapp.staff import labels

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A phone number as written: an optional +, then digits in groups separated
# by one space, dash, dot or parentheses. 7 to 15 digits (E.164 has 15 at most).
PHONE = re.compile(r"^\+?(\(\d+\)|\d+)([ .-]?(\(\d+\)|\d+))*$")
PHONE_DIGITS = range(7, 16)
# Every column of `leads` but the internal ones, in the table's order, with
# the status moved next to the creation time; then the staff notes.
FIRST = ("reference", "created_at", "status")
INTERNAL = ("id", "updated_at", "sender_id")
COLUMNS = [
    *FIRST,
    *(
        column.name
        for column in Lead.__table__.columns
        if column.name not in FIRST + INTERNAL
    ),
]
NOTES = "notes"
HEADERS = {
    "reference": "Reference",
    "created_at": "Received",
    "status": "Status",
    "kind": "Request",
    "channel": "Channel",
    "contact_method": "Contact by",
    "contact_time": "Best time",
    "duration": "How long",
    "screening": "Safety question",
    "consent_at": "Consent given",
    NOTES: "Notes",
}
# Columns shown through a label, as on the lead page.
IN_WORDS: Dict[str, Callable[[Optional[str]], str]] = {
    "status": labels.status,
    "kind": labels.kind,
    "channel": labels.channel,
    "contact_method": labels.contact_method,
    "screening": labels.screening,
    "red_flag": labels.red_flag,
    "condition": labels.condition,
    "phone": labels.phone,
}


def header(column: str) -> str:
    return HEADERS.get(column) or labels.readable(column)


def is_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    return digits in PHONE_DIGITS and PHONE.match(text) is not None


def neutralise(value: Any) -> str:
    """The cell's text, with a leading apostrophe if it could be a formula."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START) and not is_phone(text):
        return "'" + text
    return text


def _cell(lead: Lead, column: str, when: Callable[[Optional[datetime]], str]) -> str:
    value = getattr(lead, column)
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return neutralise(when(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column in IN_WORDS:
        return neutralise(IN_WORDS[column](getattr(value, "value", value)))
    return neutralise(value)


def _notes(notes: List[LeadNote], when: Callable[[Optional[datetime]], str]) -> str:
    """One line per note, oldest first: when, who, what."""
    return neutralise(
        "\n".join(f"{when(note.at)} {note.author}: {note.text}" for note in notes)
    )


def rows(
    leads: Iterable[Lead],
    notes: Mapping[int, List[LeadNote]],
    when: Callable[[Optional[datetime]], str],
) -> Iterator[List[str]]:
    yield [header(column) for column in (*COLUMNS, NOTES)]
    for lead in leads:
        yield [_cell(lead, column, when) for column in COLUMNS] + [
            _notes(notes.get(lead.id, []), when)
        ]


def to_csv(rows_: Iterable[List[str]]) -> str:
    """CSV text with a byte-order mark, so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows_)
    return buffer.getvalue()
