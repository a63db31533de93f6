"""A wheel built from the tree holds every package of the tree.

The editable install that every other test runs on reads the source folders directly, so a package
left out of the build's package list (activitylog.jobs once was) only shows in a built wheel. This
builds one from a copy of the tree, installs it into a fresh venv and imports every package found in
the source folders from there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where pyproject.toml's package discovery looks: the Lambda layer, and under infra/ the runner of SAM templates
# (samlocal) and the product's dev tooling (activitylog_local).
PACKAGE_ROOTS = [ROOT / "layers" / "activitylog", ROOT / "infra"]


def packages_in_the_tree() -> list[str]:
    found = []
    for where in PACKAGE_ROOTS:
        for init in where.rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.append(".".join(init.parent.relative_to(where).parts))
    return sorted(found)


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done


def test_a_wheel_built_from_the_tree_installs_in_a_fresh_venv_and_imports_every_package(tmp_path):
    packages = packages_in_the_tree()
    assert {"activitylog", "activitylog.jobs", "activitylog.webhooks.providers", "activitylog_local", "samlocal"} <= set(packages)

    # Built from a copy, so the build leaves no build/ or egg-info in the work tree.
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "layers", source / "layers", ignore=ignore)
    shutil.copytree(ROOT / "infra", source / "infra", ignore=ignore)
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source))
    (wheel,) = wheels.glob("activitylog_service-*.whl")

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))  # no system site-packages
    python = venv / "bin" / "python"
    run(str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", str(wheel))

    # The wheel's own packages come first; the dev venv's site-packages, appended after them, only
    # lends the third-party dependencies (its editable finder is a .pth file, not read from sys.path).
    dependencies = sysconfig.get_paths()["purelib"]
    probe = (
        "import importlib, json, sys\n"
        f"sys.path.append({dependencies!r})\n"
        f"print(json.dumps({{name: importlib.import_module(name).__file__ for name in {packages!r}}}))\n"
    )
    outside = tmp_path / "elsewhere"  # not the tree, so nothing is imported from the source folders
    outside.mkdir()
    imported = json.loads(run(str(python), "-c", probe, cwd=outside, env={"PATH": "/usr/bin:/bin"}).stdout)
    for name in packages:
        assert Path(imported[name]).is_relative_to(venv), f"{name} was imported from {imported[name]}, not the wheel"
