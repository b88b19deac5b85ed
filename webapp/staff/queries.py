"""The lead queue: filters from the query string, ordering, counts, paging.

Filters are parsed strictly: a value that cannot be read is a `BadRequest`
(shown as 400 with what was wrong), never a server error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Dict, List, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, lazyload

from db.models import Lead, LeadStatus
from db.staff_models import LeadNote

PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_QUERY = 100
FLAGS = {
    "": "any",
    "flagged": "review or red flag",
    "review": "needs review",
    "red_flag": "red flag",
    "none": "not flagged",
}
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
REFERENCE = re.compile(r"^IMS-[A-Z0-9]{6}$")
# A search typed as a phone number: digits and the punctuation people put
# between them. Only such a search is matched against phone digits, so the
# digits inside a reference or a name ("R4KD55") never match a phone.
PHONE_QUERY = re.compile(r"^[\d\s().+\-]+$")


class BadRequest(ValueError):
    """Client input that cannot be used; the message says why."""


def parse_page(raw: Optional[str]) -> int:
    if not raw:
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"page must be a number from 1 to {MAX_PAGE}")
    return int(raw)


def parse_date(raw: Optional[str], name: str) -> Optional[date]:
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except (TypeError, ValueError) as error:
        raise BadRequest(f"{name} must be a date like 2026-01-31") from error
    if not FIRST_DAY <= value <= LAST_DAY:
        raise BadRequest("choose dates between 2000 and 2999")
    return value


def day_bounds(
    start: Optional[date], end: Optional[date], zone: ZoneInfo
) -> Tuple[Optional[datetime], Optional[datetime]]:
    """[start of `start`, start of the day after `end`) in the clinic's zone."""
    if start and end and start > end:
        raise BadRequest("the 'from' date is after the 'to' date")
    since = datetime.combine(start, time(), tzinfo=zone) if start else None
    until = (
        datetime.combine(end + timedelta(days=1), time(), tzinfo=zone) if end else None
    )
    return since, until


