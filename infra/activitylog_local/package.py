"""`make package`: the deployable artifacts without Docker or `sam build`.

SAM builds a Python layer inside a container of the target runtime so that compiled
dependencies match Lambda. pip can do the same from here: it installs the wheels published
for the template's runtime and architecture (``--platform``/``--python-version``/``--abi``
with ``--only-binary=:all:``), so nothing is compiled on this machine and nothing needs
Docker. Out come one zip per layer and per function and ``build/template.yaml`` pointing at
them, ready for ``sam deploy`` (which uploads local artifacts) or ``aws cloudformation
package`` then ``deploy``.

    python -m activitylog_local.package [--out build]
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from samlocal.template import ROOT, load, resources

# Lambda's python3.12 runtime is Amazon Linux 2023, glibc 2.34: any manylinux wheel up to 2_34 runs.
GLIBC = (2, 34)
ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}


def platform_tags(architecture: str) -> list[str]:
    """The wheel platform tags that run on Lambda for ``architecture`` (template spelling)."""
    machine = ARCHITECTURES[architecture]
    return [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC[1], 16, -1)] + [f"manylinux2014_{machine}"]


def runtime_of(template: dict) -> tuple[str, str]:
    """(runtime, architecture) the functions run on, from Globals: one for the whole stack."""
    function = template.get("Globals", {}).get("Function", {})
    return function["Runtime"], function["Architectures"][0]


def build_layer(content: Path, target: Path, runtime: str, architecture: str) -> None:
    """``content``'s requirements.txt as wheels for the runtime, plus its own packages, under ``python/``."""
    version = runtime.removeprefix("python")
    site = target / "python"
    site.mkdir(parents=True)
    platforms = [flag for tag in platform_tags(architecture) for flag in ("--platform", tag)]
    abi = "cp" + version.replace(".", "")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--no-warn-conflicts",
         "--target", str(site), "--only-binary=:all:", "--implementation", "cp", "--python-version", version,
         "--abi", abi, "--abi", "abi3", "--abi", "none", *platforms, "-r", str(content / "requirements.txt")],
        check=True,
    )
    for package in content.iterdir():
        if (package / "__init__.py").exists():
            shutil.copytree(package, site / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def zip_folder(folder: Path, archive: Path) -> Path:
    """A zip of ``folder``'s files (no bytecode caches), entries in a stable order."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                bundle.write(path, path.relative_to(folder))
    return archive


def package(out: Path) -> Path:
    """Build every layer and function of template.yaml into ``out``; answer the packaged template's path."""
    template = copy.deepcopy(load())
    runtime, architecture = runtime_of(template)
    if out.exists():
        shutil.rmtree(out)
    staging = out / "staging"
    for name, layer in resources(template, "AWS::Serverless::LayerVersion").items():
        props = layer["Properties"]
        build_layer(ROOT / props["ContentUri"], staging / name, runtime, architecture)
        props["ContentUri"] = zip_folder(staging / name, out / "layers" / f"{name}.zip").relative_to(out).as_posix()
        layer.pop("Metadata", None)  # built here: nothing left for `sam build` to do
    for name, function in resources(template, "AWS::Serverless::Function").items():
        props = function["Properties"]
        props["CodeUri"] = zip_folder(ROOT / props["CodeUri"], out / "functions" / f"{name}.zip").relative_to(out).as_posix()
    for name, machine in resources(template, "AWS::Serverless::StateMachine").items():
        props = machine["Properties"]
        if isinstance(props.get("DefinitionUri"), str):  # a file beside the template travels with it
            props["DefinitionUri"] = os.path.relpath(ROOT / props["DefinitionUri"], out)
    shutil.rmtree(staging)
    packaged = out / "template.yaml"
    packaged.write_text(yaml.safe_dump(template, sort_keys=False, width=120), encoding="utf-8")
    return packaged


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    args = parser.parse_args(argv)
    packaged = package(args.out.resolve())
    print(f"Packaged template: {packaged}")
    for archive in sorted(packaged.parent.rglob("*.zip")):
        print(f"  {archive.relative_to(packaged.parent)}  {archive.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
