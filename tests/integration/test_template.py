"""template.yaml: it lints clean, SAM transforms it, and nothing else can drift from it.

template.yaml is the single source of truth for the table, the routes and the
permissions. The pynamodb model (activitylog/store/models.py) and the handler's resolver
(functions/*/app.py) repeat parts of it because their libraries need them; these
tests make any difference between the copies a failure.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from activitylog import store
from activitylog.scopes import ROUTE_SCOPES
from samlocal.template import ROOT, TEMPLATE, load, resources

from .api_events import load_handler_module
from tests.support.template import _all_actions, _as_list, _granted, _mentions, _role_statements, _statements

# The issue's API: every route, and the scopes API Gateway demands before the function runs
# (None: public, no authorizer). The service checks the same table.
EXPECTED_ROUTES = {tuple(route.split(" ", 1)): scopes or None for route, scopes in ROUTE_SCOPES.items()}
INDEXES = {"by_type", "by_user", "by_entity", "by_record", "by_correlation", "by_trace", "open_jobs"}
# The list indexes project the list columns; the sweeper's open_jobs only its keys.
LIST_INDEXES = INDEXES - {"open_jobs"}
# One function per job: reads, writes, settings, and the public document.
FUNCTION_OF = {
    ("GET", "/support/activities/{id}"): "SupportFunction",
    ("GET", "/support/activities/{id}/proof"): "SupportFunction",
    ("POST", "/support/archive-queries"): "SupportFunction",
    ("GET", "/settings/retention"): "SettingsFunction",
    ("PUT", "/settings/retention"): "SettingsFunction",
    ("POST", "/privacy/erasures"): "SettingsFunction",
    ("GET", "/settings/privacy"): "SettingsFunction",
    ("PUT", "/settings/privacy"): "SettingsFunction",
    **{tuple(route.split(" ", 1)): "SettingsFunction" for route in ROUTE_SCOPES if "/settings/streams" in route},
    **{tuple(route.split(" ", 1)): "SettingsFunction" for route in ROUTE_SCOPES if " /alerts" in route},
    ("GET", "/activities"): "QueryFunction",
    ("GET", "/activities/{id}"): "QueryFunction",
    ("GET", "/activities/{id}/related"): "QueryFunction",
    ("GET", "/members"): "QueryFunction",
    ("GET", "/catalog"): "QueryFunction",
    ("POST", "/activities/{id}/retry"): "RetryFunction",
    ("POST", "/activities"): "RecordFunction",
    ("POST", "/activities/batch"): "RecordFunction",
    ("PATCH", "/activities/{id}"): "RecordFunction",
    ("GET", "/openapi.json"): "OpenApiFunction",
    ("POST", "/webhooks/{provider}/{org_id}"): "WebhookFunction",
    ("POST", "/recoveries/{provider}"): "RecoveryFunction",
    ("POST", "/retries"): "RetriesFunction",
    ("GET", "/retries"): "RetriesFunction",
    ("GET", "/retries/{id}"): "RetriesFunction",
    ("POST", "/retries/{id}/cancel"): "RetriesFunction",
    ("POST", "/exports"): "ExportsFunction",
    ("GET", "/exports/{id}"): "ExportsFunction",
    ("GET", "/exports/{id}/download"): "ExportsFunction",
}


# -- lint and transform ------------------------------------------------------------------------


def test_cfn_lint_is_clean():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    command = [str(cfn_lint)] if cfn_lint.exists() else [sys.executable, "-m", "cfnlint"]

    result = subprocess.run([*command, str(TEMPLATE)], cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, f"cfn-lint found problems:\n{result.stdout}{result.stderr}"
    assert result.stdout.strip() == ""


def test_sam_transform_yields_the_http_api_with_the_jwt_authorizer(transformed):
    apis = resources(transformed, "AWS::ApiGatewayV2::Api")
    assert list(apis) == ["HttpApi"]
    body = apis["HttpApi"]["Properties"]["Body"]

    scheme = body["components"]["securitySchemes"]["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert scheme["type"] == "jwt"
    assert scheme["identitySource"] == "$request.header.Authorization"
    assert scheme["jwtConfiguration"] == {"issuer": {"Ref": "JwtIssuer"}, "audience": [{"Ref": "JwtAudience"}]}
    assert resources(transformed, "AWS::ApiGatewayV2::Stage"), "the HTTP API has no stage"


def test_sam_transform_yields_one_route_per_api_path_with_its_scopes(transformed):
    body = transformed["Resources"]["HttpApi"]["Properties"]["Body"]
    routes = {(method.upper(), path): operation for path, item in body["paths"].items() for method, operation in item.items()}

    assert set(routes) == set(EXPECTED_ROUTES)
    for route, scopes in EXPECTED_ROUTES.items():
        operation = routes[route]
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["payloadFormatVersion"] == "2.0", route
        assert integration["type"] == "aws_proxy", route
        assert f"${{{FUNCTION_OF[route]}.Arn}}" in integration["uri"]["Fn::Sub"], route
        if scopes is None:
            assert operation["security"] == [{"NONE": []}], route
        else:
            (requirement,) = operation["security"]
            assert set(requirement) == {"JwtAuthorizer"}, route
            assert set(requirement["JwtAuthorizer"]) == set(scopes), route


def test_no_route_shadows_the_webhook_url_of_any_org():
    # API Gateway prefers a literal segment to a variable one: a route /recoveries/{provider}
    # took the webhook URL of an org whose id is "recoveries" (a valid org id), and its deliveries with it.
    from activitylog.entry import ORG_ID

    webhook = ("POST", "/webhooks/{provider}/{org_id}")
    for method, path in EXPECTED_ROUTES:
        segments = path.strip("/").split("/")
        if (method, path) == webhook or method != "POST" or len(segments) != 3 or segments[0] != "webhooks":
            continue
        assert not re.fullmatch(ORG_ID, segments[2]), f"{method} {path} answers the webhook URL of the org {segments[2]!r}"


def test_sam_transform_yields_the_functions_with_the_layer_and_the_table(transformed, template):
    functions = resources(transformed, "AWS::Lambda::Function")
    assert set(FUNCTION_OF.values()) <= set(functions)
    layers = resources(transformed, "AWS::Lambda::LayerVersion")
    assert len(layers) == 1
    (layer_id,) = layers
    compatible = layers[layer_id]["Properties"]["CompatibleRuntimes"]

    for name, function in functions.items():
        props = function["Properties"]
        assert {"Ref": layer_id} in props["Layers"], name
        assert props["Runtime"] in compatible, name
        assert props["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": "ActivityTable"}, name
        # The document function touches no service, so it needs no tracing permissions.
        assert props["TracingConfig"] == {"Mode": "PassThrough" if name == "OpenApiFunction" else "Active"}, name
        assert props["Handler"] == "app.lambda_handler", name

    # Every API route invokes a function that has permission to be invoked by the API.
    permissions = resources(transformed, "AWS::Lambda::Permission")
    api_permissions = [p for p in permissions.values() if p["Properties"]["Principal"] == "apigateway.amazonaws.com"]
    assert len(api_permissions) == len(EXPECTED_ROUTES)


def test_every_function_handler_exists_where_template_points():
    for name, function in resources(load(), "AWS::Serverless::Function").items():
        props = function["Properties"]
        module, handler = props["Handler"].rsplit(".", 1)
        source = ROOT / props["CodeUri"] / f"{module.replace('.', '/')}.py"
        assert source.is_file(), f"{name}: {source} does not exist"
        tree = ast.parse(source.read_text()).body
        defined = {node.name for node in tree if isinstance(node, ast.FunctionDef)}
        defined |= {target.id for node in tree if isinstance(node, ast.Assign) for target in node.targets if isinstance(target, ast.Name)}
        assert handler in defined, f"{name}: {source} defines no {handler}()"
    layer = resources(load(), "AWS::Serverless::LayerVersion")["ActivityLogLayer"]["Properties"]
    assert (ROOT / layer["ContentUri"] / "activitylog" / "store" / "__init__.py").is_file()


# -- permissions -------------------------------------------------------------------------------


def test_no_policy_grants_a_wildcard_action_on_a_table(transformed):
    tables = set(resources(transformed, "AWS::DynamoDB::Table"))
    assert "ActivityTable" in tables
    checked = 0
    for name, role in resources(transformed, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in _statements(policy["PolicyDocument"]):
                actions = _as_list(statement.get("Action", []))
                # Nothing anywhere may allow every action of every service.
                assert "*" not in actions, (name, statement)
                if statement.get("Effect") != "Allow":
                    continue
                if any(_mentions(r, t) for r in _as_list(statement.get("Resource", [])) for t in tables):
                    checked += 1
                    wildcards = [a for a in actions if "*" in a]
                    assert not wildcards, f"{name} grants {wildcards} on a table: {statement}"
                    assert "NotAction" not in statement, (name, statement)
    assert checked, "no statement grants access to the table: the function could not read it"


def test_each_function_holds_only_what_its_job_needs(transformed, template):
    # Entries are an audit trail: nothing removes one; a reader writes only support's reads' records (one statement).
    reads = _granted(transformed, "QueryFunction", "ActivityTable")
    writes = _granted(transformed, "RecordFunction", "ActivityTable")
    assert reads == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    reader_writes = [st for st in _role_statements(transformed, "QueryFunction")
                     if {"dynamodb:PutItem", "dynamodb:UpdateItem"} & set(_as_list(st["Action"]))
                     and any(_mentions(r, "ActivityTable") for r in _as_list(st["Resource"]))]  # (the subject keys: their own table)
    assert [st.get("Sid") for st in reader_writes] == ["RecordSupportReads"], reader_writes
    assert writes == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert _granted(transformed, "QueryFunction", "DetailBucket") == {"s3:GetObject"}
    assert _granted(transformed, "QueryFunction", "IdempotencyTable") == set()
    assert _granted(transformed, "RecordFunction", "CursorSecret") == set()
    document_role = transformed["Resources"]["OpenApiFunctionRole"]["Properties"]
    assert document_role.get("Policies", []) == []  # the document touches no data
    # Retry reads the entry and speaks through the bus; the job handler only through the bus.
    assert _granted(transformed, "RetryFunction", "ActivityTable") == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
    assert _granted(transformed, "RetryFunction", "PlatformBus") == {"events:PutEvents"}
    assert _granted(transformed, "RetryFunction", "DetailBucket") == {"s3:GetObject"}
    assert _granted(transformed, "DemoJobsFunction", "ActivityTable") == set()
    assert _granted(transformed, "DemoJobsFunction", "PlatformBus") == {"events:PutEvents"}
    # The sweeper queries only its index, and rewrites entries with a compare-and-set (PutItem).
    sweeper = transformed["Resources"]["SweeperFunctionRole"]["Properties"]["Policies"]
    queries = [s for p in sweeper for s in _statements(p["PolicyDocument"]) if "dynamodb:Query" in _as_list(s["Action"])]
    assert [s["Resource"] for s in queries] == [{"Fn::Sub": "${ActivityTable.Arn}/index/open_jobs"}]
    assert _granted(transformed, "SweeperFunction", "ActivityTable") == {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem",
                                                                          "dynamodb:BatchGetItem", "dynamodb:UpdateItem"}
    for sid in ("ReadOrgMeta", "CloseRejectionMinutes"):  # updates only the orgs' meta items (a rejection minute, once summarized)
        (meta,) = [st for st in _role_statements(transformed, "SweeperFunction") if st.get("Sid") == sid]
        assert meta["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*#meta"]}}
    for function in ("SweeperFunction", "DemoJobsFunction"):
        assert _granted(transformed, function, "IdempotencyTable") == set(), function
    # The platform bus's activity events reach their own consumer through their own queue, only from their rule.
    (rule_target,) = template["Resources"]["ActivityEventsRule"]["Properties"]["Targets"]
    assert rule_target["Arn"] == {"Fn::GetAtt": ["ActivityEventsQueue", "Arn"]}
    (allow,) = _statements(template["Resources"]["ActivityEventsQueuePolicy"]["Properties"]["PolicyDocument"])
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ActivityEventsRule", "Arn"]}}}
    # Settings: reads only the org's meta items, writes the policy (or a stream) with its entry; removes only a
    # stream's meta items and waiting entries, never an entry.
    assert _granted(transformed, "SettingsFunction", "ActivityTable") == {
        "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
        "dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    (meta_read,) = [st for st in _role_statements(transformed, "SettingsFunction") if st.get("Sid") == "ReadOrgMeta"]
    assert meta_read["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*#meta"]}}
    (streams,) = [st for st in _role_statements(transformed, "SettingsFunction") if st.get("Sid") == "ReadAndDeleteStreams"]
    assert streams["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*#meta", "*#stream#*"]}}
    # The re-stamp reads ids and expiries and updates them; it never puts or deletes an entry.
    assert _granted(transformed, "RetentionFunction", "ActivityTable") == {"dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem"}

    # The webhook receiver records refusals only; the ingest writes entries; neither reads a list or deletes one.
    # (and both read the org's meta items: its retention policy sets an entry's expiry)
    assert _granted(transformed, "WebhookFunction", "ActivityTable") == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                                                        "dynamodb:BatchGetItem"}
    assert _granted(transformed, "IngestFunction", "ActivityTable") == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                                                       "dynamodb:BatchGetItem"}
    for function in ("WebhookFunction", "IngestFunction"):
        (meta_read,) = [st for st in _role_statements(transformed, function) if st.get("Sid") == "ReadOrgMeta"]
        assert meta_read["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*#meta"]}}
    assert _granted(transformed, "WebhookFunction", "WebhookQueue") == {"sqs:SendMessage"}
    assert _granted(transformed, "IngestFunction", "WebhookQueue") == {"sqs:ChangeMessageVisibility"}  # + SAM's poller policy
    assert _granted(transformed, "WebhookFunction", "WebhookDeadLetters") == _granted(transformed, "IngestFunction", "WebhookDeadLetters") == set()
    for function in ("QueryFunction", "RecordFunction", "IngestFunction", "OpenApiFunction"):
        assert not any("ssm:" in action for action in _all_actions(transformed, function)), function
    assert _all_actions(transformed, "WebhookFunction") >= {"ssm:GetParameter"}
    assert {"IdempotencyTable", "CursorSecret"}.isdisjoint(
        {r for f in ("WebhookFunction", "IngestFunction") for r in ("IdempotencyTable", "CursorSecret") if _granted(transformed, f, r)})


def test_webhook_secrets_are_read_only_under_the_stacks_webhook_path(transformed, template):
    role = transformed["Resources"]["WebhookFunctionRole"]["Properties"]
    (statement,) = [s for p in role["Policies"] for s in _statements(p["PolicyDocument"]) if "ssm:GetParameter" in _as_list(s["Action"])]
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}/webhooks/*"}
    variables = template["Resources"]["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["WEBHOOK_SECRETS_PATH"] == {"Fn::Sub": "/${AWS::StackName}/webhooks"}


def test_the_providers_api_keys_are_read_only_by_the_recovery_function_which_reads_no_signing_secret(transformed, template):
    def ssm_resources(function: str) -> list:
        role = transformed["Resources"][f"{function}Role"]["Properties"]
        return [s["Resource"] for p in role["Policies"] for s in _statements(p["PolicyDocument"])
                if any(a.startswith("ssm:") for a in _as_list(s["Action"]))]

    keys = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}/provider-keys/*"}
    assert ssm_resources("RecoveryFunction") == [keys]
    assert keys not in ssm_resources("WebhookFunction")
    variables = template["Resources"]["RecoveryFunction"]["Properties"]["Environment"]["Variables"]
    assert variables == {"PROVIDER_KEYS_PATH": {"Fn::Sub": "/${AWS::StackName}/provider-keys"},
                         "PROVIDER_API_BASES": {"Ref": "ProviderApiBases"}}
    assert template["Parameters"]["ProviderApiBases"]["Default"] == ""  # in AWS: the providers' own APIs
    # It writes entries with their markers and reads markers; it neither lists entries nor removes any.
    assert _granted(transformed, "RecoveryFunction", "ActivityTable") == {
        "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert _granted(transformed, "RecoveryFunction", "WebhookQueue") == set()


def test_the_webhook_queue_has_a_dlq_and_alarms_on_its_depth_and_the_oldest_message(template):
    from activitylog.webhooks.queue import MAX_MESSAGE_BYTES, OFFLOAD_PREFIX

    resources_ = template["Resources"]
    queue = resources_["WebhookQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["WebhookDeadLetters", "Arn"]}, "maxReceiveCount": 5}
    assert queue["MaximumMessageSize"] == MAX_MESSAGE_BYTES  # what the receiver offloads to S3 above
    assert queue["VisibilityTimeout"] >= 6 * template["Globals"]["Function"]["Timeout"]
    alarms = {(a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0])
              for a in resources(template, "AWS::CloudWatch::Alarm").values() if a["Properties"].get("Namespace") == "AWS/SQS"}
    assert {("ApproximateNumberOfMessagesVisible", "WebhookDeadLetters"), ("ApproximateAgeOfOldestMessage", "WebhookQueue"),
            ("ApproximateAgeOfOldestMessage", "WebhookDeadLetters")} <= alarms
    (mapping,) = resources_["IngestFunction"]["Properties"]["Events"].values()
    assert mapping["Type"] == "SQS" and mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    rules = {rule["Id"]: rule for rule in resources_["DetailBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["webhook-bodies"]["Prefix"] == OFFLOAD_PREFIX  # where the receiver offloads bodies too large for SQS


def test_activity_events_have_their_own_queue_dlq_alarms_and_consumer_apart_from_webhooks(template, transformed):
    resources_ = template["Resources"]
    rule = resources_["ActivityEventsRule"]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ActivityEventsQueue", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ActivityEventsDeadLetters", "Arn"]}}
    queue = resources_["ActivityEventsQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["ActivityEventsDeadLetters", "Arn"]}, "maxReceiveCount": 5}
    assert queue["VisibilityTimeout"] >= 6 * template["Globals"]["Function"]["Timeout"]
    assert queue["KmsMasterKeyId"] == resources_["ActivityEventsDeadLetters"]["Properties"]["KmsMasterKeyId"] == {"Ref": "ServiceKey"}
    alarms = {(a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0])
              for a in resources(template, "AWS::CloudWatch::Alarm").values() if a["Properties"].get("Namespace") == "AWS/SQS"}
    assert {("ApproximateNumberOfMessagesVisible", "ActivityEventsDeadLetters"), ("ApproximateAgeOfOldestMessage", "ActivityEventsQueue"),
            ("ApproximateAgeOfOldestMessage", "ActivityEventsDeadLetters")} <= alarms
    (mapping,) = resources_["ActivityEventsFunction"]["Properties"]["Events"].values()
    assert mapping["Type"] == "SQS" and mapping["Properties"]["Queue"] == {"Fn::GetAtt": ["ActivityEventsQueue", "Arn"]}
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The webhook ingest reads only webhook deliveries; the activity events' consumer never sees one.
    (deliveries,) = resources_["IngestFunction"]["Properties"]["Events"].values()
    assert deliveries["Properties"]["Queue"] == {"Fn::GetAtt": ["WebhookQueue", "Arn"]}
    assert _granted(transformed, "ActivityEventsFunction", "WebhookQueue") == _granted(transformed, "IngestFunction", "ActivityEventsQueue") == set()
    assert _granted(transformed, "ActivityEventsFunction", "ActivityEventsQueue") >= {"sqs:ChangeMessageVisibility"}
    assert _granted(transformed, "ActivityEventsFunction", "ActivityEventsDeadLetters") == set()
    assert _granted(transformed, "ActivityEventsFunction", "ActivityTable") == {"dynamodb:GetItem", "dynamodb:PutItem",
                                                                               "dynamodb:UpdateItem", "dynamodb:BatchGetItem"}
    assert not any("ssm:" in action for action in _all_actions(transformed, "ActivityEventsFunction"))


def test_the_export_functions_and_machine_hold_only_what_exports_need(transformed):
    # The exports function reads entries, records the export's own entry, starts the machine,
    # signs links and presigns downloads; it neither writes files nor changes other entries' detail.
    assert _granted(transformed, "ExportsFunction", "ActivityTable") == {
        "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert _granted(transformed, "ExportsFunction", "ExportBucket") == {"s3:GetObject"}
    assert _granted(transformed, "ExportsFunction", "ExportStateMachine") == {"states:StartExecution"}
    assert _granted(transformed, "ExportsFunction", "ExportLinkSecret") == {"secretsmanager:GetSecretValue"}
    assert _granted(transformed, "ExportsFunction", "CursorSecret") == set()
    # The worker reads entries and reports on the export's own entry (PutItem), and writes only its files.
    assert _granted(transformed, "ExportWorkerFunction", "ActivityTable") == {
        "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem"}
    assert _granted(transformed, "ExportWorkerFunction", "ExportBucket") == {
        "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:GetObject"}
    assert _granted(transformed, "ExportWorkerFunction", "DetailBucket") == {"s3:GetObject"}
    for function in ("QueryFunction", "RecordFunction", "OpenApiFunction"):
        assert _granted(transformed, function, "ExportBucket") == set(), function
        assert _granted(transformed, function, "ExportLinkSecret") == set(), function
    # The machine invokes the worker and mails from the export sender only.
    machine_role = transformed["Resources"]["ExportStateMachineRole"]["Properties"]
    statements = [st for policy in machine_role["Policies"] for st in _statements(policy["PolicyDocument"])]
    actions = {action for st in statements for action in _as_list(st["Action"])}
    assert actions == {"lambda:InvokeFunction", "ses:SendEmail"}
    (invoke,) = [st for st in statements if "lambda:InvokeFunction" in _as_list(st["Action"])]
    assert all(_mentions(r, "ExportWorkerFunction") for r in _as_list(invoke["Resource"]))
    (mail,) = [st for st in statements if "ses:SendEmail" in _as_list(st["Action"])]
    assert "identity/${ExportMailFrom}" in repr(mail["Resource"])


def test_the_export_state_machine_runs_the_asl_file_from_infra_with_every_substitution(template):
    import json

    machine = template["Resources"]["ExportStateMachine"]["Properties"]
    definition_file = ROOT / machine["DefinitionUri"]
    assert definition_file.parent == ROOT / "infra" / "statemachines"
    text = definition_file.read_text()
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(machine["DefinitionSubstitutions"])
    states = json.loads(text)["States"]
    # Every worker step fails into MarkFailed, which records it and mails the requester
    for name in ("Begin", "WriteParts", "Complete"):
        assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "MarkFailed"}], name
    assert states["MarkFailed"]["Next"] == "EmailFailure" and states["EmailFailure"]["Next"] == "Failed"
    assert states["MoreRows"]["Choices"][0]["Next"] == "WriteParts"  # the loop
    assert {states[s]["Resource"] for s in ("EmailLink", "EmailFailure")} == {"arn:aws:states:::aws-sdk:sesv2:sendEmail"}


# -- the table and the pynamodb model ----------------------------------------------------------


def _table(template: dict) -> dict:
    return template["Resources"]["ActivityTable"]["Properties"]


def test_table_has_ttl_stream_and_the_seven_indexes(template):
    table = _table(template)

    assert table["TimeToLiveSpecification"] == {"AttributeName": "exp", "Enabled": True}
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == INDEXES
    assert len(table["GlobalSecondaryIndexes"]) == 7  # by_trace: the seventh (keys.py says why not by_correlation)


def test_ttl_attribute_is_the_models_expiry(template):
    assert store.EntryItem.expires_at.attr_name == _table(template)["TimeToLiveSpecification"]["AttributeName"]


def _key_schema(schema: list[dict]) -> dict[str, str]:
    return {key["KeyType"]: key["AttributeName"] for key in schema}


def test_pynamodb_model_matches_the_template_exactly(template):
    table = _table(template)
    model = store.EntryItem._get_schema()

    # Table keys
    assert _key_schema(model["key_schema"]) == _key_schema(table["KeySchema"])
    assert store.EntryItem._hash_keyname == _key_schema(table["KeySchema"])["HASH"]
    assert store.EntryItem._range_keyname == _key_schema(table["KeySchema"])["RANGE"]

    # Every key attribute, with its type
    declared = {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]}
    assert {(a["AttributeName"], a["AttributeType"]) for a in model["attribute_definitions"]} == declared

    # Each index: name, hash and range attribute, projection
    template_indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    model_indexes = {index["index_name"]: index for index in model["global_secondary_indexes"]}
    assert set(model_indexes) == set(template_indexes) == INDEXES
    for name, declared_index in template_indexes.items():
        model_index = model_indexes[name]
        assert _key_schema(model_index["key_schema"]) == _key_schema(declared_index["KeySchema"]), name
        if name not in LIST_INDEXES:
            assert declared_index["Projection"] == model_index["projection"] == {"ProjectionType": "KEYS_ONLY"}, name
            continue
        assert declared_index["Projection"]["ProjectionType"] == "INCLUDE", name
        assert model_index["projection"]["ProjectionType"] == "INCLUDE", name
        assert list(declared_index["Projection"]["NonKeyAttributes"]) == store.LIST_COLUMNS, name
        assert list(model_index["projection"]["NonKeyAttributes"]) == store.LIST_COLUMNS, name


def test_list_columns_are_attributes_of_the_model():
    # A projected name the model does not write would silently project nothing.
    model_names = {attribute.attr_name for attribute in store.EntryItem.get_attributes().values()}
    assert set(store.LIST_COLUMNS) <= model_names
    assert len(set(store.LIST_COLUMNS)) == len(store.LIST_COLUMNS)


def test_the_functions_read_the_table_the_template_declares(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == {"Ref": "ActivityTable"}


# -- routes: template.yaml versus each function's resolver -------------------------------------


def _template_routes(template: dict, function: str) -> set[tuple[str, str]]:
    events = template["Resources"][function]["Properties"].get("Events", {})
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for event in events.values()
        if event["Type"] == "HttpApi"
    }


def _resolver_routes(module) -> dict[tuple[str, str], re.Pattern]:
    """The resolver's routes with Powertools' ``<name>`` written as the template's ``{name}``."""
    resolver = module.app
    routes = {}
    for route in [*resolver._static_routes, *resolver._dynamic_routes]:
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        routes[(route.method.upper(), path)] = route.rule
    return routes


