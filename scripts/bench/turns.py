"""The cost of a turn by its number in the conversation (`make bench`, part
`turns`).

One conversation of `turns` FAQ questions (five questions in turn), handled
in this process by Rasa's own `Agent` with what `rasa run` has around it: the
project's tracker store on a throwaway SQLite file, its action endpoint (an
FAQ turn's actions run inside Rasa, so no action server is started) and the
faster reply check. Each turn's wall time and this process's CPU time are
recorded. It runs twice on the same model: "kept", as `rasa run` runs here
(the tracker kept between turns, `cache_size` 256, each conversation's
dialogue states and replay kept between predictions and the rule policy's
window, rasa_extensions/history_cache.py, and rasa_sdk's slot list kept,
sdk_validation.py; one conversation has nothing to batch, so
nlu_batching.py is left out), and "replayed", as Rasa does by itself
(`cache_size` 0: the table is read and the session replayed on every
turn, and the policies' states computed from the first event on every
prediction), so one command gives the figures before and after those
changes.

It runs on a throwaway SQLite file, and again on a throwaway PostgreSQL
database when the server answers (BENCH_POSTGRES_URL, as the load part).
Besides each turn's wall and CPU time, it records the CPU time of the turn
outside NLU parsing (the sentence model and classifiers cost the same at
every turn; what grows with the conversation is the rest). Then both
kinds once more under cProfile (`measure_profile`): the time per turn of
each suspect of the growth (`SUSPECTS`) at turns 1-10, 36-45 and 71-80.

    python -m scripts.bench.turns --model models/ims-assistant.tar.gz
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

QUESTIONS = (
    "how often do I need IMS?",
    "does IMS hurt?",
    "how much does a session cost?",
    "what is IMS?",
    "how long is a session?",
)
DEFAULT_TURNS = 80
WINDOW = 10  # turns per row of the table


def windows(values: List[float]) -> List[Dict[str, Any]]:
    """Median of each run of WINDOW turns: {"turns": "1-10", "p50": ...}."""
    rows = []
    for start in range(0, len(values), WINDOW):
        chunk = values[start : start + WINDOW]
        rows.append(
            {
                "turns": f"{start + 1}-{start + len(chunk)}",
                "p50": round(statistics.median(chunk), 2),
            }
        )
    return rows


# Where a turn's time goes (`profile`): a function's cumulative time per turn,
# by (end of its file's path, its name); the largest match is taken, since a
# wrapper's time includes what it wraps.
SUSPECTS = {
    "whole turn": (("rasa/core/processor.py",), "handle_message"),
    "NLU parse": (("rasa/core/processor.py",), "parse_message"),
    "tracker store, read": (("rasa_extensions/tracker_store.py",), "retrieve"),
    "tracker store, write": (("rasa_extensions/tracker_store.py",), "save"),
    "session check": (("rasa/core/processor.py",), "_update_tracker_session"),
    "slot mappings": (("rasa/core/processor.py",), "run_action_extract_slots"),
    "rule policy": (
        ("rasa/core/policies/rule_policy.py",),
        "predict_action_probabilities",
    ),
    "  of which the states": (
        ("rasa/shared/core/domain.py", "rasa_extensions/history_cache.py"),
        "states_for_tracker_history",
    ),
    "running the actions": (("rasa/core/processor.py",), "_run_action"),
    "applied events (everywhere)": (
        ("rasa/shared/core/trackers.py", "rasa_extensions/history_cache.py"),
        "applied_events",
    ),
}
PROFILE_WINDOWS = ((1, 10), (36, 45), (71, 80))


def breakdown(stats: Any, turns: int) -> Dict[str, float]:
    """SUSPECTS' cumulative ms per turn, from a cProfile `pstats.Stats`."""
    found: Dict[str, float] = {}
    for name, (paths, function) in SUSPECTS.items():
        seconds = [
            row[3]
            for (filename, _, funcname), row in stats.stats.items()
            if funcname == function and filename.endswith(paths)
        ]
        found[name] = round(max(seconds, default=0.0) * 1000 / turns, 2)
    return found


def load_agent(
    model: Path, database_url: str, kept: bool = True, action_endpoint: Any = None
) -> Tuple[Any, Any]:
    """(agent, tracker store): `model` loaded by Rasa's `Agent` with what
    `rasa run` has around it here (the project's tracker store on
    `database_url`, its action endpoint, the faster reply check), "kept" or
    "replayed" (module docstring). `action_endpoint` defaults to one where
    nothing listens: an FAQ turn never calls the action server."""
    from rasa.core.agent import Agent

    from rasa_extensions import history_cache, response_schema, sdk_validation
    from rasa_extensions.action_fallback import ActionServerFallback
    from rasa_extensions.tracker_store import ResilientSQLTrackerStore

    response_schema.install()
    if kept:
        history_cache.install()
        sdk_validation.install()
    else:
        history_cache.uninstall()
        sdk_validation.uninstall()
    agent = Agent.load(
        str(model),
        action_endpoint=action_endpoint
        or ActionServerFallback(url="http://127.0.0.1:9/webhook"),
    )
    store = ResilientSQLTrackerStore(
        domain=agent.domain,
        cache_size=256 if kept else 0,
        **store_arguments(database_url),
    )
    agent.tracker_store = store
    assert agent.processor is not None
    agent.processor.tracker_store = store
    return agent, store


