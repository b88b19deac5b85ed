"""Training for the benchmark: the project's model and Rasa's default NLU
pipeline, each with `rasa train` in a subprocess, timed, from scratch.

Models go to a temporary folder (never `models/`), and Rasa's training cache
is pointed at an empty folder so no step is fetched from an earlier run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT_CONFIG = ROOT / "config.yml"
DEFAULT_CONFIG = ROOT / "bench" / "configs" / "rasa_default.yml"


def capped_config(
    source: Path, cap: Optional[int], dest: Path
) -> Tuple[Path, List[str]]:
    """`source`, or a copy in `dest` whose `epochs` are at most `cap`.
    Returns the config to train with and a note for every lowered value."""
    if cap is None:
        return source, []
    config = yaml.safe_load(source.read_text())
    notes = []
    for section in ("pipeline", "policies"):
        for component in config.get(section) or []:
            epochs = component.get("epochs")
            if epochs is not None and epochs > cap:
                component["epochs"] = cap
                notes.append(f"{source.name}: {component['name']} {epochs} -> {cap}")
    dest.mkdir(parents=True, exist_ok=True)
    capped = dest / f"capped-{source.name}"
    capped.write_text(yaml.safe_dump(config, sort_keys=False))
    return capped, notes


def _rasa(arguments: List[str], workdir: Path, log: Path) -> float:
    """Runs `rasa <arguments>` in the project folder; returns the seconds."""
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "RASA_CACHE_DIRECTORY": str(workdir / "rasa-cache"),
    }
    started = time.monotonic()
    with log.open("w") as handle:
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "rasa", *arguments],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise RuntimeError(
            f"rasa {' '.join(arguments[:2])} failed:\n" + "\n".join(tail)
        )
    return seconds


def train_project(workdir: Path, cap: Optional[int]) -> Dict[str, Any]:
    """`rasa train` (NLU and dialogue) with the project's config.yml."""
    config, notes = capped_config(PROJECT_CONFIG, cap, workdir)
    out = workdir / "models"
    seconds = _rasa(
        [
            "train",
            "--config",
            str(config),
            "--domain",
            "domain.yml",
            "--data",
            "data",
            "--out",
            str(out),
            "--fixed-model-name",
            "project",
        ],  # fmt: skip
        workdir,
        workdir / "train-project.log",
    )
    model = out / "project.tar.gz"
    return {
        "model": model,
        "seconds": round(seconds, 1),
        "archive_bytes": model.stat().st_size,
        "capped": notes,
    }


def train_default_nlu(workdir: Path, cap: Optional[int]) -> Dict[str, Any]:
    """`rasa train nlu` with Rasa's default pipeline on the same data."""
    config, notes = capped_config(DEFAULT_CONFIG, cap, workdir)
    out = workdir / "models"
    seconds = _rasa(
        [
            "train",
            "nlu",
            "--config",
            str(config),
            "--domain",
            "domain.yml",
            "--nlu",
            "data",
            "--out",
            str(out),
            "--fixed-model-name",
            "rasa-default-nlu",
        ],  # fmt: skip
        workdir,
        workdir / "train-default.log",
    )
    model = out / "rasa-default-nlu.tar.gz"
    return {
        "model": model,
        "seconds": round(seconds, 1),
        "archive_bytes": model.stat().st_size,
        "capped": notes,
    }
