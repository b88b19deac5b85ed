"""The cost of a turn by its number in the conversation (`make bench`, part
`turns`).

One conversation of `turns` FAQ questions (five questions in turn), handled
in this process by Rasa's own `Agent` with what `rasa run` has around it: the
project's tracker store on a throwaway SQLite file, its action endpoint (an
FAQ turn's actions run inside Rasa, so no action server is started) and the
faster reply check. Each turn's wall time and this process's CPU time are
recorded. It runs twice on the same model: with the tracker kept between
turns (`cache_size` 256, the default) and without (`cache_size` 0: the table
is read and the session replayed on every turn, as Rasa's own SQL store
does), so one command gives the figures before and after that change.

    python -m scripts.bench.turns --model models/ims-assistant.tar.gz
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

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


async def _conversation(model: Path, turns: int, cache_size: int) -> Dict[str, Any]:
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from db.migrate import upgrade
    from rasa_extensions import response_schema
    from rasa_extensions.action_fallback import ActionServerFallback
    from rasa_extensions.tracker_store import ResilientSQLTrackerStore

    response_schema.install()
    with tempfile.TemporaryDirectory(prefix="ims-bench-turns-") as tmp:
        path = Path(tmp) / "turns.db"
        upgrade(f"sqlite:///{path}")
        agent = Agent.load(
            str(model),
            # Nothing listens there: an FAQ turn never calls the action server.
            action_endpoint=ActionServerFallback(url="http://127.0.0.1:9/webhook"),
        )
        store = ResilientSQLTrackerStore(
            domain=agent.domain, dialect="sqlite", db=str(path), cache_size=cache_size
        )
        agent.tracker_store = store
        agent.processor.tracker_store = store  # type: ignore[union-attr]
        wall: List[float] = []
        cpu: List[float] = []
        for number in range(turns):
            message = UserMessage(
                QUESTIONS[number % len(QUESTIONS)],
                CollectingOutputChannel(),
                "bench-turns",
                input_channel="rest",
            )
            started, cpu_started = time.perf_counter(), time.process_time()
            await agent.handle_message(message)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        store.engine.dispose()
    return {
        "cache_size": cache_size,
        "turns": turns,
        "latency_ms": [round(v, 2) for v in wall],
        "cpu_ms": [round(v, 2) for v in cpu],
        "latency_by_ten": windows(wall),
        "cpu_by_ten": windows(cpu),
    }


def measure(model: Path, turns: int = DEFAULT_TURNS) -> Dict[str, Any]:
    """Both runs: {"kept": ..., "replayed": ...} (see the module docstring)."""
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.getLogger("rasa").setLevel(logging.ERROR)
    return {
        "replayed": asyncio.run(_conversation(model, turns, cache_size=0)),
        "kept": asyncio.run(_conversation(model, turns, cache_size=256)),
    }


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, default=Path("models/ims-assistant.tar.gz")
    )
    parser.add_argument("--turns", type=int, default=DEFAULT_TURNS)
    args = parser.parse_args(argv)
    figures = measure(args.model, args.turns)
    for name, run in figures.items():
        rows = ", ".join(f"{r['turns']}: {r['p50']} ms" for r in run["latency_by_ten"])
        print(f"{name}: {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
