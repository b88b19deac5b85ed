"""Where the Rasa server's time goes: py-spy samples during a load level,
sorted into the stages of a turn.

py-spy (optional, not in requirements) attaches to the running server from
outside, so the server runs unmodified. Its "raw" output has one line per
distinct stack, `frame;frame;...;frame count`, each frame
`function (file:line)`. Each sample is counted once, in the first stage
(in the order of STAGES) that any of its frames belongs to.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

# (stage, (function, file fragment) pairs); earlier stages win.
STAGES: List[Tuple[str, Tuple[Tuple[str, str], ...]]] = [
    (
        "checking the action server's reply (jsonschema)",
        (
            ("_validate_action_result", "rasa/core/actions/action.py"),
            # py-spy cuts some deep jsonschema stacks short of Rasa's frames
            ("", "jsonschema/"),
        ),
    ),
    (
        "custom action calls (tracker to JSON, HTTP to the action server)",
        (("_run_custom_action", "rasa/core/actions/action.py"),),
    ),
    (
        "NLU parse (pipeline graph)",
        (("_parse_message_with_graph", "rasa/core/processor.py"),),
    ),
    (
        "dialogue policies (next action)",
        (
            ("predict_next_with_tracker_if_should", "rasa/core/processor.py"),
            ("_predict_next_with_tracker", "rasa/core/processor.py"),
        ),
    ),
    (
        "tracker store: save (SQL insert and commit)",
        (("save_tracker", "rasa/core/processor.py"),),
    ),
    (
        "tracker store: load (SQL select, replay events)",
        (
            ("fetch_tracker_and_update_session", "rasa/core/processor.py"),
            ("fetch_tracker_with_initial_session", "rasa/core/processor.py"),
            ("get_tracker", "rasa/core/processor.py"),
        ),
    ),
    (
        "rest of a turn (Rasa's processor, actions, events)",
        (("handle_message", "rasa/core/processor.py"),),
    ),
    (
        "HTTP server (Sanic, the REST channel)",
        (("connection_task", ""), ("handle_request", "")),
    ),
]
OTHER = "other (event loop, logging, idle)"


def _frame(frame: str) -> Tuple[str, str]:
    name, _, where = frame.partition(" (")
    return name, where.split(":", 1)[0]


def stage_of(frames: Iterable[str]) -> str:
    parsed = [_frame(f) for f in frames]
    for stage, marks in STAGES:
        for function, fragment in marks:
            if any(function in ("", n) and fragment in w for n, w in parsed):
                return stage
    return OTHER


def breakdown(raw: str) -> Dict[str, object]:
    """Shares of samples per stage from py-spy's raw (collapsed) output."""
    counts: Counter = Counter()
    for line in raw.splitlines():
        stack, _, number = line.rstrip().rpartition(" ")
        if not stack or not number.isdigit():
            continue
        counts[stage_of(stack.split(";"))] += int(number)
    total = sum(counts.values())
    order = [stage for stage, _ in STAGES] + [OTHER]
    return {
        "samples": total,
        "stages": [
            {"stage": s, "share": round(counts[s] / total, 4)}
            for s in order
            if total and counts[s]
        ],
    }


def py_spy() -> Optional[str]:
    """The py-spy executable beside this interpreter or on PATH, if any."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid: int, seconds: int, out: Path) -> Optional[subprocess.Popen]:
    """Starts sampling `pid` for `seconds` into `out` (raw format)."""
    executable = py_spy()
    if not executable:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(  # noqa: S603 - py-spy with our own arguments
        [
            executable,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "100",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
