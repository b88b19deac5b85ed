"""The capacity of one Rasa process and of `make run-scaled`, and the Rasa
server's memory over many conversations (`make bench`, part `capacity`).

Three measurements, each over REST with aiohttp, after a warm-up:

- **16 × 40, one process:** 16 people at once, each one conversation of a
  greeting and 40 FAQ questions, sent back to back (the next message as
  soon as the reply comes); messages per second from the first message to
  the last reply, and the FAQ turns' p50 and p95. `rasa run` and the action
  server as `load.servers` starts them.
- **16 × 40, `make run-scaled`:** the same load through nginx in front of
  the two replicas `scripts/run_scaled.sh` starts (Redis lock store, the
  same kind of throwaway database), against the one process on the same
  database. Measured when Redis, nginx and PostgreSQL answer; it needs
  PostgreSQL, so the whole part runs on PostgreSQL when it answers (else on
  SQLite, without the scaled run).
- **CPU by process:** for both 16 × 40 runs, the CPU time each kind of
  process spent per message (`cpu_by_process`): the Rasa server(s), the
  action servers, nginx, the web app and notification worker, Redis,
  PostgreSQL, the load client, and the rest of the machine (all cores'
  busy time less those), from /proc before and after the run. Other work
  on the machine changes a run's messages/s; this shows where a message's
  CPU went, which is what differs between the two set-ups.
- **Memory over 1,000 conversations:** on the one process, conversations of
  a greeting and one FAQ question, 16 at a time, back to back; the Rasa
  server's RSS (with its children) when the first 10 have ended, and its
  peak from then until the 1,000th has ended.

    python -m scripts.bench.capacity --model models/ims-assistant.tar.gz
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from scripts.bench import load
from scripts.bench.report import percentiles
from scripts.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 16
TURNS = 40
CONVERSATIONS = 1000
FIRST = 10  # conversations before the first memory reading


def machine_cpu() -> Optional[List[int]]:
    """The machine's CPU time counters (/proc/stat: all cores, in ticks), or
    None where there is no /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None


def busy_share(
    before: Optional[List[int]], after: Optional[List[int]]
) -> Optional[float]:
    """How busy the whole machine was between two machine_cpu() readings
    (every process, the load client and the database included): 1.0 is
    every core busy all the time. Idle and waiting on I/O count as not busy."""
    if not before or not after:
        return None
    spent = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(spent[:8])  # user nice system idle iowait irq softirq steal
    idle = spent[3] + spent[4]
    return round((total - idle) / total, 2) if total > 0 else None


# (kind, what its command line holds), for the processes a set-up started
KINDS: List[Tuple[str, str]] = [
    ("Rasa", "rasa_extensions run"),
    ("action servers", "rasa_sdk"),
    ("action servers", "run actions"),
    ("web app and notification worker", "-m webapp"),
    ("web app and notification worker", "notifications.worker"),
]
MACHINE_KINDS = [
    ("Redis", "redis-server"),
    ("PostgreSQL", "postgres"),
    ("nginx", "nginx"),
]
REST = "rest of the machine"


def _kind(process: Any, ours: set) -> Optional[str]:
    """The kind of a process (KINDS, MACHINE_KINDS), or None."""
    import psutil

    try:
        if process.pid == os.getpid():
            return "load client"
        name = process.name()
        for kind, prefix in MACHINE_KINDS:
            if name.startswith(prefix):
                return kind
        if process.pid not in ours:
            return None
        command = " ".join(process.cmdline())
    except psutil.Error:
        return None
    return next((kind for kind, mark in KINDS if mark in command), None)


def process_cpu(roots: List[int]) -> Dict[Tuple[int, float], Tuple[str, float]]:
    """CPU seconds so far (user and system) of each process of a kind, by
    (pid, start time): every process under `roots` (the set-up's), this
    one, and Redis, PostgreSQL and nginx wherever they run. A process
    started during the run counts from 0."""
    import psutil

    ours = set()
    for root in roots:
        ours.update(p.pid for p in load.RssSampler.tree(root))
    found: Dict[Tuple[int, float], Tuple[str, float]] = {}
    for process in psutil.process_iter():
        kind = _kind(process, ours)
        if kind is None:
            continue
        try:
            times = process.cpu_times()
            found[(process.pid, process.create_time())] = (
                kind,
                times.user + times.system,
            )
        except psutil.Error:
            continue
    return found


