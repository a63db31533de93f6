"""Read template.yaml: the single source of truth for tables, functions and routes.

CloudFormation's short tags (!Ref, !GetAtt, !Sub, …) are read as ``{"Ref": …}`` /
``{"Fn::GetAtt": …}`` dicts, the long form, so callers see one shape. ``transform`` hands
that to SAM's own translator: the local stack runs the CloudFormation it produces.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

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


LOCAL_BUCKET = "local"  # s3://local/<folder>: a template folder, as handed to SAM's transform


def transform(template: dict, parameters: Optional[dict[str, str]] = None) -> dict:
    """``template`` as CloudFormation runs it: expanded by SAM's own translator (Globals, events,
    HttpApi into its OpenAPI body, function URLs, layers). A local folder (CodeUri, ContentUri,
    DefinitionUri) goes in as ``s3://local/<folder>``, as `sam package` would upload it; the S3 key
    keeps the folder for the local runtime.
    """
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    from samlocal.dynamodb import SetupError
    from samlocal.intrinsics import REGION

    packaged = copy.deepcopy(template)
    for resource in packaged.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://{LOCAL_BUCKET}/{props[key].strip('/')}"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    try:
        transformed = translator.translate(packaged, parameter_values=dict(parameters or {}), get_managed_policy_map=dict)
    except InvalidDocumentException as error:  # what `sam deploy` would refuse, in SAM's words, on one line
        raise SetupError("the SAM transform refuses the template: " + " ".join(cause.message for cause in error.causes)) from None
    translator.metrics.publish()  # to its no-op publisher; unpublished ones print a warning at exit
    return transformed


def local_folder(location: dict, root: Path) -> Optional[Path]:
    """The folder behind a transformed ``Code``/``Content``/``DefinitionS3Location``, or None if not local."""
    bucket = location.get("S3Bucket", location.get("Bucket"))
    key = location.get("S3Key", location.get("Key"))
    return (root / key).resolve() if bucket == LOCAL_BUCKET and isinstance(key, str) else None


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
    if props.get("TableClass"):
        definition["TableClass"] = props["TableClass"]
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
