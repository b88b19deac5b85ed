"""`make bench-staff`: the staff app's conversation pages on a year of chats.

Fills a throwaway database with Rasa's `events` table as the tracker store
writes it (a year of synthetic conversations, seeded, about 50 events each)
and times the queries behind the staff pages that read it: the conversation
list (all, red-flagged, the last 30 days) and the 30-day dashboard. Each is
run REPEAT times; the median is reported.

Options are environment variables:

  STAFF_BENCH_CONVERSATIONS=6000  conversations (about 50 events each)
  STAFF_BENCH_DATABASE=sqlite     or `postgresql`, as BENCH_DATABASE in
                                  `make bench`
  STAFF_BENCH_REPEAT=5
  STAFF_BENCH_INDEXES=1           0: leave out the tracker store's reporting
                                  indexes, to see what they save
  BENCH_OUT=results/bench         where staff.json goes

A measurement, not a test: it exits 0 and prints the figures.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.exc import MovedIn20Warning
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
DAY = 24 * 3600
TOPICS = ("what_is_ims", "pain", "frequency", "cost_coverage", "candidate")


@dataclass(frozen=True)
class Dataset:
    conversations: int
    events: int
    red_flagged: int
    with_lead_form: int
    newest: float  # epoch seconds of the latest event


def _event(sender: str, kind: str, at: float, **fields: Any) -> Dict[str, Any]:
    data = {"event": kind, "timestamp": at, **fields}
    intent = ((fields.get("parse_data") or {}).get("intent") or {}).get("name")
    return {
        "sender_id": sender,
        "type_name": kind,
        "timestamp": at,
        "intent_name": intent,
        "action_name": fields.get("name"),
        "data": json.dumps(data),
    }


def conversation(sender: str, start: float, rng: random.Random) -> Iterator[Dict]:
    """One chat as the tracker store stores it: a session start, then turns
    of user message, slot, action, bot reply and listen."""
    at = start
    channel = rng.choice(("socketio", "socketio", "rest", "twilio"))
    yield _event(sender, "action", at, name="action_session_start")
    yield _event(sender, "session_started", at)
    yield _event(sender, "action", at, name="action_listen")
    red_flag = rng.random() < 0.02
    lead = rng.random() < 0.08
    for turn in range(rng.randint(6, 12)):
        at += rng.uniform(5, 60)
        if red_flag and turn == 1:
            intent, key = "emergency", None
        elif rng.random() < 0.04:
            intent, key = "nlu_fallback", None
        else:
            intent, key = "faq", f"faq/{rng.choice(TOPICS)}"
        parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": []}
        if key:
            parse["response_selector"] = {
                "faq": {"response": {"intent_response_key": key}}
            }
        text = f"question {turn} about {key or intent}"
        yield _event(sender, "user", at, text=text, parse_data=parse,
                     input_channel=channel)  # fmt: skip
        yield _event(sender, "slot", at, name="condition", value=None)
        if intent == "emergency":
            yield _event(sender, "slot", at, name="red_flag", value="chest_pain")
            yield _event(sender, "action", at, name="action_flag_red_flag")
        action = "action_start_lead" if lead and turn == 3 else "utter_faq"
        yield _event(sender, "action", at + 0.1, name=action)
        yield _event(sender, "bot", at + 0.1, text="an answer")
        yield _event(sender, "action", at + 0.1, name="action_listen")


def fill(engine, conversations: int, now: float, seed: int = 0) -> Dataset:
    """Creates `events` as Rasa does, adds a year of chats, and returns what
    was written."""
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore.Base.metadata.create_all(engine)
    table = SQLTrackerStore.SQLEvent.__table__
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not crypto
    batch: List[Dict] = []
    total = flagged = leads = 0
    newest = 0.0
    with engine.begin() as connection:
        for n in range(conversations):
            start = now - rng.uniform(0, 365 * DAY)
            rows = list(conversation(f"bench-{n:06d}", start, rng))
            flagged += any(r["type_name"] == "slot" and r["action_name"] == "red_flag"
                           for r in rows)  # fmt: skip
            leads += any(r["action_name"] == "action_start_lead" for r in rows)
            newest = max(newest, rows[-1]["timestamp"])
            batch += rows
            if len(batch) >= 5000:
                connection.execute(insert(table), batch)
                total += len(batch)
                batch = []
        if batch:
            connection.execute(insert(table), batch)
            total += len(batch)
    return Dataset(conversations, total, flagged, leads, newest)


def timed(run: Callable[[], Any], repeat: int) -> Dict[str, Any]:
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return {"median_ms": round(statistics.median(seconds) * 1000, 1),
            "max_ms": round(max(seconds) * 1000, 1), "result": result}  # fmt: skip


def measure(
    url: str, conversations: int, repeat: int, indexes: bool = True
) -> Dict[str, Any]:
    """Fills the database at `url` (empty, migrated here) and times the
    staff pages' queries; returns figures and what each query found."""
    from db.migrate import upgrade
    from db.rasa_events import events
    from rasa_extensions.tracker_store import add_reporting_indexes
    from webapp.staff import dashboard
    from webapp.staff.transcript import conversations as conversation_list

    upgrade(url)
    engine = create_engine(url, future=True)
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    data = fill(engine, conversations, now.timestamp())
    fill_seconds = time.perf_counter() - started
    started = time.perf_counter()
    added = add_reporting_indexes(engine) if indexes else []
    index_seconds = time.perf_counter() - started
    if engine.dialect.name == "postgresql":  # as autovacuum would have by now
        with engine.begin() as connection:
            connection.execute(text("ANALYZE events"))
    utc = ZoneInfo("UTC")
    month_ago = now - timedelta(days=30)
    today = now.date()

    def page(**kwargs: Any) -> Callable[[], Any]:
        def run() -> Any:
            with Session(engine) as session:
                found = conversation_list(session, limit=50, **kwargs)
                return {"total": found.total, "rows": len(found.rows)}

        return run

    def board() -> Dict[str, Any]:
        with Session(engine) as session:
            built = dashboard.build(session, today - timedelta(days=29), today, utc)
            return {"conversations": built.conversations,
                    "user_messages": built.user_messages}  # fmt: skip

    figures = {
        "conversation list, all": timed(page(), repeat),
        "conversation list, red flags": timed(page(show="red_flag"), repeat),
        "conversation list, last 30 days": timed(page(since=month_ago), repeat),
        "dashboard, 30 days": timed(board, repeat),
    }
    with Session(engine) as session:
        stored = session.execute(select(func.count()).select_from(events)).scalar()
    engine.dispose()
    return {
        "dataset": {**data.__dict__, "stored_events": stored},
        "fill_seconds": round(fill_seconds, 1),
        "index_seconds": round(index_seconds, 2),
        "indexes_added": added,
        "queries": figures,
    }


