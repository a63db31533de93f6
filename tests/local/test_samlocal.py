"""The runner of SAM templates stays generic: nothing of the product, no circle, within its size."""

import ast
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "infra"


def imports(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` (under infra/) and the modules it imports, lazily or not."""
    found = {}
    for path in sorted((INFRA / package).glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)  # from samlocal import stack
        found[f"{package}.{path.stem}"] = names
    return found


def test_the_runner_imports_nothing_of_the_product():
    wrong = {module: sorted(name for name in names if name.split(".")[0] in ("activitylog", "activitylog_local", "tests"))
             for module, names in imports("samlocal").items()}
    assert not {module: names for module, names in wrong.items() if names}


def test_no_circle_among_the_local_modules():
    graph = {**imports("samlocal"), **imports("activitylog_local")}
    edges = {module: {name for name in names if name in graph and name != module} for module, names in graph.items()}

    def circle_from(module: str, path: tuple[str, ...]) -> tuple[str, ...]:
        for follower in sorted(edges[module]):
            if follower in path:
                return path[path.index(follower):] + (follower,)
            found = circle_from(follower, path + (follower,))
            if found:
                return found
        return ()

    for module in sorted(edges):
        assert not circle_from(module, (module,)), " -> ".join(circle_from(module, (module,)))


def test_the_runner_stays_small():
    lines = sum(len(path.read_text().splitlines()) for path in (INFRA / "samlocal").glob("*.py"))
    assert lines <= 4000, f"infra/samlocal is {lines} lines: the generic runner was to stay within 4,000"
