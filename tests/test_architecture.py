"""domain/ and ports/ stay pure: they import only the stdlib, domain and ports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_PROJECT = {"domain", "ports"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "domain").glob("*.py")) + sorted((ROOT / "ports").glob("*.py")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_pure_layers_import_only_stdlib_domain_and_ports(path: Path) -> None:
    for module in imported_modules(path):
        top = module.split(".")[0]
        assert top in sys.stdlib_module_names or top in ALLOWED_PROJECT or top == "__future__", (
            f"{path.relative_to(ROOT)} imports {module}"
        )


def test_the_walk_sees_the_layers() -> None:
    assert imported_modules(ROOT / "domain" / "sending.py") >= {"ports.providers", "domain.limits"}
