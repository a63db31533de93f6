"""Resolve CloudFormation intrinsic functions against the local stack's resources.

The template's ``!Ref``/``!GetAtt``/``!Sub`` point at resources that exist locally
under local names (a DynamoDB Local table, a moto bucket, a moto secret). The
provisioner registers each resource's ``Ref`` value and attributes as it creates it;
parameters resolve to their ``Default`` (or an override).

Hand-written because samtranslator's ``IntrinsicsResolver`` substitutes only the Ref, Sub and
GetAtt values it is handed and leaves the rest (Join, If, Select, conditions, unknown names)
silently in place; the local stack must resolve them all or say which it cannot. moto's
CloudFormation parser resolves them only while creating each resource in moto itself.

>>> names = Intrinsics(template, parameters={"DefaultShards": "4"})
>>> names.register("ActivityTable", ref="activitylog-local-ActivityTable")
>>> names.resolve({"Ref": "ActivityTable"})
'activitylog-local-ActivityTable'
"""

from __future__ import annotations

import re
from typing import Any, Optional

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account: ARNs built here match the ones moto returns

NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class UnresolvedReference(KeyError):
    """A reference to something the local stack has not created (or cannot)."""

    def __str__(self) -> str:  # KeyError quotes its message; this reads better
        return str(self.args[0])


class Intrinsics:
    def __init__(self, template: dict, parameters: Optional[dict[str, str]] = None, stack_name: str = "activitylog-local") -> None:
        self.template = template
        self.stack_name = stack_name
        self.parameters: dict[str, str] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if "Default" in spec:
                self.parameters[name] = _as_string(spec["Default"])
        self.parameters.update(parameters or {})
        self.refs: dict[str, Any] = {}
        self.attributes: dict[tuple[str, str], Any] = {}
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }

    def register(self, logical_id: str, ref: Any, **attributes: Any) -> None:
        self.refs[logical_id] = ref
        for name, value in attributes.items():
            self.attributes[(logical_id, name)] = value

    # --- resolution -------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value`` (dicts and lists are walked)."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key, argument), = value.items()
                if key == "Ref":
                    return self.ref(argument)
                if key.startswith("Fn::") or key == "Condition":
                    return self._function(key, argument)
            resolved = {}
            for key, item in value.items():
                item = self.resolve(item)
                if item is not NO_VALUE:
                    resolved[key] = item
            return resolved
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise UnresolvedReference(f"!Ref {name}: the local stack has no such parameter or resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        try:
            return self.attributes[(logical_id, attribute)]
        except KeyError:
            raise UnresolvedReference(f"!GetAtt {logical_id}.{attribute}: not available in the local stack") from None

    def condition(self, name: str) -> bool:
        spec = (self.template.get("Conditions") or {}).get(name)
        if spec is None:
            raise UnresolvedReference(f"condition {name} is not declared")
        return bool(self.resolve(spec))

    def _function(self, key: str, argument: Any) -> Any:
        if key == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else [self.resolve(a) for a in argument]
            return self.get_att(parts[0], parts[1])
        if key == "Fn::Sub":
            return self._sub(argument)
        if key == "Fn::Join":
            separator, items = argument
            return separator.join(_as_string(item) for item in self.resolve(items))
        if key == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = self.resolve(argument)
            return text.split(separator)
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = self.resolve(argument)
            return _as_string(left) == _as_string(right)
        if key == "Fn::Not":
            return not self.resolve(argument[0])
        if key == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if key == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::ToJsonString":
            import json

            return json.dumps(self.resolve(argument), separators=(",", ":"))
        raise UnresolvedReference(f"{key} is not supported by the local stack")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match) -> str:
            name = match.group(1).strip()
            if name in variables:
                return _as_string(variables[name])
            if "." in name and name not in self.pseudo:
                logical_id, attribute = name.split(".", 1)
                return _as_string(self.get_att(logical_id, attribute))
            return _as_string(self.ref(name))

        return _SUB.sub(replace, text).replace("${!", "${")


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_string(v) for v in value)
    return str(value)
