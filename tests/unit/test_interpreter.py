"""The tests run on the interpreter the template deploys (`make install` makes the venv with it)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, ...) as plain values: only runtimes are read here."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_the_venv_runs_every_functions_runtime_and_the_layers():
    template = yaml.load(TEMPLATE.read_text(), Loader=_TemplateLoader)
    default = template.get("Globals", {}).get("Function", {}).get("Runtime")
    runtimes = {}
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Serverless::Function":
            runtimes[name] = properties.get("Runtime", default)
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            for runtime in properties.get("CompatibleRuntimes", []):
                runtimes[f"{name} ({runtime})"] = runtime
    assert len([name for name in runtimes if "(" not in name]) >= 15, "fewer functions than the template has"
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert {name: runtime for name, runtime in runtimes.items() if runtime != running} == {}, (
        f"the tests run on {running}: `make install` recreates .venv with the template's runtime"
    )