def test_template_routes_are_the_issues_api(template):
    routed = {route: function for function in set(FUNCTION_OF.values()) for route in _template_routes(template, function)}
    assert routed == FUNCTION_OF


def test_every_routes_scopes_in_the_template_are_the_services_table(template):
    # API Gateway refuses (403) by the template's list, the service by ROUTE_SCOPES: one answer.
    events = [event["Properties"] for function in resources(template, "AWS::Serverless::Function").values()
              for event in function["Properties"].get("Events", {}).values() if event["Type"] == "HttpApi"]
    in_template = {}
    for event in events:
        auth = event.get("Auth", {})
        route = f"{event['Method'].upper()} {event['Path']}"
        assert route not in in_template, f"{route} is declared twice"
        if auth.get("Authorizer") == "NONE":
            in_template[route] = frozenset()
        else:
            assert "AuthorizationScopes" in auth, f"{route} leaves its scopes to the authorizer's default"
            scopes = auth["AuthorizationScopes"]
            assert len(scopes) == len(set(scopes)), route
            in_template[route] = frozenset(scopes)

    assert in_template == ROUTE_SCOPES


@pytest.mark.parametrize("function", sorted(set(FUNCTION_OF.values())))
def test_every_template_route_is_registered_in_its_functions_handler_and_vice_versa(template, function):
    module = load_handler_module(function)
    in_template = _template_routes(template, function)
    in_handler = _resolver_routes(module)

    assert in_template - set(in_handler) == set(), "routes API Gateway sends that the handler does not serve"
    assert set(in_handler) - in_template == set(), "routes the handler serves that API Gateway never sends"

    # And the resolver's own pattern matches a real path of each route, and no other route's.
    for (method, path), rule in in_handler.items():
        sample = path.replace("{id}", "01JDQ7Z9K3M5N7P9R1T3V5X7Z9")
        assert rule.match(sample), (method, path)
        others = [p for (m, p), r in in_handler.items() if m == method and p != path and r.match(sample)]
        assert not others, f"{method} {sample} matches {others} too"


