"""The Rasa API token reaches `rasa run` as one argument, `--auth-token=<token>`.

The run scripts make a token with `secrets.token_urlsafe`, whose alphabet
has "-": about one token in 64 begins with it, and argparse reads
`--auth-token -xyz` as a missing value and a new option, so Rasa refused to
start (it happened to the scaled test run once in CI).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "-starts-with-a-dash"


def rasa_run_parser() -> argparse.ArgumentParser:
    from rasa.cli import run

    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    run.add_subparser(commands, parents=[])
    return parser


def test_rasa_takes_a_dash_token_only_in_one_argument() -> None:
    parser = rasa_run_parser()
    args = parser.parse_args(["run", "--enable-api", f"--auth-token={TOKEN}"])
    assert args.auth_token == TOKEN
    with pytest.raises(SystemExit):  # the form the scripts used before
        parser.parse_args(["run", "--enable-api", "--auth-token", TOKEN])


@pytest.mark.parametrize("script", ["scripts/run.sh", "scripts/run_scaled.sh"])
def test_the_run_scripts_pass_the_token_in_one_argument(script: str) -> None:
    text = (ROOT / script).read_text(encoding="utf-8")
    uses = re.findall(r"--auth-token\S*", text)
    assert uses, script
    assert all(use.startswith("--auth-token=") for use in uses), uses


def test_the_helm_chart_passes_the_token_in_one_argument() -> None:
    values = yaml.safe_load((ROOT / "deploy/helm/values.yml").read_text("utf-8"))
    uses = [a for a in values["args"] if str(a).startswith("--auth-token")]
    assert uses == ["--auth-token=$(RASA_AUTH_TOKEN)"]
