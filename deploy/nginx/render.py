"""Renders deploy/nginx/scaled.conf for the replicas of one scaled run.

    python -m deploy.nginx.render --out var/nginx/nginx.conf --listen 8080 \\
        --replica r5005=127.0.0.1:5005 --replica r5006=127.0.0.1:5006 \\
        --actions-listen 5050 --action-server 127.0.0.1:5055 \\
        --api-listen 127.0.0.1:5004

Each --replica is NAME=HOST:PORT, NAME being that replica's REPLICA_NAME
(the prefix of its socket.io session ids).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

TEMPLATE = Path(__file__).with_name("scaled.conf")
ADDRESS = re.compile(r"[A-Za-z0-9.-]+:\d{1,5}|\d{1,5}")
NAME = re.compile(r"[A-Za-z0-9-]{1,40}")
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


def _address(value: str) -> str:
    if not ADDRESS.fullmatch(value):
        raise ValueError(f"not HOST:PORT or PORT: {value!r}")
    return value


def _servers(addresses: Sequence[str]) -> str:
    return "\n".join(
        f"        server {_address(a)} max_fails=1 fail_timeout=5s;" for a in addresses
    )


def render(
    listen: str,
    replicas: Sequence[Tuple[str, str]],
    actions_listen: str,
    action_servers: Sequence[str],
    api_listen: str,
) -> str:
    """The config text; `replicas` are (REPLICA_NAME, HOST:PORT) pairs, and
    `api_listen` is where Rasa's HTTP API is served to the staff app."""
    if not replicas or not action_servers:
        raise ValueError("at least one replica and one action server")
    for name, _ in replicas:
        if not NAME.fullmatch(name):
            raise ValueError(f"not a replica name: {name!r}")
    values: Dict[str, str] = {
        "@LISTEN@": _address(listen),
        "@ACTIONS_LISTEN@": _address(actions_listen),
        "@API_LISTEN@": _address(api_listen),
        "@RASA_SERVERS@": _servers([address for _, address in replicas]),
        "@REPLICA_UPSTREAMS@": "\n".join(
            f"    upstream replica_{name} {{\n"
            f"        server {_address(address)};\n"
            "        keepalive 8;\n"
            "        keepalive_timeout 4s;\n"
            "    }"
            for name, address in replicas
        ),
        "@STICKY_ROUTES@": "\n".join(
            f"        ~^{name}[.] replica_{name};" for name, _ in replicas
        ),
        "@ACTION_SERVERS@": _servers(action_servers),
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    return PLACEHOLDER.sub(lambda m: values[m.group(0)], text)


def _replica(value: str) -> Tuple[str, str]:
    name, sep, address = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"not NAME=HOST:PORT: {value!r}")
    return name, address


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--replica", type=_replica, action="append", required=True)
    parser.add_argument("--actions-listen", required=True)
    parser.add_argument("--action-server", action="append", required=True)
    parser.add_argument("--api-listen", required=True)
    args = parser.parse_args(argv)
    try:
        text = render(
            args.listen,
            args.replica,
            args.actions_listen,
            args.action_server,
            args.api_listen,
        )
    except ValueError as error:
        parser.error(str(error))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    (args.out.parent / "tmp").mkdir(exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