# -- the layer ships what the functions need ---------------------------------------------------


def _requirements(lines) -> set[str]:
    return {re.sub(r"\s+", "", line.split("#", 1)[0]).lower() for line in lines if line.split("#", 1)[0].strip()}


def test_layer_requirements_are_the_projects_runtime_dependencies():
    # pyproject.toml installs the domain package in development; the layer ships it in AWS.
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    layer = (ROOT / "layers" / "activitylog" / "requirements.txt").read_text().splitlines()
    in_layer = _requirements(layer)
    # boto3 comes with the Lambda runtime.
    in_project = {r for r in _requirements(project["dependencies"]) if not r.startswith("boto3")}
    assert in_layer == in_project


def test_active_tracing_ships_the_xray_sdk_in_the_layer(template):
    # Powertools' Tracer imports aws_xray_sdk; without it, every traced function fails at import.
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    layer = " ".join(_requirements((ROOT / "layers" / "activitylog" / "requirements.txt").read_text().splitlines()))
    assert re.search(r"aws-lambda-powertools\[[^\]]*tracer", layer) or "aws-xray-sdk" in layer


# -- the detail bucket ---------------------------------------------------------------------------


def test_every_retention_class_has_a_lifecycle_rule_expiring_its_details_after_its_entries(template):
    from activitylog.config import RETENTION_CLASSES
    from activitylog.details import DETAIL_TAG, detail_tag

    bucket = template["Resources"]["DetailBucket"]["Properties"]
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    details = [rule for rule in rules.values() if rule.get("Prefix", "").startswith("details")]
    # By the detail's tag (a retention change moves it), never by a prefix a tagged detail would also match
    by_tag = {rule["TagFilters"][0]["Value"]: rule["ExpirationInDays"] for rule in details if rule.get("TagFilters")}
    assert by_tag == {detail_tag(days): days + 1 for days in RETENTION_CLASSES}
    assert all(rule["Prefix"] == "details/" and rule["TagFilters"][0]["Key"] == DETAIL_TAG for rule in details if rule.get("TagFilters"))
    untagged = [rule["ExpirationInDays"] for rule in details if not rule.get("TagFilters")]
    assert untagged == [max(RETENTION_CLASSES) + 1]  # what no tag names goes after the longest class, never before
    assert rules["replaced-details"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert template["Parameters"]["RetentionDays"]["AllowedValues"] == list(RETENTION_CLASSES)


def test_the_table_is_created_with_the_templates_table_class(activity_table, template):
    from samlocal.template import table_definition

    # DynamoDB Local takes TableClass (the fixture's table was created with it) but does not report it back.
    assert table_definition(template)["TableClass"] == _table(template)["TableClass"] == "STANDARD_INFREQUENT_ACCESS"


def test_checkov_passes_with_every_skip_explained(tmp_path):
    """The security scan a review runs: no failed check, and each skip carries its reason inline."""
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    assert checkov.exists(), "checkov is installed by `make test` (its own venv: it pins an older boto3)"
    scan = subprocess.run(
        [str(checkov), "-f", str(TEMPLATE), "--framework", "cloudformation", "-o", "json"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "BC_SKIP_MAPPING": "TRUE", "HOME": str(tmp_path)},
    )
    report = json.loads(scan.stdout)
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    assert report["summary"]["passed"] >= 30, "checkov scanned too little to mean anything"
    unexplained = [f"{c['check_id']} {c['resource']}" for c in report["results"]["skipped_checks"]
                   if len((c["check_result"].get("suppress_comment") or "").strip()) < 15]
    assert not unexplained, f"skips without a reason: {unexplained}"


def _refs(value) -> set[str]:
    """Every logical id ``value`` refers to with Ref, GetAtt or a ${Name} inside Sub."""
    if isinstance(value, dict):
        found = set()
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= _refs(inner)
            else:
                found |= _refs(inner)
        return found
    if isinstance(value, list):
        return set().union(*map(_refs, value)) if value else set()
    return set()


def test_every_function_is_bounded_watched_and_named_in_the_key_policy():
    template = load()
    functions = resources(template, "AWS::Serverless::Function")
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    key_policy = json.dumps(template["Resources"]["ServiceKey"]["Properties"]["KeyPolicy"])
    for name, function in functions.items():
        assert isinstance(function["Properties"].get("ReservedConcurrentExecutions"), int), f"{name} has no reserved concurrency"
        for metric in ("Errors", "Throttles"):
            watching = [a for a, alarm in alarms.items() if metric in json.dumps(alarm) and name in _refs(alarm)]
            assert watching, f"no alarm watches {name}'s {metric}"
        # Whatever reads or writes encrypted data gets the key, and only that.
        policies = json.dumps(function["Properties"].get("Policies", []))
        holds_data = any(word in policies for word in ("dynamodb:", "s3:", "secretsmanager:", "sqs:", "DynamoDB", "S3", "SQS"))
        assert (f"-{name}Role-*" in key_policy) == holds_data, f"{name}'s role and the key policy disagree"
    for name, group in resources(template, "AWS::Logs::LogGroup").items():
        assert group["Properties"].get("RetentionInDays") and group["Properties"].get("KmsKeyId"), name


def test_every_metric_math_alarm_is_within_cloudwatchs_limits():
    # PutMetricAlarm takes at most 10 metrics (MetricStat) and 10 expressions in one alarm, a hard limit
    # (CloudWatch's "Limits that apply to alarms based on metric math expressions"): one more and the deploy fails.
    for name, alarm in resources(load(), "AWS::CloudWatch::Alarm").items():
        queries = alarm["Properties"].get("Metrics", [])
        stats = [q for q in queries if "MetricStat" in q]
        expressions = [q for q in queries if "Expression" in q]
        assert len(stats) <= 10 and len(expressions) <= 10, (name, len(stats), len(expressions))
        assert not queries or sum(q.get("ReturnData", True) for q in queries) == 1, name
        for expression in expressions:  # every id an expression sums is one of the alarm's own metrics
            summed = set(re.findall(r"[a-z][a-z0-9]*", expression["Expression"].replace("SUM", "")))
            assert summed <= {q["Id"] for q in stats}, (name, summed - {q["Id"] for q in stats})


def test_the_api_access_log_has_who_what_and_how_long_but_never_the_token():
    settings = load()["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    line = json.loads(settings["Format"])
    for variable in ("$context.requestId", "$context.requestTime", "$context.routeKey", "$context.status",
                     "$context.responseLatency", "$context.identity.sourceIp",
                     "$context.authorizer.claims.org_id", "$context.authorizer.claims.sub"):
        assert variable in line.values(), variable
    assert "authorization" not in settings["Format"].lower()
# -- the archive ---------------------------------------------------------------------------------


def test_every_archive_class_has_a_lifecycle_rule_by_tag(template):
    from activitylog.config import ARCHIVE_CLASSES

    rules = template["Resources"]["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    by_tag = {rule["TagFilters"][0]["Value"]: (rule["Prefix"], rule["ExpirationInDays"]) for rule in rules if rule.get("TagFilters")}
    assert by_tag == {f"{days}d": ("archive/", days) for days in ARCHIVE_CLASSES}
    assert template["Parameters"]["ArchiveRetentionDays"]["AllowedValues"] == list(ARCHIVE_CLASSES)
    assert template["Parameters"]["ArchiveRetentionDays"]["Default"] == 2555


def test_the_archive_reads_the_stream_with_bisect_an_on_failure_queue_and_an_alarm_well_before_24_hours(transformed, template):
    mapping = transformed["Resources"]["ArchiveFunctionChanges"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ActivityTable", "StreamArn"]}
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 < mapping["MaximumRetryAttempts"] <= 20  # never -1: a poison record would block the shard until the stream drops it
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["ArchiveFailures", "Arn"]}
    assert "FunctionResponseTypes" not in mapping  # partial failures would re-group a batch and duplicate versions
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    type_attribute = store.EntryItem.type.attr_name  # every entry has one; no meta item (shards, policy, quota) does
    assert patterns == [{"dynamodb": {image: {type_attribute: {"S": [{"exists": True}]}}}} for image in ("NewImage", "OldImage")]
    alarm = template["Resources"]["ArchiveIteratorAgeAlarm"]["Properties"]
    assert alarm["MetricName"] == "IteratorAge" and alarm["Dimensions"][0]["Value"] == {"Ref": "ArchiveFunction"}
    assert alarm["Threshold"] * alarm["EvaluationPeriods"] <= 2 * 3600 * 1000  # hours before the stream's 24


def test_the_archive_function_writes_the_archive_and_nothing_else(transformed):
    # in the table, it reads the orgs' policies and counts their catalogues: meta items only, never an entry
    assert _granted(transformed, "ArchiveFunction", "ActivityTable") == {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"}
    assert _granted(transformed, "ArchiveFunction", "ArchiveBucket") == {"s3:PutObject", "s3:PutObjectTagging"}
    assert _granted(transformed, "ArchiveFunction", "DetailBucket") == {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucketVersions"}
    for statement in _role_statements(transformed, "ArchiveFunction"):
        if statement.get("Sid") in ("ReadOrgPolicy", "CountCatalogue"):
            assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*#meta"]}}
    assert _granted(transformed, "RetentionFunction", "ArchiveBucket") == {"s3:ListBucket", "s3:PutObjectTagging"}
    assert _granted(transformed, "QueryFunction", "ArchiveBucket") == set()
    # Support reads the table and the archive, and writes nothing anywhere but each read's record in the org's log.
    assert _granted(transformed, "SupportFunction", "ActivityTable") == {"dynamodb:GetItem", "dynamodb:BatchGetItem",
                                                                         "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert _granted(transformed, "SupportFunction", "ArchiveBucket") == {"s3:ListBucket", "s3:GetObject"}


def test_athenas_table_reads_the_archive_lines_as_written(template):
    from activitylog.archive import layout
    from activitylog.archive.lines import COLUMNS

    table = template["Resources"]["ArchiveTable"]["Properties"]["TableInput"]
    columns = [column["Name"] for column in table["StorageDescriptor"]["Columns"]]
    assert columns == [name for name in COLUMNS if name != "org"]  # org is the partition key
    assert [key["Name"] for key in table["PartitionKeys"]] == ["org", "date"]
    assert table["Parameters"]["projection.org.type"] == "injected"  # every query names its org: one prefix read
    location = table["Parameters"]["storage.location.template"]["Fn::Sub"]
    assert location == "s3://${ArchiveBucket}/archive/org=${!org}/date=${!date}/"
    assert layout.date_prefix("org_a", "2026-11-27") == "archive/org=org_a/date=2026-11-27/"  # what the writer writes
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    workgroup = template["Resources"]["ArchiveWorkgroup"]["Properties"]["WorkGroupConfiguration"]
    assert workgroup["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${ArchiveBucket}/athena-results/"}


def test_digests_are_signed_by_kms_and_kept_under_object_lock(transformed, template):
    bucket = template["Resources"]["DigestBucket"]["Properties"]
    assert bucket["ObjectLockEnabled"] is True and bucket["VersioningConfiguration"]["Status"] == "Enabled"
    retention = bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    from activitylog.config import ARCHIVE_CLASSES

    assert retention["Years"] * 365 >= max(ARCHIVE_CLASSES)  # a digest outlives the versions it covers
    key = template["Resources"]["DigestSigningKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert _granted(transformed, "DigestFunction", "DigestSigningKey") == {"kms:Sign"}
    assert _granted(transformed, "DigestFunction", "DigestBucket") == {"s3:ListBucket", "s3:GetObject", "s3:PutObject"}
    assert _granted(transformed, "DigestFunction", "ArchiveBucket") == {"s3:ListBucket", "s3:GetObject", "s3:PutObject"}
    assert _granted(transformed, "DigestFunction", "ActivityTable") == set()
    statements = _role_statements(transformed, "DigestFunction")
    archive_writes = [s["Resource"] for s in statements if "s3:PutObject" in _as_list(s["Action"]) and "ArchiveBucket" in repr(s["Resource"])]
    assert archive_writes == [{"Fn::Sub": "${ArchiveBucket.Arn}/digest-state/*"}]  # it writes no archived version
    for function in ("ArchiveFunction", "RetentionFunction", "QueryFunction", "RecordFunction", "SettingsFunction"):
        assert _granted(transformed, function, "DigestBucket") == set(), function
        assert _granted(transformed, function, "DigestSigningKey") == set(), function
    # Support builds an entry's proof: it reads digests and checkpoints and the key's public half, and signs nothing.
    assert _granted(transformed, "SupportFunction", "DigestBucket") == {"s3:ListBucket", "s3:GetObject"}
    assert _granted(transformed, "SupportFunction", "DigestSigningKey") == {"kms:GetPublicKey"}
    schedule = template["Resources"]["DigestFunction"]["Properties"]["Events"]["Hourly"]["Properties"]["Schedule"]
    assert schedule.startswith("cron(") and schedule.split()[1] == "*"  # every hour


# -- the Activity Logs page: its bucket and the distribution that puts it beside the API ---------

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # passes the token on; Host would break API Gateway


def _distribution(template: dict) -> dict:
    return template["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"]


def _api_behaviours(template: dict) -> list[dict]:
    config = _distribution(template)
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    return [b for b in config["CacheBehaviors"] if _mentions(origins[b["TargetOriginId"]]["DomainName"], "HttpApi")]


def test_every_read_route_reaches_the_api_on_the_pages_own_origin(template):
    from fnmatch import fnmatchcase  # CloudFront's path patterns: * is any run of characters, ? one

    behaviours = _api_behaviours(template)
    reads = [path for method, path in EXPECTED_ROUTES if method == "GET"]
    assert len(reads) >= 3
    for path in reads:
        example = re.sub(r"\{[^}]+\}", "01JD5ZK3Q8X4N2M7B6V0C9T1R3", path)
        assert any(fnmatchcase(example, b["PathPattern"]) for b in behaviours), f"the page cannot call GET {path}"
    for behaviour in behaviours:  # never cached, every viewer header but Host passed on, HTTPS only
        assert behaviour["CachePolicyId"] == CACHING_DISABLED, behaviour
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST, behaviour
        assert behaviour["ViewerProtocolPolicy"] == "https-only", behaviour
    # The page only reads: no behaviour passes a route that needs activity:write (POST /exports
    # needs only the list's scopes, and CloudFront passes a POST only with every method).
    for route, scopes in ROUTE_SCOPES.items():
        method, path = route.split(" ", 1)
        example = re.sub(r"\{[^}]+\}", "01JD5ZK3Q8X4N2M7B6V0C9T1R3", path)
        passed = [b for b in behaviours if fnmatchcase(example, b["PathPattern"]) and method in b["AllowedMethods"]]
        assert not (passed and "activity:write" in scopes and "activity:read" not in scopes), f"the page's origin passes {route}"
    assert any(fnmatchcase("/exports", b["PathPattern"]) and "POST" in b["AllowedMethods"] for b in behaviours)  # Export CSV
    # Retry posts from the page too: its behaviour comes first, and passes that route alone.
    writable = [b for b in behaviours if "POST" in b["AllowedMethods"]]
    assert behaviours[0]["PathPattern"] == "/activities/*/retry" and behaviours[0] in writable
    posts = [re.sub(r"\{[^}]+\}", "01JD5ZK3Q8X4N2M7B6V0C9T1R3", path) for method, path in EXPECTED_ROUTES if method == "POST"]
    assert [p for p in posts if fnmatchcase(p, "/activities/*/retry")] == ["/activities/01JD5ZK3Q8X4N2M7B6V0C9T1R3/retry"]


def test_only_the_distribution_reads_the_page_bucket(template):
    bucket = template["Resources"]["WebBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    statements = _statements(template["Resources"]["WebBucketPolicy"]["Properties"]["PolicyDocument"])
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert _mentions(allow["Condition"]["StringEquals"]["AWS:SourceArn"], "WebDistribution")
    assert all(s["Effect"] == "Deny" for s in statements if s is not allow)
    config = _distribution(template)
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    page = origins[config["DefaultCacheBehavior"]["TargetOriginId"]]
    assert _mentions(page["DomainName"], "WebBucket") and _mentions(page["OriginAccessControlId"], "WebOriginAccessControl")
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


def test_the_local_stack_serves_the_folder_the_page_bucket_is_filled_from(template, transformed):
    from samlocal.site import Site

    site = Site.from_template(transformed, ROOT)
    folder = (ROOT / template["Resources"]["WebBucket"]["Metadata"]["SyncedFrom"]).resolve()
    assert site.folder == folder and (folder / _distribution(template)["DefaultRootObject"]).is_file()
    assert site.api_paths == tuple(b["PathPattern"] for b in _api_behaviours(template))


# -- the register of job types, as the README documents it -------------------------------------


def test_the_readmes_register_of_job_types_is_the_layers():
    from activitylog.jobtypes import JOB_TYPES

    section = (ROOT / "README.md").read_text().split("### The register of job types", 1)[1].split("\n\n| ", 1)[1]
    rows = [line.strip("|").split("|") for line in ("| " + section).split("\n\n", 1)[0].splitlines()[2:]]
    documented = {name.strip(): (label.strip(), retryable.strip(), stalls.strip()) for name, label, retryable, stalls in rows}
    assert set(documented) == set(JOB_TYPES)
    for name, job in JOB_TYPES.items():
        label, retryable, stalls = documented[name]
        assert label.startswith(job.label), name  # the README may say more after the label
        assert retryable.startswith("yes" if job.retryable else "no"), name
        assert stalls == f"{int(job.timeout.total_seconds() // 60)} min", name


def test_only_the_digest_functions_role_may_sign_with_the_digest_key(template):
    """Issue 18 item 4: administrators manage the key and cannot use it; nobody but the digest function signs."""
    statements = template["Resources"]["DigestSigningKey"]["Properties"]["KeyPolicy"]["Statement"]
    root = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    for statement in statements:
        actions = _as_list(statement["Action"])
        assert not any(action in ("*", "kms:*") or action.startswith("kms:Sign") for action in actions
                       if statement.get("Sid") != "OnlyTheDigestFunctionSigns"), statement
    (signing,) = [s for s in statements if "kms:Sign" in _as_list(s["Action"])]
    assert signing["Effect"] == "Allow" and _as_list(signing["Action"]) == ["kms:Sign"] and signing["Principal"] == {"AWS": root}
    assert signing["Condition"] == {"ArnLike": {"aws:PrincipalArn": {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-DigestFunctionRole-*"}}}
    administration = next(s for s in statements if s.get("Sid") == "KeyAdministration")
    assert {"kms:ScheduleKeyDeletion", "kms:Put*"} <= set(administration["Action"])  # Put*: CloudFormation updates its policy


# -- the service's own metrics ---------------------------------------------------------------------

# Every metric the code emits (namespace ActivityLog) is watched by an alarm, or says here why not.
# Watched: the metric names something lost or tampered with; one is already an incident. The value
# is the ``service`` dimension Powertools writes (the activity client's metrics carry its own).
WATCHED_METRICS = {
    "DeletedEntries": "activity-log",  # entries deleted outside their retention (the archive kept them)
    "DetailMissing": "activity-log",  # an entry's offloaded detail is gone from S3
    "ActivityEventsDropped": "activity-client",  # a producer's buffer overflowed: an event never reached the log
    "ActivityEventsRejected": "activity-client",  # a producer drafted an invalid entry: it was never sent
    "LateJobReports": "activity-log",  # a job report arrived after its entry finished, and was dropped
    "OrgsLeftForNextRun": "activity-log",  # the daily compaction ran out of time: the warm tier falls behind
}
UNWATCHED_METRICS = {
    # counts of work done, for dashboards
    "EntriesWritten": "work done", "EntriesUpdated": "work done", "EntriesListed": "work done", "EntriesRead": "work done",
    "ReadAmplification": "a cost figure (bench/ measures it)", "SupportLookups": "work done",
    "SupportLookupsFromArchive": "work done", "SupportProofs": "work done", "SupportArchiveQueries": "work done", "ExportsRequested": "work done", "ExportsDownloaded": "work done",
    "ExportRowsWritten": "work done", "JobsRetried": "work done", "BulkRetriesStarted": "work done", "WebhooksAccepted": "work done",
    "WebhookBodiesOffloaded": "work done", "WebhookEntriesWritten": "work done", "WebhookDuplicates": "redeliveries, expected",
    "DigestsWritten": "work done", "VersionsDigested": "work done", "ArchivedVersions": "work done",
    "ExpiredEntries": "work done", "ArchiveObjects": "work done",
    "OrgsCompacted": "work done", "EntriesCompacted": "work done", "WarmFilesWritten": "work done",
    "ActivityEventsBuffered": "the bus away for a while: kept and sent later; a loss is ActivityEventsDropped",
    # watched by an alarm on where the failure ends up
    "ExportsFailed": "ExportFailuresAlarm watches the export state machine's failed executions",
    "WebhookWritesFailed": "retried by the queue; what never succeeds reaches WebhookDeadLetters (WebhookDeadLettersDepthAlarm)",
    # the callers' doing, answered 4xx or shown in the log itself
    "RequestsRefused": "4xx answers to callers", "WebhooksRejected": "bad signatures, recorded as entries",
    "WebhooksForUnknownEndpoints": "deliveries to no org's endpoint: the sender's mistake",
    "WebhookRejectionsNotRecorded": "the rejection quota at work",
    "WebhookRejectionSummaries": "the quota's summary entries, in the org's own log (\"37 more rejected deliveries …\")",
    "JobsStalled": "a customer's job, marked WARNING in their log by the sweeper",
    "CatalogMissed": "the catalogue not updated (entries written): those uses go with the name's next write",
    }
METRIC_NAMES = re.compile(r'(?:add_metric\(\s*name=|single_metric\(\s*name=|_count\(\s*)"([A-Za-z]+)"|\(\s*"([A-Z][A-Za-z]+)",\s*done\.')


def emitted_metrics() -> set[str]:
    found = set()
    for path in [*(ROOT / "layers").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]:
        found |= {a or b for a, b in METRIC_NAMES.findall(path.read_text())}
    return found


def test_every_metric_the_code_emits_is_watched_or_says_why_not():
    emitted = emitted_metrics()
    assert {"DeletedEntries", "DetailMissing", "ActivityEventsDropped", "EntriesWritten", "ArchivedVersions"} <= emitted  # the scan works
    unlisted = sorted(emitted - set(WATCHED_METRICS) - set(UNWATCHED_METRICS))
    assert not unlisted, f"new metrics {unlisted}: add an alarm (WATCHED_METRICS) or say why none (UNWATCHED_METRICS)"


@pytest.mark.parametrize("metric", sorted(WATCHED_METRICS))
def test_an_alarm_notifies_the_first_time_a_watched_metric_counts(template, metric):
    watching = [alarm["Properties"] for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
                if alarm["Properties"].get("MetricName") == metric]
    assert len(watching) == 1, f"no alarm watches {metric}"
    alarm = watching[0]
    assert alarm["Namespace"] == "ActivityLog"
    # The dimensions exactly as Powertools writes them: an alarm on other dimensions watches nothing.
    assert alarm["Dimensions"] == [{"Name": "service", "Value": WATCHED_METRICS[metric]}]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == ("Sum", "GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching" and "AlarmTopicArn" in json.dumps(alarm["AlarmActions"])


def test_streams_have_their_own_lanes_secrets_and_alarms(transformed, template):
    resources = template["Resources"]
    lanes = resources["StreamDeliveries"]["Properties"]
    # One FIFO queue, a message group per stream: each destination an ordered lane of its own.
    assert lanes["FifoQueue"] is True and lanes["KmsMasterKeyId"] == {"Ref": "ServiceKey"}
    assert lanes["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["StreamDeliveriesDeadLetters", "Arn"]}
    assert resources["StreamDeliveriesDeadLetters"]["Properties"]["FifoQueue"] is True
    for name in ("StreamFanoutFunction", "StreamDeliveryFunction"):
        assert resources[name]["Properties"]["ReservedConcurrentExecutions"] > 0, name
    doorbells = resources["StreamDeliveryFunction"]["Properties"]["Events"]["Doorbells"]["Properties"]
    assert doorbells["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    changes = resources["StreamFanoutFunction"]["Properties"]["Events"]["Changes"]["Properties"]
    assert changes["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["StreamFanoutFailures", "Arn"]}
    # entries' new versions; besides them only the orgs' policy items, for the re-stamp (test_exactly_two_functions_...)
    entries = [f for f in changes["FilterCriteria"]["Filters"] if '"ty"' in f["Pattern"]]
    assert entries and all("INSERT" in f["Pattern"] for f in entries)
    assert [json.loads(f["Pattern"])["dynamodb"] for f in changes["FilterCriteria"]["Filters"] if f not in entries] == [
        {"Keys": {"sk": {"S": ["retention"]}}}]
    alarmed = {repr(r["Properties"].get("Dimensions")) for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"}
    for watched in ("StreamDeliveriesDeadLetters", "StreamFanoutFailures", "StreamFanoutFunction"):
        assert any(watched in dimensions for dimensions in alarmed), watched
    # The secrets: exactly the streams' names, read by delivery, written by settings; nobody else.
    names = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:activitylog/streams/*"}
    for function, actions in (("SettingsFunction", {"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue",
                                                    "secretsmanager:GetSecretValue", "secretsmanager:DeleteSecret"}),
                              ("StreamDeliveryFunction", {"secretsmanager:GetSecretValue"})):
        (statement,) = [st for st in _role_statements(transformed, function) if st.get("Sid") == "StreamSecrets"]
        assert set(_as_list(statement["Action"])) == actions and statement["Resource"] == names, function
    assert not any("secretsmanager:" in action for action in _all_actions(transformed, "StreamFanoutFunction"))


def test_exactly_two_functions_read_the_tables_stream_and_the_fanout_hands_policy_changes_to_retention(transformed, template):
    # DynamoDB Streams advises at most two readers a shard: the archive and the fan-out. The orgs' policy changes
    # reach the re-stamp through the fan-out and a FIFO queue (one lane an org), not as a third reader.
    resources = template["Resources"]
    readers = sorted(name for name, function in resources.items() if function["Type"] == "AWS::Serverless::Function"
                     for event in function["Properties"].get("Events", {}).values()
                     if event["Type"] == "DynamoDB" and event["Properties"]["Stream"] == {"Fn::GetAtt": ["ActivityTable", "StreamArn"]})
    assert readers == ["ArchiveFunction", "StreamFanoutFunction"]
    stream_mappings = sorted(name for name, r in transformed["Resources"].items() if r["Type"] == "AWS::Lambda::EventSourceMapping"
                             and r["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["ActivityTable", "StreamArn"]})
    assert stream_mappings == ["ArchiveFunctionChanges", "StreamFanoutFunctionChanges"]
    # The fan-out takes the policy items as well (the retention function's former pattern) and may only send them on.
    changes = resources["StreamFanoutFunction"]["Properties"]["Events"]["Changes"]["Properties"]
    patterns = [json.loads(f["Pattern"]) for f in changes["FilterCriteria"]["Filters"]]
    assert {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["retention"]}}}} in patterns
    assert resources["StreamFanoutFunction"]["Properties"]["Environment"]["Variables"]["RETENTION_QUEUE_URL"] == {"Ref": "RetentionChanges"}
    assert _granted(transformed, "StreamFanoutFunction", "RetentionChanges") == {"sqs:SendMessage"}
    assert not any(a.startswith("sqs:") and a != "sqs:SendMessage" for a in _all_actions(transformed, "StreamFanoutFunction"))
    # A FIFO queue under the service key, a FIFO dead-letter queue with an alarm; the re-stamp reads it, not the stream.
    queue = resources["RetentionChanges"]["Properties"]
    assert queue["FifoQueue"] is True and queue["KmsMasterKeyId"] == {"Ref": "ServiceKey"}
    assert queue["VisibilityTimeout"] >= 6 * resources["RetentionFunction"]["Properties"]["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["RetentionChangesDeadLetters", "Arn"]}
    dead = resources["RetentionChangesDeadLetters"]["Properties"]
    assert dead["FifoQueue"] is True and dead["KmsMasterKeyId"] == {"Ref": "ServiceKey"}
    assert any(r["Type"] == "AWS::CloudWatch::Alarm" and "RetentionChangesDeadLetters" in repr(r["Properties"].get("Dimensions"))
               for r in resources.values())
    (event,) = resources["RetentionFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["Queue"] == {"Fn::GetAtt": ["RetentionChanges", "Arn"]}
    assert event["Properties"]["BatchSize"] == 10 and event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    retention_role = transformed["Resources"]["RetentionFunctionRole"]["Properties"]
    assert not any("DynamoDB" in repr(arn) for arn in retention_role.get("ManagedPolicyArns", []))  # no stream read rights
    assert not any(a.startswith("dynamodb:") and "Stream" in a or a == "dynamodb:GetRecords"
                   for a in _all_actions(transformed, "RetentionFunction"))
    assert "RetentionFailures" not in resources  # the FIFO dead-letter queue took its place
