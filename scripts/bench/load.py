"""End-to-end latency over Rasa's REST channel, with real servers.

Starts `rasa run` and the action server as subprocesses on free loopback
ports against a throwaway database (a fresh SQLite file by default, or a
fresh PostgreSQL database), warms them up, then simulates people talking at
once, in two ways:

- paced: after each reply a person waits a think time (by default 1 to 3 s,
  uniformly; people read and type far slower) before the next message. This
  is what "N concurrent conversations" means for the targets.
- back to back: the next message goes as soon as the reply arrives. This
  saturates the server and measures its capacity (messages per second);
  latency then is, by Little's law, conversations / throughput.

A conversation is a greeting (the session start; not an FAQ turn) then FAQ
questions; after a fixed number of turns the person starts a new one with a
new sender id, so trackers stay as short as real ones. Peak RSS of both
servers (with any children) is sampled from their start to the end.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from scripts.bench import profile
from scripts.bench.report import percentiles
from scripts.ports import free_port

ROOT = Path(__file__).resolve().parents[2]

# FAQ questions in our own words (not from the test set), one per topic area.
FAQ_MESSAGES = [
    "how often do I need IMS?",
    "what is IMS?",
    "does IMS hurt?",
    "how many sessions will I need?",
    "is IMS the same as acupuncture?",
    "how long does a session take?",
    "will I be sore afterwards?",
    "how much does a treatment cost?",
    "what conditions can IMS help with?",
    "who does the needling?",
]
OPENING = "hi"
TIMEOUT_S = 30
PACED, BACK_TO_BACK = "paced", "back_to_back"


@dataclass
class Level:
    """Figures of one concurrency level."""

    mode: str
    concurrency: int
    think_s: float
    seconds: float = 0.0
    messages: int = 0
    faq_turns: int = 0
    errors: int = 0
    error_kinds: Dict[str, int] = field(default_factory=dict)
    faq_latencies_ms: List[float] = field(default_factory=list)
    opening_latencies_ms: List[float] = field(default_factory=list)

    def as_dict(self) -> Dict[str, object]:
        return {
            "mode": self.mode,
            "concurrency": self.concurrency,
            "think_s": self.think_s,
            "seconds": round(self.seconds, 2),
            "messages": self.messages,
            "faq_turns": self.faq_turns,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "throughput_per_s": round(self.messages / self.seconds, 2)
            if self.seconds
            else None,
            "faq_latency_ms": percentiles(self.faq_latencies_ms),
            "opening_latency_ms": percentiles(self.opening_latencies_ms),
        }


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 600) -> float:
    """Seconds until `url` answers; raises if the process dies or times out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} ({url})")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


