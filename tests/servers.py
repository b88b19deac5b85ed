"""The one way tests start real servers: the action server, Rasa (as every
entry point starts it, through rasa_extensions), the web app and the run
scripts, each in its own process group with its log in a folder, always
stopped at the end.

    with Servers(tmp) as servers:
        servers.assistant(model, env, actions_port, rasa_port)
        ...  # servers.log("rasa") on failure

Every server runs on a free port (`scripts.ports.free_port`); stopping one
stops what it started (a run script's children).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Sequence

from scripts.ports import free_port
from tests.conftest import ROOT

__all__ = [
    "Servers",
    "actions_command",
    "assistant_env",
    "assistant_with_web_app",
    "free_port",
    "rasa_command",
    "rasa_env",
    "server_env",
    "wait_until_up",
]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    """Until `url` answers; fails at once if `process` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} ({url})")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


def server_env(database_url: str) -> Dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        # The tests talk to Rasa over REST (off by default; README, Security).
        "REST_CHANNEL": "open",
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }


def assistant_env(database_url: str, actions_port: int, **extra: str) -> Dict[str, str]:
    """`server_env` for an action server on `actions_port` and the Rasa that
    calls it, plus `extra` variables."""
    return {
        **server_env(database_url),
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{actions_port}/webhook",
        **extra,
    }


def rasa_env(env: Dict[str, str]) -> Dict[str, str]:
    """`env` with the body limit the run scripts give Rasa (not action servers)."""
    return {**env, "SANIC_REQUEST_MAX_SIZE": "65536"}


def actions_command(port: int) -> List[str]:
    """The action server (rasa-sdk, the project's actions) on `port`."""
    python = sys.executable
    return [python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]


def rasa_command(
    model: Path,
    port: int,
    *extra: str,
    endpoints: str = "endpoints.yml",
    credentials: str = "credentials.yml",
) -> List[str]:
    """`rasa run`, as every entry point starts it (with the start-up hook of
    rasa_extensions), with `model` on loopback `port`; `extra` arguments last."""
    return (
        [sys.executable, "-m", "rasa_extensions", "run", "--model", str(model)]
        + ["--endpoints", endpoints, "--credentials", credentials]
        + ["--port", str(port), "--interface", "127.0.0.1", *extra]
    )


class Servers:
    """Processes started for a test, logged to `<logs>/<name>.log`;
    `stop_all` (or leaving the `with` block) ends every one of them."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.processes: Dict[str, subprocess.Popen] = {}

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, name: str, command: List[str], env: Dict[str, str]) -> None:
        log = self.log_path(name).open("a")
        self.processes[name] = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group
        )

    def wait(self, name: str, url: str, timeout: float = 300) -> None:
        wait_until_up(url, self.processes[name], timeout=timeout)

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def log(self, name: str) -> str:
        return self.log_path(name).read_text(errors="replace")

    def assistant(
        self,
        model: Path,
        env: Dict[str, str],
        actions_port: int,
        rasa_port: int,
        rasa_args: Sequence[str] = (),
        credentials: str = "credentials.yml",
    ) -> None:
        """The action server ("actions") and Rasa ("rasa"), both up."""
        self.start("actions", actions_command(actions_port), env)
        command = rasa_command(model, rasa_port, *rasa_args, credentials=credentials)
        self.start("rasa", command, env)
        self.wait("actions", f"http://127.0.0.1:{actions_port}/health")
        self.wait("rasa", f"http://127.0.0.1:{rasa_port}/")

    def web_app(self, env: Dict[str, str], port: int) -> None:
        """The web app ("web"), up."""
        self.start("web", [sys.executable, "-m", "webapp", "--port", str(port)], env)
        self.wait("web", f"http://127.0.0.1:{port}/healthz")

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        group = os.getpgid(process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # a run script's children
            os.killpg(group, signal.SIGKILL)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)


@contextlib.contextmanager
def assistant_with_web_app(
    model: Path,
    env: Dict[str, str],
    ports: Sequence[int],
    logs: Path,
    rasa_args: Sequence[str] = (),
) -> Iterator[Servers]:
    """The action server, Rasa and the web app on `ports` (actions, Rasa,
    web), logged in `logs`, up until the block ends."""
    actions_port, rasa_port, web_port = ports
    with Servers(logs) as servers:
        # all three start at once; Rasa, loading its model, is waited for last
        servers.start(
            "web", [sys.executable, "-m", "webapp", "--port", str(web_port)], env
        )
        servers.assistant(model, env, actions_port, rasa_port, rasa_args)
        servers.wait("web", f"http://127.0.0.1:{web_port}/healthz")
        yield servers
