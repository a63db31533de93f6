"""Read template.yaml: the single source of truth for tables, functions and routes.

CloudFormation's short tags (!Ref, !GetAtt, !Sub, …) are read as ``{"Ref": …}`` /
``{"Fn::GetAtt": …}`` dicts, the long form, so callers see one shape.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict:
    return _load(str(path))


@lru_cache(maxsize=8)
def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template.get("Resources", {}).items() if r.get("Type") == kind}


def table_definition(template: dict, logical_id: str = "ActivityTable") -> dict:
    """``create_table`` arguments for a table, straight from its template properties."""
    props = template["Resources"][logical_id]["Properties"]
    definition: dict[str, Any] = {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        definition["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return definition


def time_to_live_attribute(template: dict, logical_id: str = "ActivityTable") -> str | None:
    spec = template["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification") or {}
    return spec.get("AttributeName") if spec.get("Enabled") else None


def create_table(client, table_name: str, template: dict | None = None, logical_id: str = "ActivityTable") -> None:
    """Create ``table_name`` on ``client`` (DynamoDB Local) exactly as template.yaml declares it."""
    template = template or load()
    client.create_table(TableName=table_name, **table_definition(template, logical_id))
    client.get_waiter("table_exists").wait(TableName=table_name)
    ttl = time_to_live_attribute(template, logical_id)
    if ttl:
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