class TurnClock:
    """Times turns: wall time, this process's CPU time, and its CPU time
    outside NLU parsing (the processor's `parse_message`, wrapped)."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.nlu_cpu = 0.0
        processor = agent.processor
        parse = processor.parse_message

        async def timed_parse(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return await parse(*args, **kwargs)
            finally:
                self.nlu_cpu += time.process_time() - started

        processor.parse_message = timed_parse  # type: ignore[method-assign]

    async def turn(self, message: Any) -> Tuple[float, float, float]:
        """(wall ms, CPU ms, CPU ms outside NLU) of handling `message`."""
        self.nlu_cpu = 0.0
        started, cpu_started = time.perf_counter(), time.process_time()
        await self.agent.handle_message(message)
        wall = (time.perf_counter() - started) * 1000
        cpu = (time.process_time() - cpu_started) * 1000
        return wall, cpu, cpu - self.nlu_cpu * 1000


def message(text: str, sender: str, output: Any = None) -> Any:
    """A person's message to Rasa over REST, as `rasa run` receives it."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    return UserMessage(
        text, output or CollectingOutputChannel(), sender, input_channel="rest"
    )


async def _conversation(
    model: Path,
    turns: int,
    kept: bool,
    database_url: str,
    profile: bool = False,
) -> Dict[str, Any]:
    agent, store = load_agent(model, database_url, kept)
    clock = TurnClock(agent)
    wall: List[float] = []
    cpu: List[float] = []
    outside_nlu: List[float] = []
    profiles: Dict[Tuple[int, int], cProfile.Profile] = {}
    for number in range(turns):
        question = message(QUESTIONS[number % len(QUESTIONS)], "bench-turns")
        window = next((w for w in PROFILE_WINDOWS if w[0] <= number + 1 <= w[1]), None)
        if profile and window:
            if window not in profiles:
                profiles[window] = cProfile.Profile()
            profiles[window].enable()
        took = await clock.turn(question)
        if profile and window:
            profiles[window].disable()
        wall.append(took[0])
        cpu.append(took[1])
        outside_nlu.append(took[2])
    store.engine.dispose()
    if profile:
        return {
            f"{first}-{last}": breakdown(pstats.Stats(found), last - first + 1)
            for (first, last), found in profiles.items()
        }
    return {
        "cache_size": store.cache_size,
        "turns": turns,
        "latency_ms": [round(v, 2) for v in wall],
        "cpu_ms": [round(v, 2) for v in cpu],
        "cpu_outside_nlu_ms": [round(v, 2) for v in outside_nlu],
        "latency_by_ten": windows(wall),
        "cpu_by_ten": windows(cpu),
        "cpu_outside_nlu_by_ten": windows(outside_nlu),
    }


def store_arguments(database_url: str) -> Dict[str, Any]:
    """ResilientSQLTrackerStore's arguments for `database_url`."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return {"dialect": "sqlite", "db": url.database}
    return {
        "dialect": "postgresql",
        "host": url.host,
        "port": url.port,
        "db": url.database,
        "username": url.username,
        "password": url.password,
    }


def postgres_reachable() -> bool:
    """Whether the load part's PostgreSQL server answers."""
    from sqlalchemy import create_engine, text

    from scripts.bench.load import admin_url

    engine = create_engine(
        admin_url(), future=True, connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure: measure SQLite only
        return False
    finally:
        engine.dispose()


def measure(model: Path, turns: int = DEFAULT_TURNS) -> Dict[str, Any]:
    """{"sqlite": {"kept": ..., "replayed": ...}, "postgresql": ...} (the
    second when the server answers; see the module docstring)."""
    from rasa.utils.log_utils import configure_structlog

    from scripts.bench.load import throwaway_database

    configure_structlog(logging.WARNING)
    logging.getLogger("rasa").setLevel(logging.ERROR)
    databases = ["sqlite"] + (["postgresql"] if postgres_reachable() else [])
    figures: Dict[str, Any] = {}
    for kind in databases:
        figures[kind] = {}
        for name, kept in (("replayed", False), ("kept", True)):
            with (
                tempfile.TemporaryDirectory(prefix="ims-bench-turns-") as tmp,
                throwaway_database(kind, Path(tmp)) as url,
            ):
                run = asyncio.run(_conversation(model, turns, kept, url))
            figures[kind][name] = {**run, "database": kind}
    return figures


def measure_profile(model: Path, turns: int = DEFAULT_TURNS) -> Dict[str, Any]:
    """Where the time of turns 1-10, 36-45 and 71-80 goes, under cProfile (a
    separate run of each kind on SQLite: the profiler slows every call)."""
    from scripts.bench.load import throwaway_database

    found: Dict[str, Any] = {}
    for name, kept in (("replayed", False), ("kept", True)):
        with (
            tempfile.TemporaryDirectory(prefix="ims-bench-turns-") as tmp,
            throwaway_database("sqlite", Path(tmp)) as url,
        ):
            found[name] = asyncio.run(
                _conversation(model, turns, kept, url, profile=True)
            )
    return found


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, default=Path("models/ims-assistant.tar.gz")
    )
    parser.add_argument("--turns", type=int, default=DEFAULT_TURNS)
    args = parser.parse_args(argv)
    figures = measure(args.model, args.turns)
    for kind, runs in figures.items():
        for name, run in runs.items():
            rows = ", ".join(
                f"{r['turns']}: {r['p50']} ms" for r in run["latency_by_ten"]
            )
            print(f"{kind} {name}: {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
