"""domain/ and ports/ stay pure: they import only the stdlib, domain and ports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_PROJECT = {"domain", "ports"}
# Pure computation, no I/O: UTS 46 for IDN domains (the stdlib codec is IDNA 2003).
PURE_LIBRARIES = {"idna"}


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
        allowed = ALLOWED_PROJECT | PURE_LIBRARIES | {"__future__"}
        assert top in sys.stdlib_module_names or top in allowed, (
            f"{path.relative_to(ROOT)} imports {module}"
        )


def test_the_walk_sees_the_layers() -> None:
    assert imported_modules(ROOT / "domain" / "sending.py") >= {"ports.providers", "domain.limits"}


def test_no_import_circle_between_the_pure_layers() -> None:
    """Values live in the domain; ports import them, never the other way round."""
    paths = sorted((ROOT / "domain").glob("*.py")) + sorted((ROOT / "ports").glob("*.py"))
    graph = {
        f"{p.parent.name}.{p.stem}": {
            m for m in imported_modules(p) if m.split(".")[0] in ALLOWED_PROJECT
        }
        for p in paths
    }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for module in graph.get(start, set()):
            if module == target or (
                module not in seen and reaches(module, target, seen | {module})
            ):
                return True
        return False

    circles = sorted(module for module in graph if reaches(module, module, set()))
    assert circles == []
    assert "ports.queues" in graph["domain.notifications"]  # the walk sees this edge
    for path in paths:
        assert "TYPE_CHECKING" not in path.read_text("utf-8"), f"{path.name} hides an import"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "adapters").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_adapters_carry_no_test_hooks(path: Path) -> None:
    """Failures are injected by wrapping a port (tests/fakes.py), never by a switch inside."""
    text = path.read_text("utf-8")
    assert "fail_with" not in text
    assert "for tests" not in text
