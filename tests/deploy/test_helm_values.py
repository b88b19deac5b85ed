"""deploy/helm/values.yml: Rasa's HTTP API on with the Secret's token for the
staff app's live chat (#15), and the ingress publishing the channels only,
as deploy/nginx/scaled.conf does."""

from __future__ import annotations

from typing import Any, Dict

import pytest
import yaml

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def values() -> Dict[str, Any]:
    text = (ROOT / "deploy/helm/values.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def test_every_replica_runs_the_api_with_the_secret_s_token(values):
    args = values["args"]
    assert "--enable-api" in args
    # filled in by Kubernetes from the env, as one argument (the token may
    # begin with "-": tests/deploy/test_auth_token_argument.py)
    assert "--auth-token=$(RASA_AUTH_TOKEN)" in args
    env = {entry["name"]: entry for entry in values["extraEnv"]}
    assert env["RASA_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "ims-assistant",
        "key": "rasa-auth-token",
    }


def test_the_ingress_publishes_the_channels_only(values):
    ingress = values["ingress"]
    paths = [ingress["path"], *(extra["path"] for extra in ingress["extraPaths"])]
    assert sorted(paths) == ["/socket.io/", "/webhooks/"]
    assert {ingress["pathType"]} | {e["pathType"] for e in ingress["extraPaths"]} == {
        "Prefix"
    }