def normalise_reference(raw: str) -> Optional[str]:
    reference = (raw or "").strip().upper()
    return reference if REFERENCE.match(reference) else None


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows; built from the query string by `from_args`."""

    status: Optional[LeadStatus] = None
    channel: str = ""
    flag: str = ""
    start: Optional[date] = None
    end: Optional[date] = None
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilter:
        status = args.get("status") or ""
        if status and status not in {s.value for s in LeadStatus}:
            raise BadRequest(f"unknown status {status[:40]!r}")
        flag = args.get("flag") or ""
        if flag not in FLAGS:
            raise BadRequest(f"unknown flag filter {flag[:40]!r}")
        if any("\x00" in (args.get(key) or "") for key in ("channel", "q")):
            raise BadRequest("the filters may not contain NUL characters")
        channel = (args.get("channel") or "").strip()
        if len(channel) > 32:
            raise BadRequest("channel is at most 32 characters")
        q = (args.get("q") or "").strip()
        if len(q) > MAX_QUERY:
            raise BadRequest(f"search is at most {MAX_QUERY} characters")
        start = parse_date(args.get("from"), "from")
        end = parse_date(args.get("to"), "to")
        if start and end and start > end:
            raise BadRequest("the 'from' date is after the 'to' date")
        return cls(
            status=LeadStatus(status) if status else None,
            channel=channel,
            flag=flag,
            start=start,
            end=end,
            q=q,
            page=parse_page(args.get("page")),
        )

    def args(self, **changes: Any) -> Dict[str, str]:
        """The query string of this filter (for links), without empty values."""
        current = replace(self, **changes) if changes else self
        values = {
            "status": current.status.value if current.status else "",
            "channel": current.channel,
            "flag": current.flag,
            "from": current.start.isoformat() if current.start else "",
            "to": current.end.isoformat() if current.end else "",
            "q": current.q,
            "page": str(current.page) if current.page != 1 else "",
        }
        return {key: value for key, value in values.items() if value}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(flt: QueueFilter, zone: ZoneInfo, with_status: bool = True) -> list:
    conditions = []
    if with_status and flt.status is not None:
        conditions.append(Lead.status == flt.status)
    if flt.channel:
        conditions.append(Lead.channel == flt.channel)
    red = and_(Lead.red_flag.is_not(None), Lead.red_flag != "")
    if flt.flag == "review":
        conditions.append(Lead.needs_review.is_(True))
    elif flt.flag == "red_flag":
        conditions.append(red)
    elif flt.flag == "flagged":
        conditions.append(or_(Lead.needs_review.is_(True), red))
    elif flt.flag == "none":
        conditions.append(and_(Lead.needs_review.is_(False), ~red))
    since, until = day_bounds(flt.start, flt.end, zone)
    if since is not None:
        conditions.append(Lead.created_at >= since)
    if until is not None:
        conditions.append(Lead.created_at < until)
    if flt.q:
        pattern = _like(flt.q)
        matches = [
            Lead.name.ilike(pattern, escape="\\"),
            Lead.email.ilike(pattern, escape="\\"),
            Lead.reference.ilike(pattern, escape="\\"),
        ]
        digits = "".join(ch for ch in flt.q if ch.isdigit())
        if PHONE_QUERY.match(flt.q) and len(digits) >= 3:
            matches.append(Lead.phone.like(_like(digits), escape="\\"))
        conditions.append(or_(*matches))
    return conditions


# Flagged leads nobody has handled yet come first.
pinned = case(
    (
        and_(
            Lead.status == LeadStatus.NEW,
            or_(
                Lead.needs_review.is_(True),
                and_(Lead.red_flag.is_not(None), Lead.red_flag != ""),
            ),
        ),
        0,
    ),
    else_=1,
)


@dataclass(frozen=True)
class QueuePage:
    leads: List[Lead]
    total: int
    page: int
    pages: int
    counts: Dict[str, int]


def queue(session: Session, flt: QueueFilter, zone: ZoneInfo) -> QueuePage:
    """One page of the queue and the number of leads per status."""
    conditions = _conditions(flt, zone)
    total = session.execute(select(func.count(Lead.id)).where(*conditions)).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    if flt.page > pages:
        raise LookupError(f"there is no page {flt.page}: the queue has {pages}")
    leads = list(
        session.scalars(
            select(Lead)
            .options(lazyload(Lead.events))
            .where(*conditions)
            .order_by(pinned, Lead.created_at.desc(), Lead.id.desc())
            .offset((flt.page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    counts = {status.value: 0 for status in LeadStatus}
    for status, count in session.execute(
        select(Lead.status, func.count(Lead.id))
        .where(*_conditions(flt, zone, with_status=False))
        .group_by(Lead.status)
    ):
        counts[status.value] = count
    return QueuePage(
        leads=leads, total=total, page=flt.page, pages=pages, counts=counts
    )


def matching(session: Session, flt: QueueFilter, zone: ZoneInfo):  # noqa: ANN201
    """Every lead of the filter (all pages), in queue order, streamed."""
    return session.scalars(
        select(Lead)
        .options(lazyload(Lead.events))
        .where(*_conditions(flt, zone))
        .order_by(pinned, Lead.created_at.desc(), Lead.id.desc())
        .execution_options(yield_per=500)
    )


def notes(
    session: Session, flt: QueueFilter, zone: ZoneInfo
) -> Dict[int, List[LeadNote]]:
    """The staff notes of every lead of the filter, oldest first, per lead id."""
    leads = select(Lead.id).where(*_conditions(flt, zone))
    found: Dict[int, List[LeadNote]] = {}
    for note in session.scalars(
        select(LeadNote)
        .where(LeadNote.lead_id.in_(leads))
        .order_by(LeadNote.at, LeadNote.id)
        .execution_options(yield_per=500)
    ):
        found.setdefault(note.lead_id, []).append(note)
    return found


def channels(session: Session) -> List[str]:
    return list(session.scalars(select(Lead.channel).distinct().order_by(Lead.channel)))


def lead_by_reference(session: Session, raw: str) -> Optional[Lead]:
    reference = normalise_reference(raw)
    if reference is None:
        return None
    return session.scalars(select(Lead).where(Lead.reference == reference)).first()
