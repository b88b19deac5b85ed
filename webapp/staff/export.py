"""CSV export of the lead queue, safe to open in a spreadsheet.

A cell that starts with = + - @ (or a tab or carriage return) could run as a
formula in Excel, LibreOffice or Google Sheets: it gets a leading apostrophe,
which spreadsheets show as text (so "+16045550123" reads "'+16045550123").
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, List, Optional

from db.models import Lead

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Every column of `leads` but the internal ones, in the table's order, with
# the status moved next to the creation time.
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


def neutralise(value: Any) -> str:
    """The cell's text, with a leading apostrophe if it could be a formula."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def _cell(lead: Lead, column: str, when: Callable[[Optional[datetime]], str]) -> str:
    value = getattr(lead, column)
    if isinstance(value, datetime):
        return neutralise(when(value))
    if column == "status":
        return neutralise(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return neutralise(value)


def rows(
    leads: Iterable[Lead], when: Callable[[Optional[datetime]], str]
) -> Iterator[List[str]]:
    yield COLUMNS
    for lead in leads:
        yield [_cell(lead, column, when) for column in COLUMNS]


def to_csv(rows_: Iterable[List[str]]) -> str:
    """CSV text with a byte-order mark, so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows_)
    return buffer.getvalue()
