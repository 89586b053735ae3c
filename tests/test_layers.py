"""The house's floors, from the code's own imports: the contract (``lakehouse/``) imports no app and no
stack, the apps import neither each other nor ``stack/`` nor the CLI, ``stack/`` knows services and the
contract only, and ``harmony/`` composes them all. Server-free: ``ast`` over the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = {"simulator", "alerting", "ingest", "spark", "dashboard"}
MAY_IMPORT = {
    "lakehouse": {"lakehouse"},
    "stack": {"stack", "lakehouse"},
    "harmony": {"harmony", "stack", "lakehouse", *APPS},
    **{app: {app, "lakehouse"} for app in APPS},
}
OURS = set(MAY_IMPORT)


def imported_packages(path: Path) -> set[str]:
    """Our top-level packages a module imports, at any depth of the file (a function's lazy import too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_floors_below_it(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - MAY_IMPORT[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert not {k: v for k, v in wrong.items() if v}, wrong
