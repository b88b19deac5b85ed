"""Training for the benchmark: the project's model, the other sentence
features variant (scripts/bench/sentence.py) and Rasa's default NLU
pipeline, each with `rasa train` in a subprocess, timed, from scratch.

Models go to a temporary folder (never `models/`), and each training gets
Rasa's training cache pointed at an empty folder of its own, so no step is
fetched from an earlier run or from another training of this one.
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


def run_logged(
    command: List[str], log: Path, extra_env: Optional[Dict[str, str]] = None
) -> float:
    """Runs `command` in the project folder with Rasa and TensorFlow quiet
    and on the CPU, output to `log`; returns the seconds. Raises with the
    log's last lines when it fails."""
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        **(extra_env or {}),
    }
    started = time.monotonic()
    with log.open("w") as handle:
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise RuntimeError(f"{' '.join(command[2:4])} failed:\n" + "\n".join(tail))
    return seconds


def _rasa(arguments: List[str], workdir: Path, name: str) -> float:
    """Runs `rasa <arguments>` with an empty training cache of its own,
    logged to `train-<name>.log`; returns the seconds."""
    cache = workdir / f"rasa-cache-{name}"
    return run_logged(
        [sys.executable, "-m", "rasa", *arguments],
        workdir / f"train-{name}.log",
        {"RASA_CACHE_DIRECTORY": str(cache)},
    )


def _trained(model: Path, seconds: float, notes: List[str]) -> Dict[str, Any]:
    return {
        "model": model,
        "seconds": round(seconds, 1),
        "archive_bytes": model.stat().st_size,
        "capped": notes,
    }


def train_model(
    source: Path, name: str, workdir: Path, cap: Optional[int]
) -> Dict[str, Any]:
    """`rasa train` (NLU and dialogue) with the config `source`, into
    `<workdir>/models/<name>.tar.gz`."""
    config, notes = capped_config(source, cap, workdir)
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
            name,
        ],  # fmt: skip
        workdir,
        name,
    )
    return _trained(out / f"{name}.tar.gz", seconds, notes)


def train_project(workdir: Path, cap: Optional[int]) -> Dict[str, Any]:
    """`rasa train` (NLU and dialogue) with the project's config.yml."""
    return train_model(PROJECT_CONFIG, "project", workdir, cap)


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
        "default",
    )
    return _trained(out / "rasa-default-nlu.tar.gz", seconds, notes)
