"""The product's modules import one another without a cycle (DESIGN.md: dependencies point one way).

Read from the source with ``ast``, so an import inside a function counts as much as one at the top:
a lazy import is how a cycle hides.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("clinic", "patients", "scheduling", "api")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    """Every module a file names in an import; ``from scheduling import services`` names both."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_import_cycle_among_the_product_modules():
    files = {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
             if "migrations" not in path.parts}
    # A module's own packages are imported before it whatever it says, so they are no edge.
    graph = {name: {other for other in imported_names(path) if other in files and not f"{name}.".startswith(
        f"{other}.")} for name, path in files.items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        pytest.fail("Import cycle: " + " -> ".join(error.args[1]))
