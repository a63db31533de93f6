"""template.yaml as ``sam package`` hands it to the SAM transform, and what the transformed roles grant;
the ``template`` and ``transformed`` fixtures are in tests/integration/conftest.py."""

from __future__ import annotations

import copy

from samlocal.template import ROOT

def _packaged(template: dict) -> dict:
    """What `sam package` hands to the transform: local code folders replaced by S3 URIs."""
    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                assert (ROOT / props[key]).is_dir(), f"{key} {props[key]} is not a folder of this repository"
                props[key] = f"s3://artifacts-bucket/{props[key].strip('/')}.zip"
        if isinstance(props.get("DefinitionUri"), str) and not props["DefinitionUri"].startswith("s3://"):
            assert (ROOT / props["DefinitionUri"]).is_file(), f"DefinitionUri {props['DefinitionUri']} is not a file of this repository"
            props["DefinitionUri"] = f"s3://artifacts-bucket/{props['DefinitionUri']}"
    return packaged


def _statements(document: dict) -> list[dict]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _mentions(resource, logical_id: str) -> bool:
    text = repr(resource)
    return f"'{logical_id}'" in text or f"${{{logical_id}." in text or f"${{{logical_id}}}" in text


def _granted(transformed: dict, function: str, resource: str) -> set[str]:
    role = transformed["Resources"][f"{function}Role"]["Properties"]
    return {
        action
        for policy in role.get("Policies", [])
        for statement in _statements(policy["PolicyDocument"])
        if any(_mentions(r, resource) for r in _as_list(statement.get("Resource", [])))
        for action in _as_list(statement["Action"])
    }


def _role_statements(transformed: dict, function: str) -> list[dict]:
    role = transformed["Resources"][f"{function}Role"]["Properties"]
    return [statement for policy in role.get("Policies", []) for statement in _statements(policy["PolicyDocument"])]


def _all_actions(transformed: dict, function: str) -> set[str]:
    role = transformed["Resources"][f"{function}Role"]["Properties"]
    return {action for policy in role.get("Policies", []) for statement in _statements(policy["PolicyDocument"])
            for action in _as_list(statement["Action"])}
