"""No module of the product but the seams (``lakehouse/adapters/``) uses a name that quixstreams,
pyiceberg, pydantic, streamlit or pyspark keep private: an upgrade then breaks in one known place.

Server-free, from the source: the libraries' private names are harvested from their own code (functions,
classes, module globals and ``self._x`` attributes whose name starts with one underscore); the product
may not import one, read one as an attribute, override one in a subclass of a library class, or match
one by name in a string."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("quixstreams", "pyiceberg", "pydantic", "streamlit", "pyspark")
PRODUCT = ("lakehouse", "simulator", "alerting", "ingest", "spark", "dashboard", "harmony", "stack")
SEAMS = ROOT / "lakehouse" / "adapters"


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def defined_names(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            yield node.attr
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id


def parsed(path: Path) -> ast.AST:
    return ast.parse(path.read_bytes(), str(path))


@cache
def library_private_names() -> frozenset[str]:
    names: set[str] = set()
    for lib in LIBRARIES:
        spec = importlib.util.find_spec(lib)
        assert spec is not None and spec.origin is not None, lib
        for path in Path(spec.origin).parent.rglob("*.py"):
            try:
                names |= {n for n in defined_names(parsed(path)) if private(n)}
            except SyntaxError:  # a template or a file for another Python
                continue
    return frozenset(names)


def is_class_name(text: str, theirs: frozenset[str]) -> bool:
    """A private class of a library, named in a string (a match by ``type(x).__name__``); a string like
    a column ``_event_time`` is data, not a reference."""
    return text in theirs and text[1:2].isupper()


def product_files() -> list[Path]:
    return [p for pkg in PRODUCT for p in sorted((ROOT / pkg).rglob("*.py")) if not p.is_relative_to(SEAMS)]


def uses(path: Path, ours: frozenset[str]) -> list[str]:
    """Every use in ``path`` of a library-private name (ours: the product's own private names)."""
    theirs = library_private_names() - ours
    tree = parsed(path)
    from_libraries: set[str] = set()
    elsewhere: set[str] = set()  # names bound to other modules' objects (``os._exit`` is not pyspark's)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            elsewhere |= {(a.asname or a.name).split(".")[0] for a in node.names
                          if a.name.split(".")[0] not in LIBRARIES}  # fmt: skip
        elif isinstance(node, ast.ImportFrom) and not (node.module or "").startswith(LIBRARIES):
            elsewhere |= {a.asname or a.name for a in node.names}
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LIBRARIES:
            if any(private(part) for part in node.module.split(".")):
                found.append(f"imports from {node.module}")
            found += [f"imports {a.name} from {node.module}" for a in node.names if private(a.name)]
            from_libraries |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names if any(private(p) for p in a.name.split("."))
                      and a.name.split(".")[0] in LIBRARIES]  # fmt: skip
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in theirs:
            if not (isinstance(node.value, ast.Name) and node.value.id in elsewhere):
                found.append(f"line {node.lineno}: .{node.attr}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and is_class_name(node.value, theirs)
        ):
            found.append(f"line {node.lineno}: the name {node.value!r} in a string")
        elif isinstance(node, ast.ClassDef):
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)} | {
                b.value.id
                for b in node.bases
                if isinstance(b, ast.Attribute) and isinstance(b.value, ast.Name)
            }
            if bases & from_libraries:
                found += [
                    f"line {item.lineno}: {node.name} overrides {item.name}"
                    for item in node.body
                    if isinstance(item, ast.FunctionDef) and private(item.name) and item.name in theirs
                ]
    return found


def test_only_the_seams_use_a_library_private_name() -> None:
    ours = frozenset(n for p in product_files() for n in defined_names(parsed(p)) if private(n))
    found = {str(p.relative_to(ROOT)): u for p in product_files() if (u := uses(p, ours))}
    assert not found, found


def test_the_guard_sees_a_private_use() -> None:
    """The check above is not blind: each kind of use it looks for, written the way the product used to."""
    sample = ROOT / ".harmony" / "private_names_sample.py"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text(
        "from pyiceberg.io.pyarrow import _dataframe_to_data_files\n"
        "from quixstreams import Application\n"
        "class App(Application):\n"
        "    def _on_assign(self, consumer, partitions): ...\n"
        "def f(app, m):\n"
        "    return app._processing_context, type(m).__name__ == '_PydanticGeneralMetadata'\n"
    )
    try:
        found = " | ".join(uses(sample, frozenset()))
    finally:
        sample.unlink()
    for expected in ("imports _dataframe_to_data_files", "overrides _on_assign", "._processing_context",
                     "'_PydanticGeneralMetadata' in a string"):  # fmt: skip
        assert expected in found, found
