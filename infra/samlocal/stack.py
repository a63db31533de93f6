"""A SAM template's stack on one machine, wired by the template itself.

``LocalStack`` starts DynamoDB Local, turns moto on in-process (DynamoDB passed
through), creates every resource the template declares under a local name, registers
the functions and their event sources, and serves the HTTP API.

>>> with LocalStack(StackOptions(port=0, in_memory=True)) as stack:
...     print(stack.url)

The template goes through SAM's own transform first (``template.transform``); what is
created for each resource type of the CloudFormation it produces:

- ``AWS::DynamoDB::Table``            a DynamoDB Local table (kept if it exists), its stream, and its
                                      Time to Live (DynamoDB Local never expires items: ``TimeToLive`` does)
- ``AWS::S3::Bucket``                 a moto bucket (versioning, Object Lock); objects kept in ``.local/s3`` as they are written
- ``AWS::SecretsManager::Secret``     a moto secret; a generated value is kept in ``.local``
- ``AWS::KMS::Key``                   SIGN_VERIFY: a local ECDSA P-256 key file in ``.local/kms`` (the functions sign with it); ENCRYPT_DECRYPT: a moto key kept there
- ``AWS::SQS::Queue``                 a moto queue with its redrive policy (DLQ); messages journaled in ``.local/sqs.jsonl``
- ``AWS::Events::Rule``/``EventBus``  moto rules; Lambda and state machine targets run here
- ``AWS::Scheduler::Schedule``        a schedule fired by the local scheduler
- ``AWS::Lambda::Function``           execution environments (processes) on demand, from its local code folder
- ``AWS::Lambda::EventSourceMapping`` an SQS queue or DynamoDB stream polled for its function
- ``AWS::ApiGatewayV2::Api``          the gateway: routes, JWT authorizers and CORS from its OpenAPI body
- ``AWS::CloudFront::Distribution``   the page: its bucket's ``SyncedFrom`` folder at ``/`` (``site``)
- ``AWS::Lambda::Url``                a function URL under ``/_local/url/{function}/``
- state machines                      moto's Step Functions interpreter, same definition
- ``AWS::SES::EmailIdentity``         a verified moto SES identity; mail goes to the outbox
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from samlocal import template as template_module
from samlocal.auth import DevKey, JwtAuthorizer
from samlocal.durable import DurableState
from samlocal.faults import Faults
from samlocal.dynamodb import ROOT, DynamoDBLocal, SetupError, local_aws_environment
from samlocal.gateway import API_ID, FUNCTION_URL_PREFIX, Cors, Gateway, routes_from_template
from samlocal.intrinsics import ACCOUNT, REGION, Intrinsics
from samlocal.endpoint import AwsEndpoint
from samlocal.lambdas import DEFAULT_CONCURRENCY, FunctionSpec, LambdaRuntime, function_arn, streaming_body
from samlocal.outbox import Outbox
from samlocal.server import serve
from samlocal.site import Site
from samlocal.sources import (
    AsyncInvoker,
    Checkpoints,
    QueueSource,
    Schedule,
    Scheduler,
    Expirations,
    StreamSource,
    Target,
    TimeToLive,
)

log = logging.getLogger("samlocal")

MOTO_CONFIG = {
    "core": {"passthrough": {"services": ["dynamodb"], "urls": [r"https?://(127\.0\.0\.1|localhost)(:\d+)?/.*"]}},
    "stepfunctions": {"execute_state_machine": True},
}
# Local defaults a function's own environment can still override.
LOCAL_FUNCTION_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true"}
LOCAL_KMS_DIR = "ACTIVITYLOG_LOCAL_KMS_DIR"  # where signing keys (AWS::KMS::Key) are key files, one per key id


# What the local stack creates or runs, and what has no local meaning (permissions, logs, alarms), as the
# template is written: a resource or event it leaves out is named in the author's words.
PROVISIONED = {
    "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret", "AWS::SQS::Queue", "AWS::Events::EventBus",
    "AWS::Events::Rule", "AWS::Scheduler::Schedule", "AWS::Serverless::Function", "AWS::Serverless::StateMachine",
    "AWS::StepFunctions::StateMachine", "AWS::Serverless::LayerVersion", "AWS::Serverless::HttpApi", "AWS::SES::EmailIdentity",
    "AWS::Lambda::EventSourceMapping", "AWS::CloudFront::Distribution", "AWS::KMS::Key",
}
NOTHING_TO_RUN = {
    "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::Lambda::Permission", "AWS::SQS::QueuePolicy",
    "AWS::S3::BucketPolicy", "AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard",
    "AWS::SES::ConfigurationSet", "AWS::KMS::Alias", "AWS::Scheduler::ScheduleGroup",
    "AWS::CloudFront::OriginAccessControl",
    # Athena reads the archive in AWS; here `activitylog archive query` does, with DuckDB.
    "AWS::Glue::Database", "AWS::Glue::Table", "AWS::Athena::WorkGroup",
}
FUNCTION_EVENTS = {"HttpApi", "SQS", "DynamoDB", "Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent"}


def unsupported(template: dict) -> list[str]:
    """Resources and function events the local stack would not run, e.g. ``Topic (AWS::SNS::Topic)``."""
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type", "")
        if kind not in PROVISIONED and kind not in NOTHING_TO_RUN:
            found.append(f"{logical_id} ({kind})")
        if kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
                if event.get("Type") not in FUNCTION_EVENTS:
                    found.append(f"{logical_id}.{event_name} (event {event.get('Type')})")
    return found


@dataclass
class StackOptions:
    template_path: Path = template_module.TEMPLATE
    data_dir: Path = ROOT / ".local"
    host: str = "127.0.0.1"
    port: int = 3000  # 0: any free port
    dynamodb_port: Optional[int] = None
    in_memory: bool = False  # DynamoDB Local in memory (tests); otherwise under data_dir/dynamodb
    dynamodb_endpoint: Optional[str] = None  # use a DynamoDB Local that is already running (tests)
    parameters: dict[str, str] = field(default_factory=dict)
    stack_name: str = "activitylog-local"
    poll_seconds: float = 0.5
    serve_http: bool = True
    concurrency: int = DEFAULT_CONCURRENCY  # execution environments per function without ReservedConcurrentExecutions
    ttl_sweep_seconds: float = 30.0  # how often expired items are deleted (AWS: within days)


class LocalStack:
    def __init__(self, options: Optional[StackOptions] = None) -> None:
        self.options = options or StackOptions()
        self.template_path = Path(self.options.template_path).resolve()
        self.sam = template_module.load(self.template_path)  # as written: what the local stack leaves out is named in its words
        self.template = template_module.transform(self.sam, self.options.parameters)  # as CloudFormation runs it
        self.intrinsics = Intrinsics(self.template, self.options.parameters, self.options.stack_name)
        self.dynamodb: Optional[DynamoDBLocal] = None
        self.runtime: Optional[LambdaRuntime] = None
        self.gateway: Optional[Gateway] = None
        self.site: Optional[Site] = None  # the page, when the template has a distribution for it
        self.server = None
        self.invoker: Optional[AsyncInvoker] = None
        self.scheduler: Optional[Scheduler] = None
        self.workers: list[Any] = []
        self.tables: dict[str, str] = {}  # logical id -> name
        self.buckets: dict[str, str] = {}
        self.queues: dict[str, dict] = {}  # logical id -> {url, arn, name}
        self.buses: dict[str, str] = {}  # logical id -> name
        self.state_machines: dict[str, str] = {}  # logical id -> arn
        self.layers: dict[str, Path] = {}  # ref (layer ARN) -> content dir
        self.outbox = Outbox(self.options.data_dir / "outbox")
        self.expirations = Expirations()  # TTL deletions, for the stream readers to mark
        self.faults = Faults(self.options.data_dir / "faults.json")  # DynamoDB refusing on purpose (POST /_local/faults)
        self.key = DevKey.load_or_create(self.options.data_dir)
        self._mock = None
        self.aws: Optional[AwsEndpoint] = None  # moto and Lambda Invoke over HTTP, for the execution environments
        self._saved_environment: dict[str, Optional[str]] = {}
        self._boto_handlers: list[tuple[str, Any]] = []
        self._restore_events = None
        self._own_dynamodb = False
        # Queued messages, objects and parameters on disk as they change (not with --in-memory).
        self.durable: Optional[DurableState] = None
        self.started_seconds: Optional[float] = None

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        port = self.server.server_address[1] if self.server else self.options.port
        return f"http://{self.options.host}:{port}"

    @property
    def issuer(self) -> str:
        return self.intrinsics.parameters.get("JwtIssuer", "https://auth.local/")

    @property
    def audience(self) -> str:
        return self.intrinsics.parameters.get("JwtAudience", "activity-log")

    def token(self, org: str, user: str, name: Optional[str] = None, scopes=("read", "write"), ttl_seconds: int = 12 * 3600,
              email: Optional[str] = None) -> str:
        return self.key.mint(org=org, user=user, name=name, email=email, scopes=scopes, issuer=self.issuer, audience=self.audience,
                             ttl_seconds=ttl_seconds)

    def start(self) -> "LocalStack":
        started = time.monotonic()
        if self.options.serve_http and self.options.port and _port_in_use(self.options.host, self.options.port):
            raise SetupError(f"port {self.options.port} is already in use: stop what runs there or choose another with --port")
        db_path = None if self.options.in_memory else self.options.data_dir / "dynamodb"
        self.dynamodb = DynamoDBLocal(self.options.dynamodb_port, db_path)
        try:
            if self.options.serve_http:  # bound first: the template's URLs (ApiEndpoint, FunctionUrl) need the port
                self.server = serve(self, self.options.host, self.options.port)
            if self.options.dynamodb_endpoint:
                self._own_dynamodb = False
                self.dynamodb.port = int(self.options.dynamodb_endpoint.rsplit(":", 1)[1])
            else:
                self._own_dynamodb = True
                self.dynamodb.start()
            self._environment(local_aws_environment(self.dynamodb.endpoint))
            from moto import mock_aws

            self._mock = mock_aws(config=MOTO_CONFIG)
            self._mock.start()
            if not self.options.in_memory:
                self.durable = DurableState(self.options.data_dir)
                self.durable.install()
            self.aws = AwsEndpoint(self._lambda_api).start()
            self.provision()
            self._wire()
        except BaseException:
            self.stop()
            raise
        self.started_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        for worker in reversed(self.workers):  # every source told first, then each awaited
            worker.request_stop()
        for worker in reversed(self.workers):
            worker.stop()
        self.workers = []
        if self.runtime:
            self.runtime.stop()
        if self.aws:
            self.aws.stop()
            self.aws = None
        if self.durable:
            self.durable.uninstall()
            self.durable = None
        if self._mock:
            try:
                self.outbox.sync()
            except Exception:  # noqa: BLE001 - stopping must not fail on the outbox
                log.exception("could not write the outbox")
            import boto3

            session = boto3._get_default_session()
            for event_name, handler in self._boto_handlers:
                session.events.unregister(event_name, handler)
            self._boto_handlers = []
            if self._restore_events:
                self._restore_events()
                self._restore_events = None
            self._mock.stop()
            self._mock = None
        if self.dynamodb:
            if self._own_dynamodb:
                self.dynamodb.stop()
            self.dynamodb = None
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environment = {}

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _environment(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_environment.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    # --- resources ------------------------------------------------------------------------

    def _name(self, logical_id: str, explicit: Any = None) -> str:
        return str(self.intrinsics.resolve(explicit)) if explicit else f"{self.options.stack_name}-{logical_id}"

    def provision(self) -> None:
        """Name every resource, then create them in dependency order."""
        for item in unsupported(self.sam):
            log.warning("the local stack does not run %s: it is left out", item)
        resources = self.template.get("Resources", {})
        for logical_id, resource in resources.items():
            self._register(logical_id, resource.get("Type", ""), resource.get("Properties") or {})
        import boto3

        self._ddb = boto3.client("dynamodb", endpoint_url=self.dynamodb.endpoint, region_name=REGION)
        for logical_id, resource in resources.items():
            kind, props = resource.get("Type"), resource.get("Properties") or {}
            if kind == "AWS::DynamoDB::Table":
                self._create_table(logical_id)
            elif kind == "AWS::S3::Bucket":
                self._create_bucket(logical_id, props)
            elif kind == "AWS::KMS::Key":
                self._create_key(logical_id, props)
            elif kind == "AWS::SecretsManager::Secret":
                self._create_secret(logical_id, props)
            elif kind == "AWS::SES::EmailIdentity":
                boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=self.intrinsics.resolve(props["EmailIdentity"]))
            elif kind == "AWS::Events::EventBus":
                boto3.client("events", region_name=REGION).create_event_bus(Name=self.intrinsics.ref(logical_id))
        self._create_queues({lid: r.get("Properties") or {} for lid, r in resources.items() if r.get("Type") == "AWS::SQS::Queue"})
        self.faults.clear()  # a plan left by an earlier run
        environment = {**LOCAL_FUNCTION_ENVIRONMENT, LOCAL_KMS_DIR: str(self.kms_dir)}
        self.runtime = LambdaRuntime(self._function_specs(), base_environment=environment, aws_endpoint=self.aws.url,
                                     concurrency=self.options.concurrency, faults=self.faults.path)
        self._verify_senders()
        for logical_id, resource in resources.items():
            if resource.get("Type") == "AWS::StepFunctions::StateMachine":
                self._create_state_machine(logical_id, resource["Type"], resource.get("Properties") or {})
        if self.durable:
            self.durable.restore(list(self.buckets.values()), [queue["name"] for queue in self.queues.values()])

    def _register(self, logical_id: str, kind: str, props: dict) -> None:
        register, resources = self.intrinsics.register, self.template["Resources"]
        if kind == "AWS::DynamoDB::Table":
            name = self._name(logical_id, props.get("TableName"))
            self.tables[logical_id] = name
            register(logical_id, name, Arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
        elif kind == "AWS::S3::Bucket":
            name = self._name(logical_id, props.get("BucketName")).lower()
            self.buckets[logical_id] = name
            register(logical_id, name, Arn=f"arn:aws:s3:::{name}", DomainName=f"{name}.s3.amazonaws.com",
                     RegionalDomainName=f"{name}.s3.{REGION}.amazonaws.com")
        elif kind == "AWS::SQS::Queue":
            name = self._name(logical_id, props.get("QueueName"))
            if props.get("FifoQueue") and not name.endswith(".fifo"):
                name += ".fifo"
            url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            self.queues[logical_id] = {"name": name, "url": url, "arn": arn}
            register(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)
        elif kind == "AWS::Lambda::Function":
            name = self._name(logical_id, props.get("FunctionName"))
            register(logical_id, name, Arn=function_arn(name))
        elif kind == "AWS::Lambda::Url":
            function = props["TargetFunctionArn"]["Ref"]
            arn = function_arn(self._name(function, resources[function]["Properties"].get("FunctionName")))
            register(logical_id, arn, FunctionUrl=f"{self.url}{FUNCTION_URL_PREFIX}{function}/", FunctionArn=arn)
        elif kind == "AWS::StepFunctions::StateMachine":
            name = self._name(logical_id, props.get("StateMachineName"))
            arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
            register(logical_id, arn, Arn=arn, Name=name)
        elif kind == "AWS::Lambda::LayerVersion":
            name = props.get("LayerName") or logical_id
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:1"
            folder = template_module.local_folder(props.get("Content") or {}, self.template_path.parent)
            if folder:
                self.layers[arn] = folder
            register(logical_id, arn, Arn=arn)
        elif kind == "AWS::ApiGatewayV2::Api":
            register(logical_id, API_ID, ApiEndpoint=self.url)
        elif kind == "AWS::CloudFront::Distribution":  # the local server is the distribution too
            register(logical_id, "local", DomainName=self.url.split("://", 1)[1], Id="local")
        elif kind == "AWS::Events::EventBus":
            name = self._name(logical_id, props.get("Name"))
            self.buses[logical_id] = name
            register(logical_id, name, Arn=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}", Name=name)
        elif kind == "AWS::Events::Rule":
            name = self._name(logical_id, props.get("Name"))
            register(logical_id, name, Arn=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}")
        elif kind == "AWS::SES::EmailIdentity":
            register(logical_id, props.get("EmailIdentity"))
        elif kind == "AWS::IAM::Role":
            name = self._name(logical_id, props.get("RoleName"))
            register(logical_id, name, Arn=f"arn:aws:iam::{ACCOUNT}:role/{name}")
        elif kind != "AWS::SecretsManager::Secret":  # secrets register once created (their ARN is moto's)
            register(logical_id, self._name(logical_id))

    def _create_table(self, logical_id: str) -> None:
        name = self.tables[logical_id]
        try:
            description = self._ddb.describe_table(TableName=name)["Table"]
        except self._ddb.exceptions.ResourceNotFoundException:
            template_module.create_table(self._ddb, name, self.template, logical_id)
            description = self._ddb.describe_table(TableName=name)["Table"]
        else:
            difference = _schema_difference(description, template_module.table_definition(self.template, logical_id))
            if difference:
                where = self.options.data_dir / "dynamodb"
                raise SetupError(f"table {name} in {where} was made from an older template.yaml ({difference}): "
                                 f"delete {where} (or run `make clean`) and start again")
        self.intrinsics.register(logical_id, name, Arn=description["TableArn"], StreamArn=description.get("LatestStreamArn"))

    def _create_bucket(self, logical_id: str, props: dict) -> None:
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        name = self.buckets[logical_id]
        locked = bool(props.get("ObjectLockEnabled"))
        s3.create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if locked else {}))
        if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if locked and props.get("ObjectLockConfiguration"):
            s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=self.intrinsics.resolve(props["ObjectLockConfiguration"]))

    @property
    def kms_dir(self) -> Path:
        return self.options.data_dir / "kms"

    def _create_key(self, logical_id: str, props: dict) -> None:
        """A signing key: a PEM file (P-256, PKCS8) named after its key id in ``.local/kms`` (``LOCAL_KMS_DIR``); an encryption key (the service key, which the functions call for data keys): a moto key, its id and material kept there."""
        self.kms_dir.mkdir(parents=True, exist_ok=True)
        if props.get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT":  # kept: a data key wrapped before a restart unwraps after
            import boto3, uuid  # noqa: E401
            from moto.kms.models import kms_backends
            kept = json.loads(path.read_text()) if (path := self.kms_dir / f"{logical_id}.json").exists() else {"id": str(uuid.uuid4()), "material": secrets.token_hex(32)}
            path.write_text(json.dumps(kept)), os.chmod(path, 0o600)
            kms_backends[ACCOUNT][REGION].keys[kept["id"]] = key = kms_backends[ACCOUNT][REGION].keys.pop(boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"])  # moto picks ids: filed under the kept one
            key.id, key.arn, key.key_material = kept["id"], f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{kept['id']}", bytes.fromhex(kept["material"])
            return self.intrinsics.register(logical_id, key.id, Arn=key.arn)
        if props.get("KeyUsage") != "SIGN_VERIFY":
            log.warning("%s: the local stack has signing and encryption keys only, not %s; it is left out", logical_id, props["KeyUsage"])
            return
        if props.get("KeySpec") != "ECC_NIST_P256":
            raise SetupError(f"{logical_id}: the local stack signs with ECC_NIST_P256 keys only, not {props.get('KeySpec')}")
        path = self.kms_dir / (re.sub(r"[^A-Za-z0-9_.-]", "_", self.intrinsics.ref(logical_id)) + ".pem")
        if not path.exists():  # kept across restarts: what it signed stays verifiable
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            path.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            os.chmod(path, 0o600)

    def _create_secret(self, logical_id: str, props: dict) -> None:
        import boto3

        name = self._name(logical_id, props.get("Name"))
        stored = self._stored_secrets()
        if props.get("SecretString"):
            value = str(self.intrinsics.resolve(props["SecretString"]))
        elif name in stored:
            value = stored[name]  # the same key after a restart: cursors already handed out stay valid
        else:
            value = _generate_secret(props.get("GenerateSecretString") or {})
            if not self.options.in_memory:
                stored[name] = value
                path = self.options.data_dir / "secrets.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(stored))
                os.chmod(path, 0o600)
        arn = boto3.client("secretsmanager", region_name=REGION).create_secret(Name=name, SecretString=value)["ARN"]
        self.intrinsics.register(logical_id, arn, Id=arn, Name=name)

    def _stored_secrets(self) -> dict[str, str]:
        path = self.options.data_dir / "secrets.json"
        if self.options.in_memory or not path.exists():
            return {}
        return json.loads(path.read_text())

    def _create_queues(self, queues: dict[str, dict]) -> None:
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        plain = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
                 "MaximumMessageSize", "FifoQueue", "ContentBasedDeduplication")
        for logical_id, props in queues.items():  # every queue first: a redrive policy names its DLQ by ARN
            attributes = {key: _attribute(self.intrinsics.resolve(props[key])) for key in plain if key in props}
            sqs.create_queue(QueueName=self.queues[logical_id]["name"], Attributes=attributes)
        for logical_id, props in queues.items():
            if props.get("RedrivePolicy"):
                policy = self.intrinsics.resolve(props["RedrivePolicy"])
                sqs.set_queue_attributes(QueueUrl=self.queues[logical_id]["url"],
                                         Attributes={"RedrivePolicy": policy if isinstance(policy, str) else json.dumps(policy)})

    def _function_specs(self) -> list[FunctionSpec]:
        """Every ``AWS::Lambda::Function``: SAM has merged Globals into each already."""
        specs = []
        for logical_id, resource in template_module.resources(self.template, "AWS::Lambda::Function").items():
            props = resource.get("Properties") or {}
            code_dir = template_module.local_folder(props.get("Code") or {}, self.template_path.parent)
            if code_dir is None:
                raise SetupError(f"{logical_id}: CodeUri must be a local folder for the local stack")
            variables = self.intrinsics.resolve((props.get("Environment") or {}).get("Variables") or {})
            layers = [self.layers[arn] for arn in self.intrinsics.resolve(props.get("Layers") or []) if arn in self.layers]
            reserved = props.get("ReservedConcurrentExecutions")
            specs.append(FunctionSpec(
                logical_id=logical_id,
                name=self.intrinsics.ref(logical_id),
                code_dir=code_dir,
                handler=props["Handler"],
                environment={key: _attribute(value) for key, value in variables.items()},
                layers=layers,
                timeout=int(self.intrinsics.resolve(props.get("Timeout", 3))),
                memory=int(self.intrinsics.resolve(props.get("MemorySize", 128))),
                # The events as written (describe() lists them); what they become is wired from the transformed resources.
                events=(self.sam["Resources"].get(logical_id, {}).get("Properties") or {}).get("Events") or {},
                reserved_concurrency=int(self.intrinsics.resolve(reserved)) if reserved else None,
            ))
        return specs

    def _verify_senders(self) -> None:
        """A sender named in a function's environment is the one its template verifies in SES."""
        import boto3

        ses = boto3.client("ses", region_name=REGION)
        for spec in self.runtime.specs.values():
            for value in spec.environment.values():
                if "@" in value and " " not in value and "." in value.split("@")[-1]:
                    ses.verify_email_identity(EmailAddress=value)

    def _create_state_machine(self, logical_id: str, kind: str, props: dict) -> None:
        import boto3

        definition_file = template_module.local_folder(props.get("DefinitionS3Location") or {}, self.template_path.parent)
        if definition_file:
            definition = yaml.safe_load(definition_file.read_text())
        elif props.get("Definition"):
            definition = self.intrinsics.resolve(props["Definition"])
        elif props.get("DefinitionString"):
            definition = json.loads(self.intrinsics.resolve(props["DefinitionString"]))
        else:
            raise SetupError(f"{logical_id}: the local stack needs Definition, DefinitionString or a local DefinitionUri")
        text = json.dumps(definition)
        for key, value in (self.intrinsics.resolve(props.get("DefinitionSubstitutions") or {})).items():
            text = text.replace("${" + key + "}", str(value))
        name = self.intrinsics.get_att(logical_id, "Name")
        extra = {"type": props["StateMachineType"]} if props.get("StateMachineType") in ("STANDARD", "EXPRESS") else {}
        arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name=name, definition=text, roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-local", **extra)["stateMachineArn"]
        self.state_machines[logical_id] = arn

    # --- wiring: routes, event sources, Lambda Invoke -------------------------------------

    def _wire(self) -> None:
        """Routes, authorizers and CORS from the API's OpenAPI body; event sources from the resources SAM made of each event."""
        routes, jwt_configs = routes_from_template(self.template, self.intrinsics.resolve)
        authorizers = {name: JwtAuthorizer(self.key, config.get("issuer") or self.issuer, _listed(config.get("audience") or self.audience))
                       for name, config in jwt_configs.items()}
        function_urls = {props["TargetFunctionArn"]["Ref"]: props.get("AuthType", "AWS_IAM")
                         for props in (r.get("Properties") or {} for r in template_module.resources(self.template, "AWS::Lambda::Url").values())}
        self.gateway = Gateway(routes, self.runtime, authorizers, function_urls=function_urls,
                               cors=Cors.from_template(self.template, self.intrinsics.resolve))
        self.site = Site.from_template(self.template, self.template_path.parent)
        self.invoker = AsyncInvoker(self.runtime)
        self.workers.append(self.invoker)
        self._register_lambda_invoke()
        self._route_event_targets()
        schedules: list[Schedule] = []
        checkpoints = Checkpoints(None if self.options.in_memory else self.options.data_dir / "stream-checkpoints.json")
        for logical_id, resource in self.template.get("Resources", {}).items():
            kind, raw = resource.get("Type"), resource.get("Properties") or {}
            if kind == "AWS::Events::Rule":
                self._events_rule(logical_id, self.intrinsics.resolve(raw), schedules)
            elif kind == "AWS::Scheduler::Schedule":
                props = self.intrinsics.resolve(raw)
                target = props.get("Target") or {}
                schedules.append(Schedule(self._name(logical_id, props.get("Name")), props["ScheduleExpression"],
                                          Target(target["Arn"], target.get("Input")), self._function_of(target["Arn"]),
                                          props.get("State", "ENABLED") == "ENABLED", kind="scheduler"))
            elif kind == "AWS::Lambda::EventSourceMapping":
                self._event_source_mapping(logical_id, self.intrinsics.resolve(raw), checkpoints)
        self._time_to_live()
        self.scheduler = Scheduler(self.runtime, self.invoker, schedules)
        self.workers.append(self.scheduler)
        for worker in self.workers:
            worker.start()

    def _function_of(self, arn: str) -> Optional[str]:
        if ":function:" not in arn:
            return None
        try:
            return self.runtime.find(arn).logical_id
        except KeyError:
            return None

    def _event_source_mapping(self, logical_id: str, props: dict, checkpoints: Checkpoints) -> None:
        """An SQS queue or a DynamoDB stream polled for its function (SAM's SQS and DynamoDB events)."""
        import boto3

        if props.get("Enabled", True) is False:
            return
        function = self.runtime.find(props["FunctionName"]).logical_id
        if ":sqs:" in props["EventSourceArn"]:
            for setting in ("MaximumBatchingWindowInSeconds", "ScalingConfig"):
                if props.get(setting):
                    log.warning("%s: %s is not honoured by the local stack", logical_id, setting)
            queue = next((q for q in self.queues.values() if q["arn"] == props["EventSourceArn"]), None)
            if queue is None:
                raise SetupError(f"{logical_id}: queue {props['EventSourceArn']} is not declared in the template")
            self.workers.append(QueueSource(self.runtime, function, queue["url"], queue["arn"], int(props.get("BatchSize", 10)),
                                            "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                                            poll_seconds=self.options.poll_seconds))
        else:
            for setting in ("MaximumRecordAgeInSeconds", "ParallelizationFactor", "TumblingWindowInSeconds"):
                if props.get(setting):
                    log.warning("%s: %s is not honoured by the local stack", logical_id, setting)
            destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            on_failure = None
            if destination and ":sqs:" in destination:
                queue = next((q for q in self.queues.values() if q["arn"] == destination), None)
                if queue is None:
                    raise SetupError(f"{logical_id}: on-failure queue {destination} is not declared in the template")

                def on_failure(record: dict, url: str = queue["url"]) -> None:
                    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=url, MessageBody=json.dumps(record))
            elif destination:
                log.warning("%s: the local stack sends on-failure records to SQS only, not to %s", logical_id, destination)
            self.workers.append(StreamSource(
                self.runtime, function, props["EventSourceArn"], self.dynamodb.endpoint, checkpoints,
                starting_position=props.get("StartingPosition", "LATEST"),
                batch_size=int(props.get("BatchSize", 100)),
                report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                bisect=bool(props.get("BisectBatchOnFunctionError")),
                filters=(props.get("FilterCriteria") or {}).get("Filters") or [],
                on_failure=on_failure,
                expirations=self.expirations,
                poll_seconds=self.options.poll_seconds,
            ))

    def _time_to_live(self) -> None:
        """A TTL worker per table that enables TTL (DynamoDB Local keeps expired items forever)."""
        for logical_id, name in self.tables.items():
            attribute = template_module.time_to_live_attribute(self.template, logical_id)
            if not attribute:
                continue
            stream = self.intrinsics.get_att(logical_id, "StreamArn")
            readers = sum(1 for worker in self.workers if isinstance(worker, StreamSource) and worker.stream_arn == stream)
            self.workers.append(TimeToLive(self.dynamodb.endpoint, name, attribute, self.expirations, readers,
                                           sweep_seconds=self.options.ttl_sweep_seconds))

    def _events_rule(self, logical_id: str, props: dict, schedules: list[Schedule]) -> None:
        import boto3

        name = self.intrinsics.ref(logical_id)
        enabled = props.get("State", "ENABLED") == "ENABLED"
        targets = props.get("Targets") or []
        if props.get("ScheduleExpression"):
            for target in targets:
                schedules.append(Schedule(name, props["ScheduleExpression"], Target(target["Arn"], target.get("Input"), target.get("InputPath")),
                                          self._function_of(target["Arn"]), enabled))
            return
        events = boto3.client("events", region_name=REGION)
        bus = props.get("EventBusName", "default")
        events.put_rule(Name=name, EventPattern=json.dumps(props["EventPattern"]), EventBusName=bus, State=props.get("State", "ENABLED"))
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)

    def _route_event_targets(self) -> None:
        """moto's EventBridge delivers to SQS itself; Lambda and state machine targets run here."""
        from moto.events import models

        original = getattr(models.Rule.send_to_targets, "_local_original", models.Rule.send_to_targets)
        invoker = self.invoker

        def runs_here(target: dict) -> bool:
            return ":lambda:" in target["Arn"] or ":states:" in target["Arn"]

        def send_to_targets(rule, event, transform_input=True):
            targets = rule.targets
            rule.targets = [t for t in targets if not runs_here(t)]  # moto refuses target kinds it lacks
            try:
                original(rule, event, transform_input)
            finally:
                rule.targets = targets
            if not rule.event_pattern.matches_event(event):
                return
            for target in targets:
                arn = target["Arn"]
                if not runs_here(target):
                    continue
                if target.get("InputTransformer"):
                    from moto.events.utils import EventTemplateParser

                    transformer = target["InputTransformer"]
                    payload = EventTemplateParser.parse(input_template=transformer.get("InputTemplate"),
                                                        input_paths_map=transformer.get("InputPathsMap", {}), event=event)
                else:
                    payload = Target(arn, target.get("Input"), target.get("InputPath")).event_for(event)
                invoker.submit(arn, payload)

        send_to_targets._local_original = original
        models.Rule.send_to_targets = send_to_targets
        self._restore_events = lambda: setattr(models.Rule, "send_to_targets", original)

    def _lambda_api(self, name: str, kind: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        """Lambda's Invoke API: (HTTP status, headers, body), for callers here and in the execution environments."""
        try:
            spec = self.runtime.find(name)
        except KeyError as error:
            return 404, {"x-amzn-ErrorType": "ResourceNotFoundException", "Content-Type": "application/json"}, \
                json.dumps({"Type": "User", "message": str(error).strip("'\"")}).encode()
        if kind == "DryRun":
            return 204, {}, b""
        if kind == "Event":
            self.invoker.submit(spec.arn, json.loads(payload or b"{}"))
            return 202, {}, b""
        data, error = self.runtime.invoke_payload(name, payload)
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        if error:
            headers["X-Amz-Function-Error"] = error
        return 200, headers, data

    def _register_lambda_invoke(self) -> None:
        """Answer ``lambda.Invoke`` from this process (moto's Step Functions, tests) without a round trip."""
        import boto3

        class _Http:
            def __init__(self, status_code: int) -> None:
                self.status_code = status_code
                self.headers: dict = {}

        def capture(params, context, **_):
            context["local_lambda_invoke"] = dict(params)

        def answer(model, params, context, **_):
            call = context.get("local_lambda_invoke")
            if call is None:
                return None
            payload = call.get("Payload") or b""
            if hasattr(payload, "read"):
                payload = payload.read()
            if isinstance(payload, str):
                payload = payload.encode()
            status, headers, body = self._lambda_api(call["FunctionName"], call.get("InvocationType", "RequestResponse"), payload)
            if status >= 400:
                return _Http(status), {"Error": {"Code": headers["x-amzn-ErrorType"], "Message": json.loads(body)["message"]},
                                       "ResponseMetadata": {"HTTPStatusCode": status}}
            parsed = {"StatusCode": status, "Payload": streaming_body(body), "ResponseMetadata": {"HTTPStatusCode": status}}
            if status == 200:
                parsed["ExecutedVersion"] = headers["X-Amz-Executed-Version"]
            if "X-Amz-Function-Error" in headers:
                parsed["FunctionError"] = headers["X-Amz-Function-Error"]
            return _Http(status), parsed

        session = boto3._get_default_session()
        for event_name, handler in (("before-parameter-build.lambda.Invoke", capture), ("before-call.lambda.Invoke", answer)):
            session.events.register(event_name, handler)
            self._boto_handlers.append((event_name, handler))

    # --- helpers for the CLI, the server and tests ----------------------------------------

    def invoke_http(self, method: str, path: str, token: Optional[str] = None, body: Any = None):
        """One request through the gateway without a socket (the seeder's write path)."""
        headers = [("host", "localhost"), ("user-agent", "activitylog-local")]
        data = b""
        if token:
            headers.append(("authorization", f"Bearer {token}"))
        if body is not None:
            data = json.dumps(body).encode()
            headers.append(("content-type", "application/json"))
        return self.gateway.handle(method, path, headers, data)

    def queue_url(self, name: str) -> str:
        for logical_id, queue in self.queues.items():
            if name in (logical_id, queue["name"], queue["url"], queue["arn"]):
                return queue["url"]
        raise KeyError(f"no queue {name!r} in the template (queues: {', '.join(sorted(self.queues)) or 'none'})")

    def dead_letter_queues(self) -> dict[str, str]:
        """Each dead-letter queue's logical id, and the queue whose redrive policy names it."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        found = {}
        for logical_id, queue in self.queues.items():
            policy = sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["RedrivePolicy"]).get("Attributes", {}).get("RedrivePolicy")
            if policy:
                target = json.loads(policy)["deadLetterTargetArn"]
                found[next(lid for lid, q in self.queues.items() if q["arn"] == target)] = logical_id
        return found

    def redrive(self, name: Optional[str] = None) -> dict:
        """Move what waits in a dead-letter queue (every one, without ``name``) back to the queue it serves,
        as SQS's redrive does: each message sent again (its receive count starts over) and deleted here.
        Only the messages there when it starts: one that fails again meanwhile stays for the next redrive."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        serves = self.dead_letter_queues()
        if name is not None:
            dead = next((lid for lid, q in self.queues.items() if name in (lid, q["name"], q["url"], q["arn"])), None)
            if dead is None:
                raise KeyError(f"no queue {name!r} in the template (queues: {', '.join(sorted(self.queues))})")
            if dead not in serves:
                raise KeyError(f"{dead} is no queue's dead-letter queue (dead-letter queues: {', '.join(sorted(serves)) or 'none'})")
            serves = {dead: serves[dead]}
        moved = {}
        for dead, source in serves.items():
            url, target = self.queues[dead]["url"], self.queues[source]["url"]
            waiting = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
            count = 0
            while count < waiting:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, waiting - count), MessageAttributeNames=["All"],
                                               VisibilityTimeout=60).get("Messages", [])
                if not messages:
                    break
                sqs.send_message_batch(QueueUrl=target, Entries=[
                    {"Id": str(i), "MessageBody": m["Body"], **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})}
                    for i, m in enumerate(messages)])
                sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
                count += len(messages)
            moved[dead] = {"to": source, "moved": count}
        return {"redriven": moved}

    def describe(self) -> dict:
        return {
            "url": self.url,
            "dynamodb": self.dynamodb.endpoint if self.dynamodb else None,
            "aws_endpoint": self.aws.url if self.aws else None,  # moto: S3, SQS, EventBridge, … as the functions reach them
            "tables": self.tables,
            "buckets": self.buckets,
            "queues": {lid: q["url"] for lid, q in self.queues.items()},
            "event_buses": self.buses,
            "state_machines": self.state_machines,
            "functions": {lid: {"name": s.name, "handler": s.handler, "events": sorted(s.events), "environment": s.environment,
                                "concurrency": self.runtime.pools[lid].limit, "environments": self.runtime.pools[lid].size}
                          for lid, s in self.runtime.specs.items()},
            "routes": [r.route_key for r in self.gateway.routes],
            "page": {"url": f"{self.url}/", "folder": str(self.site.folder), "api_paths": list(self.site.api_paths)} if self.site else None,
            "schedules": [{"name": s.name, "expression": s.expression, "function": s.function, "enabled": s.enabled}
                          for s in (self.scheduler.schedules if self.scheduler else [])],
        }


def _schema_difference(description: dict, definition: dict) -> Optional[str]:
    """What differs between a table's keys and indexes and the template's, or None."""
    if description["KeySchema"] != definition["KeySchema"]:
        return "its key schema differs"
    have = {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in description.get("GlobalSecondaryIndexes", [])}
    want = {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in definition.get("GlobalSecondaryIndexes", [])}
    for name in sorted(set(have) | set(want)):
        if name not in have:
            return f"index {name} is missing"
        if name not in want:
            return f"index {name} is no longer declared"
        keys, projection = have[name]
        if keys != want[name][0] or projection.get("ProjectionType") != want[name][1].get("ProjectionType") or \
                sorted(projection.get("NonKeyAttributes", [])) != sorted(want[name][1].get("NonKeyAttributes", [])):
            return f"index {name} differs"
    return None


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _attribute(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _generate_secret(spec: dict) -> str:
    length = int(spec.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    for excluded in spec.get("ExcludeCharacters", ""):
        alphabet = alphabet.replace(excluded, "")
    value = "".join(secrets.choice(alphabet) for _ in range(length))
    if spec.get("SecretStringTemplate") and spec.get("GenerateStringKey"):
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = value
        return json.dumps(document)
    return value


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False

