"""Which package may import which: each concern has one home, and the
lower layers never reach up into the ones built on them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Set

import pytest

from tests.conftest import ROOT

# package -> top-level packages of this project it must not import
FORBIDDEN = {
    "db": {"webapp", "scripts", "channels", "actions", "rasa_extensions"},
    "clinic": {"webapp", "scripts", "channels", "actions", "db", "rasa_extensions"},
    "webapp": {"scripts", "channels", "actions", "components"},
    "actions": {"webapp", "scripts", "channels"},
    "channels": {"webapp", "scripts", "actions"},
    "rasa_extensions": {"webapp", "scripts", "channels"},
    "notifications": {"webapp", "scripts", "channels", "actions"},
}


def imported_packages(path: Path) -> Set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_do_not_import_the_layers_above(package):
    wrong = {
        str(path.relative_to(ROOT)): sorted(
            imported_packages(path) & FORBIDDEN[package]
        )
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: names for path, names in wrong.items() if names} == {}


def test_a_layering_rule_can_fail(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import webapp.staff\nfrom scripts.x import y\nfrom . import z\n")
    assert imported_packages(module) == {"webapp", "scripts"}
