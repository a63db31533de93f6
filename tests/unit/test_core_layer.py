"""The layer's core imports nothing above it (issue 19, item 1).

The core is the entry and its vocabulary, ids, keys, the entry rules, the job-type register,
the retention policy's values and the redaction rules: every feature package builds on them,
so an import from one of them back up into a feature would tie the bottom to the top.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import activitylog

PACKAGE = Path(activitylog.__file__).parent
CORE = ("entry.py", "ids.py", "keys.py", "rules.py", "jobtypes.py", "retention_policy.py", "redaction.py",
        "config.py", "errors.py", "diff.py", "signing.py", "scopes.py", "storage.py")
FEATURES = ("webhooks", "jobs", "exports", "archive", "retention", "support", "api", "query")


def imported(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_core_imports_no_feature_package():
    upward = {
        f"{name} -> {module}"
        for name in CORE if (PACKAGE / name).exists()
        for module in imported(PACKAGE / name)
        if any(module == f"activitylog.{feature}" or module.startswith(f"activitylog.{feature}.") for feature in FEATURES)
    }
    assert upward == set()


def test_the_entry_renders_no_view_decided_by_a_feature():
    from activitylog.entry import Entry

    assert not hasattr(Entry, "detail_view") and not hasattr(Entry, "retry_state")


def _sources():
    return {path.relative_to(PACKAGE).as_posix(): path.read_text() for path in PACKAGE.rglob("*.py")}


def test_pynamodbs_private_connection_is_reached_in_one_place():
    """Item 3: one accessor of the low-level connection (``store.table_connection``), no private call elsewhere."""
    calls = {name: source.count("_get_connection(") for name, source in _sources().items() if "_get_connection(" in source}
    assert calls == {"store/models.py": 1}


def test_features_call_service_operations_not_its_store():
    """Item 3: a feature asks the service; only the service holds the store (and works out how an org is stored)."""
    reaching = sorted(name for name, source in _sources().items()
                      if name.split("/")[0] in FEATURES and re.search(r"service(\(\))?\.store\b", source))
    assert reaching == []