def cpu_by_process(
    before: Dict[Tuple[int, float], Tuple[str, float]],
    after: Dict[Tuple[int, float], Tuple[str, float]],
    machine: Tuple[Optional[List[int]], Optional[List[int]]],
    messages: int,
) -> Dict[str, float]:
    """ms of CPU per message by kind between two process_cpu() readings;
    REST is the machine's busy time (machine_cpu()) less all of them."""
    spent: Dict[str, float] = {}
    for key, (kind, seconds) in after.items():
        used = seconds - before.get(key, (kind, 0.0))[1]
        spent[kind] = spent.get(kind, 0.0) + max(used, 0.0)
    first, last = machine
    if first and last:
        ticks = [b - a for a, b in zip(first, last, strict=True)]
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        spent[REST] = max(busy - sum(spent.values()), 0.0)
    return {
        kind: round(seconds * 1000 / max(messages, 1), 2)
        for kind, seconds in sorted(spent.items())
    }


def measured_run(url: str, roots: List[int], tag: str) -> Dict[str, Any]:
    """One 16 × 40 run on `url`, with how busy the machine was and the CPU
    per message of each kind of process (`roots`: the set-up's processes)."""
    processes, machine = process_cpu(roots), machine_cpu()
    run = asyncio.run(conversations(url, PEOPLE, TURNS, PEOPLE, tag))
    after, machine_after = process_cpu(roots), machine_cpu()
    run["machine_busy"] = busy_share(machine, machine_after)
    run["cpu_by_process"] = cpu_by_process(
        processes, after, (machine, machine_after), run["messages"]
    )
    run["cpu_ms_per_message"] = run["cpu_by_process"].get("Rasa")
    return run


async def conversations(
    url: str,
    people: int,
    turns: int,
    total: int,
    tag: str,
    on_ended: Any = None,
) -> Dict[str, Any]:
    """`people` at once, back to back, until `total` conversations (a
    greeting and `turns` FAQ questions each) have ended; `on_ended(n)` is
    called as the n-th ends. Messages per second from the first message to
    the last reply, and latency percentiles."""
    import aiohttp

    faq: List[float] = []
    counts = {"messages": 0, "errors": 0, "started": 0, "ended": 0}
    kinds: Dict[str, int] = {}
    clock = {"start": time.perf_counter()}
    replied: List[float] = []  # seconds from the start, one per reply
    ended_at: List[float] = []  # seconds from the start, one per conversation

    async def say(session: Any, sender: str, text: str, is_faq: bool) -> None:
        started = time.perf_counter()
        failure = await load._send(session, url, sender, text)
        replied.append(time.perf_counter() - clock["start"])
        counts["messages"] += 1
        if failure:
            counts["errors"] += 1
            kinds[failure] = kinds.get(failure, 0) + 1
        elif is_faq:
            faq.append((time.perf_counter() - started) * 1000)

    async def person(index: int, session: Any) -> None:
        while counts["started"] < total:
            counts["started"] += 1
            sender = f"bench-{tag}-{index}-{counts['started']}"
            await say(session, sender, load.OPENING, False)
            for turn in range(turns):
                text = load.FAQ_MESSAGES[(index + turn) % len(load.FAQ_MESSAGES)]
                await say(session, sender, text, True)
            counts["ended"] += 1
            ended_at.append(time.perf_counter() - clock["start"])
            if on_ended is not None:
                on_ended(counts["ended"])

    timeout = aiohttp.ClientTimeout(total=load.TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=people)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = clock["start"] = time.perf_counter()
        await asyncio.gather(*(person(i, session) for i in range(people)))
        seconds = time.perf_counter() - started
    return {
        **all_under_way(replied, ended_at, people),
        "people": people,
        "turns": turns,
        "conversations": counts["ended"],
        "messages": counts["messages"],
        "errors": counts["errors"],
        "error_kinds": kinds,
        "seconds": round(seconds, 2),
        "throughput_per_s": round(counts["messages"] / seconds, 2),
        "faq_latency_ms": percentiles(faq),
    }