class RssSampler(threading.Thread):
    """Samples the resident memory of processes (each with its children)."""

    def __init__(self, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pids: Dict[str, int] = {}
        self.interval = interval
        self.peaks: Dict[str, int] = {}
        self.last: Dict[str, int] = {}
        self._stop_event = threading.Event()

    def watch(self, name: str, pid: int) -> None:
        self.pids = {**self.pids, name: pid}

    @staticmethod
    def tree(pid: int) -> list:
        """`pid` and all its children (empty once it has exited)."""
        import psutil

        try:
            process = psutil.Process(pid)
            return [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    @staticmethod
    def tree_rss(pid: int) -> int:
        import psutil

        total = 0
        for member in RssSampler.tree(pid):
            with suppress(psutil.NoSuchProcess):
                total += member.memory_info().rss
        return total

    @staticmethod
    def tree_cpu_seconds(pid: int) -> float:
        """CPU time (user and system) used so far by `pid` and its children."""
        import psutil

        total = 0.0
        for member in RssSampler.tree(pid):
            with suppress(psutil.NoSuchProcess):
                times = member.cpu_times()
                total += times.user + times.system
        return total

    def run(self) -> None:
        while not self._stop_event.is_set():
            for name, pid in self.pids.items():
                rss = self.tree_rss(pid)
                if rss:
                    self.last[name] = rss
                    self.peaks[name] = max(self.peaks.get(name, 0), rss)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def admin_url() -> str:
    """The PostgreSQL server the bench makes its throwaway databases on."""
    return os.environ.get(
        "BENCH_POSTGRES_URL",
        os.environ.get(
            "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )


@contextmanager
def throwaway_database(kind: str, workdir: Path) -> Iterator[str]:
    """A migrated, empty database URL: a SQLite file in `workdir`, or a new
    PostgreSQL database on BENCH_POSTGRES_URL's server, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from db.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        yield url
        return
    admin = admin_url()
    name = f"ims_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, future=True, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


def _start(command: List[str], env: Dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as handle:
        return subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Stack:
    url: str
    rasa: subprocess.Popen
    actions: subprocess.Popen
    logs: List[Path]
    server_start_seconds: float
    action_server_start_seconds: float


@contextmanager
def servers(
    model: Path, database_url: str, workdir: Path, sampler: RssSampler
) -> Iterator[Stack]:
    """Runs the action server and `rasa run` on free ports until exit; the
    sampler watches each from the moment it starts (model loading included)."""
    actions_port, rasa_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{actions_port}/webhook",
        "REST_CHANNEL": "open",  # the benchmark talks REST (off by default)
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }
    py = sys.executable
    logs = [workdir / "actions.log", workdir / "rasa.log"]
    actions = _start(
        [py, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)],
        env,
        logs[0],
    )
    sampler.watch("actions", actions.pid)
    rasa = _start(
        [
            py,
            "-m",
            "rasa_extensions",
            "run",
            "--model",
            str(model),
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            "credentials.yml",
            "--port",
            str(rasa_port),
            "--interface",
            "127.0.0.1",
        ],  # fmt: skip
        env,
        logs[1],
    )
    sampler.watch("rasa", rasa.pid)
    try:
        action_seconds = wait_until_up(
            f"http://127.0.0.1:{actions_port}/health", actions
        )
        # Rasa loads the model before it starts listening, so the first
        # answer on / means it is ready.
        rasa_seconds = wait_until_up(f"http://127.0.0.1:{rasa_port}/", rasa)
        yield Stack(
            f"http://127.0.0.1:{rasa_port}",
            rasa,
            actions,
            logs,
            rasa_seconds,
            action_seconds,
        )
    finally:
        _stop(rasa)
        _stop(actions)


async def _send(session, url: str, sender: str, text: str) -> Optional[str]:
    """Sends one message; returns None when it went well, else what failed."""
    import aiohttp

    try:
        async with session.post(
            f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
        ) as response:
            if response.status != 200:
                return f"HTTP {response.status}"
            replies = await response.json()
    except asyncio.TimeoutError:
        return "timeout"
    except aiohttp.ClientError as error:
        return type(error).__name__
    except ValueError:
        return "invalid JSON"
    if not replies or not any(r.get("text") for r in replies):
        return "no reply"
    return None


async def run_level(
    url: str, mode: str, concurrency: int, duration: float, turns: int, **kw
) -> Level:
    """`concurrency` people talking at once for about `duration` seconds.
    Keywords: `think` (mean think time in seconds, paced mode), `tag` (in
    sender ids), `seed` (for the think times)."""
    import aiohttp

    think = kw.get("think", 2.0) if mode == PACED else 0.0
    tag = kw.get("tag", "x")
    rng = random.Random(kw.get("seed", concurrency))  # noqa: S311 - not crypto
    result = Level(mode, concurrency, think)
    deadline = time.monotonic() + duration

    async def pause() -> None:
        if think:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))

    async def say(session, sender: str, text: str, faq: bool) -> None:
        started = time.perf_counter()
        failure = await _send(session, url, sender, text)
        elapsed = (time.perf_counter() - started) * 1000
        result.messages += 1
        if failure:
            result.errors += 1
            result.error_kinds[failure] = result.error_kinds.get(failure, 0) + 1
        elif faq:
            result.faq_latencies_ms.append(elapsed)
        else:
            result.opening_latencies_ms.append(elapsed)
        result.faq_turns += faq

    async def person(index: int, session) -> None:
        if think:  # people do not all arrive at the same instant
            await asyncio.sleep(rng.uniform(0, think))
        conversation = 0
        while time.monotonic() < deadline:
            conversation += 1
            sender = f"bench-{tag}-{mode}{concurrency}-{index}-{conversation}"
            await say(session, sender, OPENING, faq=False)
            for turn in range(turns):
                await pause()
                if time.monotonic() >= deadline:
                    break
                text = FAQ_MESSAGES[(index + turn) % len(FAQ_MESSAGES)]
                await say(session, sender, text, faq=True)

    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(person(i, session) for i in range(concurrency)))
        result.seconds = time.monotonic() - started
    return result


def _print_level(row: Dict[str, object]) -> None:
    latency = row["faq_latency_ms"]
    mode = "paced" if row["mode"] == PACED else "back to back"
    print(
        f"  {mode:>12}, {row['concurrency']:>2} conversations: "
        f"{row['messages']} messages in {row['seconds']:.0f} s "
        f"({row['throughput_per_s']}/s), FAQ turn p50 {latency.get('p50', 'n/a')} "
        f"ms, p95 {latency.get('p95', 'n/a')} ms, errors {row['errors']}; "
        f"CPU per message {row.get('cpu_ms_per_message')} ms",
        flush=True,
    )


@dataclass(frozen=True)
class Plan:
    """What to measure."""

    paced_levels: List[int]
    stress_levels: List[int]
    duration: float
    warm_up: float
    turns: int
    think: float
    profile_to: Optional[Path] = None  # py-spy output, during the top stress level


def run(model: Path, database: str, plan: Plan, keep_logs: Optional[Path] = None):
    """Starts the servers, warms them up, runs each level; returns figures."""
    tag = uuid.uuid4().hex[:6]
    sampler = RssSampler()
    sampler.start()
    rows: List[Dict[str, object]] = []
    profiled: Dict[str, object] = {}
    levels = [(PACED, c) for c in plan.paced_levels]
    levels += [(BACK_TO_BACK, c) for c in plan.stress_levels]
    try:
        with (
            tempfile.TemporaryDirectory(prefix="ims-bench-") as tmp,
            throwaway_database(database, Path(tmp)) as database_url,
            servers(model, database_url, Path(tmp), sampler) as stack,
        ):
            try:
                print(
                    f"  servers up: rasa {stack.server_start_seconds:.1f} s,"
                    f" actions {stack.action_server_start_seconds:.1f} s;"
                    f" warming up for {plan.warm_up:.0f} s",
                    flush=True,
                )
                warm = asyncio.run(
                    run_level(
                        stack.url, BACK_TO_BACK, 2, plan.warm_up, plan.turns, tag="w"
                    )
                )
                for mode, concurrency in levels:
                    spy = None
                    if (
                        plan.profile_to
                        and mode == BACK_TO_BACK
                        and concurrency == max(plan.stress_levels)
                    ):
                        spy = profile.record(
                            stack.rasa.pid, int(plan.duration), plan.profile_to
                        )
                    cpu_before = {
                        name: sampler.tree_cpu_seconds(pid)
                        for name, pid in sampler.pids.items()
                    }
                    row = asyncio.run(
                        run_level(
                            stack.url,
                            mode,
                            concurrency,
                            plan.duration,
                            plan.turns,
                            think=plan.think,
                            tag=tag,
                        )
                    ).as_dict()
                    # CPU per message barely depends on other load on the
                    # machine, unlike latency: the steadier figure to compare.
                    row["cpu_ms_per_message"] = {
                        name: round(
                            (sampler.tree_cpu_seconds(pid) - cpu_before[name])
                            * 1000
                            / max(row["messages"], 1),
                            1,
                        )
                        for name, pid in sampler.pids.items()
                    }
                    _print_level(row)
                    rows.append(row)
                    if spy is not None:
                        spy.wait(timeout=plan.duration + 60)
                        if plan.profile_to.exists():
                            profiled = {
                                "during": f"{mode}, {concurrency} conversations",
                                "raw": str(plan.profile_to),
                                **profile.breakdown(plan.profile_to.read_text()),
                            }
                rss_after = dict(sampler.last)
            finally:
                if keep_logs:
                    keep_logs.mkdir(parents=True, exist_ok=True)
                    for log in stack.logs:
                        (keep_logs / log.name).write_bytes(log.read_bytes())
    finally:
        sampler.stop()
    return {
        "startup": {
            "server_start_seconds": round(stack.server_start_seconds, 2),
            "action_server_start_seconds": round(stack.action_server_start_seconds, 2),
        },
        "e2e": {
            "warm_up": {
                "seconds": round(warm.seconds, 1),
                "messages": warm.messages,
                "errors": warm.errors,
            },
            "duration_per_level_s": plan.duration,
            "faq_turns_per_conversation": plan.turns,
            "think_s": plan.think,
            "levels": rows,
        },
        "profile": profiled,
        "rss": {
            "interval_s": sampler.interval,
            "rasa_peak_bytes": sampler.peaks.get("rasa"),
            "actions_peak_bytes": sampler.peaks.get("actions"),
            "rasa_after_run_bytes": rss_after.get("rasa"),
            "actions_after_run_bytes": rss_after.get("actions"),
        },
    }
