"""One trained model in a fresh process: load time, memory and parses.

    python -m scripts.bench.probe MODEL MESSAGES.json OUT.json

MESSAGES.json maps test-set names to lists of messages. The process loads
the model (`Agent.load`), parses every set one message at a time
(`nlu.parse_sets`: labels, parse times, process CPU time) and writes them to
OUT.json with its resident memory after the load, after the parses, and at
its peak (the kernel's own high-water mark, VmHWM, so nothing between
samples is missed). Run by scripts/bench/sentence.py, one process per
model, so that one model's memory does not count against another's.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from scripts.bench import nlu


def rss_bytes() -> int:
    """This process's resident memory now."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def kernel_peak_bytes() -> int:
    """The kernel's high-water mark of this process's resident memory:
    VmHWM in /proc/self/status, which starts afresh with each program.
    (`ru_maxrss` would not do: it keeps the parent's mark across fork and
    exec, and the benchmark's own process holds three models by then.)"""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def peak_rss_bytes() -> int:
    """This process's highest resident memory so far: the kernel's mark, or
    the memory now where that mark lags it (Linux syncs it lazily)."""
    return max(kernel_peak_bytes(), rss_bytes())


def probe(model: Path, sets: Dict[str, List[str]]) -> Dict[str, Any]:
    """Loads `model`, parses `sets`; the figures with the memory readings."""
    agent, seconds = nlu.load_agent(model)
    after_load = rss_bytes()
    raw = nlu.parse_sets(agent, sets)
    return {
        "load_seconds": round(seconds, 2),
        "rss_after_load_bytes": after_load,
        "rss_after_parse_bytes": rss_bytes(),
        "rss_peak_bytes": peak_rss_bytes(),
        "sets": raw,
    }


def main(argv: Optional[List[str]] = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    model, messages, out = (Path(a) for a in arguments)
    figures = probe(model, json.loads(messages.read_text()))
    out.write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