def all_under_way(
    replied: List[float], ended_at: List[float], people: int
) -> Dict[str, Any]:
    """Messages/s while every person's conversation was still under way
    (up to the first conversation's end), and when each ended.

    The whole run's rate is that of its slowest part: with nginx keeping
    each conversation on one replica, 16 conversations can split 10 and 6,
    and once the replica with 6 has finished them it waits while the other
    finishes its 10. Up to the first end, every replica is serving all the
    conversations it was given."""
    if not ended_at or len(ended_at) < people:
        return {"ended_at_s": [round(t, 2) for t in ended_at]}
    first = min(ended_at)
    during = sum(1 for t in replied if t <= first)
    return {
        "ended_at_s": sorted(round(t, 2) for t in ended_at),
        "all_under_way_s": round(first, 2),
        "all_under_way_per_s": round(during / first, 2) if first > 0 else None,
    }


def _warm_up(url: str, seconds: float) -> None:
    asyncio.run(load.run_level(url, load.BACK_TO_BACK, 2, seconds, 10, tag="w"))


def one_process(
    model: Path, kind: str, warm_up: float, memory_conversations: int
) -> Dict[str, Any]:
    """16 × 40 on one `rasa run`, then the memory run on the same server."""
    sampler = load.RssSampler()
    sampler.start()
    figures: Dict[str, Any] = {}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="ims-bench-capacity-") as tmp,
            load.throwaway_database(kind, Path(tmp)) as database_url,
            load.servers(model, database_url, Path(tmp), sampler) as stack,
        ):
            _warm_up(stack.url, warm_up)
            roots = [stack.rasa.pid, stack.actions.pid]
            run = measured_run(stack.url, roots, "c")
            figures["sixteen_by_forty"] = run
            print(_line("one Rasa process", run), flush=True)
            if memory_conversations:
                figures["memory"] = memory(stack, sampler, memory_conversations)
    finally:
        sampler.stop()
    return figures


def memory(stack: Any, sampler: Any, total: int) -> Dict[str, Any]:
    """The Rasa server's RSS after the first FIRST conversations, and its
    peak until `total` have ended (one FAQ question each, 16 at a time)."""
    readings: Dict[str, Any] = {"after_first": None, "peak_after": 0}
    pid = stack.rasa.pid

    def ended(count: int) -> None:
        rss = sampler.tree_rss(pid)
        if count == FIRST:
            readings["after_first"] = rss
        if count >= FIRST:
            readings["peak_after"] = max(readings["peak_after"], rss)

    watching = {"on": True}

    async def run() -> Dict[str, Any]:
        async def watch() -> None:  # between conversations' ends too
            while watching["on"]:
                if readings["after_first"] is not None:
                    rss = sampler.tree_rss(pid)
                    readings["peak_after"] = max(readings["peak_after"], rss)
                await asyncio.sleep(sampler.interval)

        watcher = asyncio.create_task(watch())
        try:
            return await conversations(stack.url, PEOPLE, 1, total, "m", ended)
        finally:
            watching["on"] = False
            await watcher

    done = asyncio.run(run())
    first, peak = readings["after_first"], readings["peak_after"]
    result = {
        "conversations": done["conversations"],
        "messages": done["messages"],
        "errors": done["errors"],
        "first": FIRST,
        "rss_after_first_bytes": first,
        "peak_rss_after_all_bytes": peak,
        "ratio": round(peak / first, 3) if first else None,
    }
    print(
        f"  memory: RSS {first / 1024**2:.0f} MiB after {FIRST} conversations, "
        f"peak {peak / 1024**2:.0f} MiB until {done['conversations']} "
        f"({result['ratio']} x)",
        flush=True,
    )
    return result


def scaled_missing() -> Optional[str]:
    """Why `make run-scaled` cannot be measured here, or None."""
    import redis

    from scripts.bench.turns import postgres_reachable

    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        return "nginx is not installed"
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=3).ping()
    except redis.RedisError:
        return "Redis does not answer on 127.0.0.1:6379"
    if not postgres_reachable():
        return "PostgreSQL does not answer"
    return None


