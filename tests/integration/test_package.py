"""`make package`: a Docker-free build whose layer runs on the template's runtime and architecture.

Builds once per session (pip fetches the wheels for Lambda's platform from the package index).
The compatible tags are worked out here from the template's Runtime and Architectures, not
taken from the packager, so a packager that picked the wrong platform fails.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging import tags

from activitylog_local.package import package
from samlocal.template import ROOT, load, resources

# The runtime's glibc (Amazon Linux 2023 for python3.12) and what Lambda calls each architecture.
LAMBDA_GLIBC_MINOR = 34
MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Path:
    return package(tmp_path_factory.mktemp("package") / "build")


def runs_on_lambda() -> set[tags.Tag]:
    function = load()["Globals"]["Function"]
    major, minor = (int(part) for part in function["Runtime"].removeprefix("python").split("."))
    machine = MACHINE[function["Architectures"][0]]
    platforms = [f"manylinux_2_{glibc}_{machine}" for glibc in range(LAMBDA_GLIBC_MINOR, 16, -1)]
    platforms.append(f"manylinux2014_{machine}")
    return set(tags.cpython_tags((major, minor), platforms=platforms)) | set(
        tags.compatible_tags((major, minor), f"cp{major}{minor}", platforms=platforms)
    )


def test_every_wheel_in_the_layer_runs_on_the_templates_runtime_and_architecture(packaged):
    compatible = runs_on_lambda()
    layers = list((packaged.parent / "layers").glob("*.zip"))
    assert layers, "no layer was built"
    checked = 0
    for layer in layers:
        with zipfile.ZipFile(layer) as bundle:
            for name in bundle.namelist():
                if name.endswith(".dist-info/WHEEL"):
                    wheel_tags = {
                        tag
                        for line in bundle.read(name).decode().splitlines() if line.startswith("Tag:")
                        for tag in tags.parse_tag(line.split(":", 1)[1].strip())
                    }
                    assert wheel_tags & compatible, f"{layer.name}: {name} is built for {sorted(map(str, wheel_tags))}"
                    checked += 1
            assert "python/activitylog/__init__.py" in bundle.namelist(), "the layer lacks the domain package"
    assert checked >= 5, "the layer holds too few wheels to be the requirements"


def test_the_packaged_template_points_every_function_and_layer_at_a_built_zip(packaged):
    template = yaml.safe_load(packaged.read_text())
    for name, function in resources(template, "AWS::Serverless::Function").items():
        archive = packaged.parent / function["Properties"]["CodeUri"]
        handler_module = function["Properties"]["Handler"].rsplit(".", 1)[0]
        with zipfile.ZipFile(archive) as bundle:
            assert f"{handler_module}.py" in bundle.namelist(), f"{name}'s zip lacks its handler"
            assert not [n for n in bundle.namelist() if "__pycache__" in n]
    for name, layer in resources(template, "AWS::Serverless::LayerVersion").items():
        assert (packaged.parent / layer["Properties"]["ContentUri"]).is_file(), name
        assert "Metadata" not in layer, f"{name} would be built again by sam build"
    for name, machine in resources(template, "AWS::Serverless::StateMachine").items():
        uri = machine["Properties"].get("DefinitionUri")
        if isinstance(uri, str):
            assert (packaged.parent / uri).is_file(), f"{name}'s definition is not reachable from the packaged template"


def test_the_packaged_template_lints_clean(packaged):
    lint = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(packaged)], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


LAMBDA_UNZIPPED_BYTES = 250 * 1024 * 1024  # a function and its layers together, unzipped (Lambda's limit)


def unzipped(archive: Path) -> int:
    with zipfile.ZipFile(archive) as bundle:
        return sum(info.file_size for info in bundle.infolist())


def test_the_layer_carries_duckdb_and_every_function_with_its_layers_fits_lambdas_unzipped_limit(packaged):
    # The compaction job (and the warm tier's reader) run DuckDB in Lambda: the layer brings it, for Lambda's platform.
    built = yaml.safe_load(packaged.read_text())
    layers = {name: packaged.parent / layer["Properties"]["ContentUri"]
              for name, layer in resources(built, "AWS::Serverless::LayerVersion").items()}
    assert any(name.startswith("python/duckdb/") for layer in layers.values() for name in zipfile.ZipFile(layer).namelist())
    layer_bytes = sum(unzipped(layer) for layer in layers.values())
    for name, function in resources(built, "AWS::Serverless::Function").items():
        total = unzipped(packaged.parent / function["Properties"]["CodeUri"]) + layer_bytes
        assert total < LAMBDA_UNZIPPED_BYTES, f"{name}: {total / 2**20:.0f} MB unzipped with its layers"
