"""Shared fixtures live in conftest.py and shared helpers in tests/support: a test module imports
neither another test module nor a conftest (pytest loads conftests itself, and a test module
imported twice runs its tests twice or shares state by accident)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def _imported(tree: ast.AST, package: list[str]) -> list[str]:
    """Every module an import statement names, anywhere in the module (dotted, relative ones resolved)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]  # from . import test_api
    return names


def test_no_test_module_imports_another_test_module_or_a_conftest():
    offences = []
    for path in sorted(TESTS.rglob("test_*.py")):
        package = ["tests", *path.parent.relative_to(TESTS).parts]
        for name in _imported(ast.parse(path.read_text()), package):
            last = name.rsplit(".", 1)[-1]
            if last == "conftest" or (last.startswith("test_") and name.startswith("tests.")) or name.startswith("test_"):
                offences.append(f"{path.relative_to(TESTS)} imports {name}")
    assert not offences, "\n".join(offences)


def test_no_module_imports_a_conftest():
    """A conftest, a tier's helper (tests/chaos/harness.py) or a benchmark takes shared fixtures and helpers from
    tests/support, never from a conftest (the fuzz tier once imported the e2e tier's stack fixture from it)."""
    offences = []
    for path in sorted([*TESTS.rglob("*.py"), *(ROOT / "bench").rglob("*.py")]):
        package = list(path.parent.relative_to(ROOT).parts)
        for name in _imported(ast.parse(path.read_text()), package):
            if "conftest" in name.split("."):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offences, "\n".join(offences)