@contextmanager
def scaled_stack(database_url: str, workdir: Path) -> Iterator[Tuple[str, int]]:
    """`scripts/run_scaled.sh` on free ports with its own Redis key prefix,
    the REST channel open; yields nginx's URL and the script's pid (every
    server it starts is under it)."""
    import redis

    replicas, actions = [free_port(), free_port()], [free_port(), free_port()]
    proxy = free_port()
    prefix = "bench" + secrets.token_hex(4)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(proxy),
        "RASA_PORTS": " ".join(map(str, replicas)),
        "ACTION_PORTS": " ".join(map(str, actions)),
        "ACTIONS_PROXY_PORT": str(free_port()),
        "API_PROXY_PORT": str(free_port()),
        "WEB_PORT": str(free_port()),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "REDIS_DB": "1",
        "LOCK_KEY_PREFIX": prefix,
        "REST_CHANNEL": "open",  # the benchmark talks REST (off by default)
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "TWILIO_LOCAL_DIR": str(workdir / "twilio"),
        "NGINX_DIR": str(workdir / "nginx"),
    }
    for name in ("RASA_URL", "PUBLIC_BASE_URL", "ACTION_ENDPOINT_URL"):
        env.pop(name, None)
    log = (workdir / "scaled.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our script, our arguments
        [shutil.which("bash") or "/bin/bash", "scripts/run_scaled.sh"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for port in replicas:
            load.wait_until_up(f"http://127.0.0.1:{port}/", process)
        load.wait_until_up(f"http://127.0.0.1:{proxy}/", process)
        yield f"http://127.0.0.1:{proxy}", process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)  # the script and every server it started
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        log.close()
        client = redis.Redis(host="127.0.0.1", port=6379, db=1)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


def scaled(warm_up: float) -> Dict[str, Any]:
    """16 × 40 through `make run-scaled`'s nginx (PostgreSQL)."""
    with (
        tempfile.TemporaryDirectory(prefix="ims-bench-scaled-") as tmp,
        load.throwaway_database("postgresql", Path(tmp)) as database_url,
        scaled_stack(database_url, Path(tmp)) as (url, script),
    ):
        _warm_up(url, warm_up)
        run = measured_run(url, [script], "s")
    print(_line("make run-scaled (2 replicas)", run), flush=True)
    return run


def ratios(one: Dict[str, Any], two: Dict[str, Any]) -> Dict[str, Any]:
    """run-scaled over one process: `scaled_ratio` while every
    conversation was under way in each (`all_under_way`; the whole run's
    rate where that is missing), `scaled_ratio_whole_run` from first
    message to last reply."""
    whole = round(two["throughput_per_s"] / one["throughput_per_s"], 2)
    steady = [run.get("all_under_way_per_s") for run in (one, two)]
    ratio = round(steady[1] / steady[0], 2) if all(steady) else whole
    return {"scaled_ratio": ratio, "scaled_ratio_whole_run": whole}


def _line(what: str, run: Dict[str, Any]) -> str:
    latency = run["faq_latency_ms"]
    cpu = ", ".join(f"{k} {v}" for k, v in (run.get("cpu_by_process") or {}).items())
    return (
        f"  {what}: {run['messages']} messages in {run['seconds']:.1f} s "
        f"({run['throughput_per_s']}/s; {run.get('all_under_way_per_s')}/s "
        f"until the first conversation ended), FAQ turn p50 {latency.get('p50')} ms, "
        f"p95 {latency.get('p95')} ms, errors {run['errors']}; "
        f"CPU ms per message: {cpu}"
    )


def measure(
    model: Path,
    warm_up: float = 15.0,
    memory_conversations: int = CONVERSATIONS,
    with_scaled: bool = True,
) -> Dict[str, Any]:
    """The part's figures (see the module docstring)."""
    missing = scaled_missing() if with_scaled else "not asked for"
    from scripts.bench.turns import postgres_reachable

    kind = "postgresql" if postgres_reachable() else "sqlite"
    figures: Dict[str, Any] = {"database": kind}
    figures.update(one_process(model, kind, warm_up, memory_conversations))
    if missing is None:
        figures["scaled"] = scaled(warm_up)
        figures.update(ratios(figures["sixteen_by_forty"], figures["scaled"]))
    else:
        figures["scaled_missing"] = missing
        print(f"  make run-scaled not measured: {missing}", flush=True)
    return figures


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, default=Path("models/ims-assistant.tar.gz")
    )
    parser.add_argument("--warm-up", type=float, default=15.0)
    parser.add_argument("--conversations", type=int, default=CONVERSATIONS)
    parser.add_argument("--no-scaled", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.model, args.warm_up, args.conversations, not args.no_scaled)
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