def main() -> int:
    from scripts.bench.load import throwaway_database

    conversations = int(os.environ.get("STAFF_BENCH_CONVERSATIONS") or 6000)
    repeat = int(os.environ.get("STAFF_BENCH_REPEAT") or 5)
    indexes = (os.environ.get("STAFF_BENCH_INDEXES") or "1") not in ("0", "no")
    kind = os.environ.get("STAFF_BENCH_DATABASE") or "sqlite"
    if kind not in ("sqlite", "postgresql"):
        raise SystemExit("STAFF_BENCH_DATABASE must be sqlite or postgresql")
    out = Path(os.environ.get("BENCH_OUT") or ROOT / "results" / "bench")
    print(__doc__.splitlines()[0])
    print(
        f"{conversations} conversations on a throwaway {kind} database, "
        f"{'with' if indexes else 'without'} the reporting indexes"
    )
    warnings.filterwarnings("ignore", category=MovedIn20Warning)  # Rasa's own code
    with (
        tempfile.TemporaryDirectory(prefix="ims-bench-staff-") as tmp,
        throwaway_database(kind, Path(tmp)) as url,
    ):
        results = measure(url, conversations, repeat, indexes)
    results["database"] = kind
    results["reporting_indexes"] = indexes
    data = results["dataset"]
    print(f"  {data['events']:,} events; filled in {results['fill_seconds']} s, "
          f"reporting indexes built in {results['index_seconds']} s")  # fmt: skip
    print("\n| staff page query | median | max | found |\n|---|---:|---:|---|")
    for name, figure in results["queries"].items():
        print(f"| {name} | {figure['median_ms']:.0f} ms | {figure['max_ms']:.0f} ms "
              f"| {figure['result']} |")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "staff.json").write_text(json.dumps(results, indent=2))
    print(f"\nWritten: {out}/staff.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
