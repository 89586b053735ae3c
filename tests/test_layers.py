"""The house's floors, from the code's own imports: the contract (``lakehouse/``) imports no app and no
stack, the apps import neither each other nor ``stack/`` nor the CLI, ``stack/`` knows services and the
contract only, and ``harmony/`` composes them all. Beside the product, ``testkit/`` holds what the tests and
the benchmarks share, so neither imports the other, and no test module imports another test module or a
conftest (fixtures are registered as plugins). Server-free: ``ast`` over the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = {"simulator", "alerting", "ingest", "spark", "dashboard"}
PRODUCT = {"lakehouse", "stack", "harmony", *APPS}
MAY_IMPORT = {
    "lakehouse": {"lakehouse"},
    "stack": {"stack", "lakehouse"},
    "harmony": {"harmony", "stack", "lakehouse", *APPS},
    **{app: {app, "lakehouse"} for app in APPS},
    "testkit": {"testkit", *PRODUCT},
    "benchmarks": {"benchmarks", "testkit", *PRODUCT},
    "tests": {"tests", "testkit", *PRODUCT},
}
OURS = set(MAY_IMPORT)


def imported_modules(path: Path) -> set[str]:
    """The modules a file imports, at any depth of it (a function's lazy import too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def imported_packages(path: Path) -> set[str]:
    """Our top-level packages a module imports."""
    return {name.split(".")[0] for name in imported_modules(path)} & OURS


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_floors_below_it(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - MAY_IMPORT[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert not {k: v for k, v in wrong.items() if v}, wrong


def test_no_test_module_imports_another_or_a_conftest() -> None:
    """What two test modules share lives in ``testkit/``: a test module is run, never imported."""
    wrong = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in imported_modules(path)
            if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith(("test_", "conftest"))
        )
        for path in sorted((ROOT / "tests").rglob("*.py"))
    }
    assert not {k: v for k, v in wrong.items() if v}, wrong
