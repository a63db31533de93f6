"""Event sources, as template.yaml declares them, feeding the functions' execution environments.

- ``QueueSource``    an SQS event source mapping: polls the (moto) queue, invokes with
                     batches, deletes what succeeded (``ReportBatchItemFailures``), and
                     leaves failures to the queue's visibility timeout and redrive policy
                     (moto moves a message past ``maxReceiveCount`` to the DLQ).
- ``StreamSource``   a DynamoDB stream mapping: reads DynamoDB Local's streams API shard
                     by shard, retries from the first failed record, splits a failed batch
                     (``BisectBatchOnFunctionError``), honours ``MaximumRetryAttempts`` and
                     sends what it skips to ``DestinationConfig.OnFailure`` as Lambda does,
                     filters by ``FilterCriteria``, checkpoints.
- ``TimeToLive``     a table's TTL, which DynamoDB Local accepts but never runs: expired
                     items are deleted, and their REMOVE records carry the service's identity.
- ``Scheduler``      schedules (``rate``/``cron``/``at``) firing their targets on time;
                     ``run_now`` fires one on demand.
- ``AsyncInvoker``   EventBridge's (and Lambda's) asynchronous invocation: a queue and
                     two retries, as Lambda does for async events.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from samlocal.intrinsics import ACCOUNT, REGION
from samlocal.lambdas import FunctionError, LambdaRuntime
from samlocal.schedules import next_fire

log = logging.getLogger("samlocal.sources")


class _Worker:
    """A daemon thread with a stop event."""

    name = "source"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_safely, name=self.name, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the worker to end, without waiting for it (``stop`` waits)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run_safely(self) -> None:
        while not self._stop.is_set():
            try:
                self.run()
                return
            except Exception:  # noqa: BLE001 - keep the source alive; say what happened
                log.exception("%s failed; restarting in 1 s", self.name)
                self._stop.wait(1)

    def run(self) -> None:
        raise NotImplementedError


# --- SQS ----------------------------------------------------------------------------------


@dataclass
class QueueSource(_Worker):
    runtime: LambdaRuntime
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_failures: bool = False
    poll_seconds: float = 0.5

    def __post_init__(self) -> None:
        _Worker.__init__(self)
        self.name = f"sqs:{self.queue_arn.rsplit(':', 1)[-1]}->{self.function}"

    def run(self) -> None:
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        while not self._stop.is_set():
            if not self.poll_once(sqs):
                self._stop.wait(self.poll_seconds)

    def poll_once(self, sqs) -> int:
        """One receive-invoke-delete round; returns how many messages it delivered."""
        received = sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        event = {"Records": [sqs_record(m, self.queue_arn) for m in received]}
        try:
            result = self.runtime.invoke(self.function, event)
        except FunctionError as error:
            log.warning("%s: batch of %d failed (%s); the messages return after the visibility timeout",
                        self.name, len(received), error.document["errorMessage"])
            return len(received)
        failed: set[str] = set()
        if self.report_failures and isinstance(result, dict):
            failures = result.get("batchItemFailures") or []
            ids = {m["MessageId"] for m in received}
            for failure in failures:
                identifier = (failure or {}).get("itemIdentifier")
                if identifier not in ids:  # Lambda treats a bad identifier as a failed batch
                    log.warning("%s: batchItemFailures names %r, not in the batch: whole batch failed", self.name, identifier)
                    return len(received)
                failed.add(identifier)
        done = [m for m in received if m["MessageId"] not in failed]
        log.info("%s: %d delivered, %d reported failed", self.name, len(done), len(failed))
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])],
            )
        return len(received)

def sqs_record(message: dict, queue_arn: str) -> dict:
    """One record of the event Lambda's SQS event source sends, from a ReceiveMessage message."""
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


# --- DynamoDB stream -----------------------------------------------------------------------


class Checkpoints:
    """Last processed sequence number per (mapping, shard); on disk for ``make dev``."""

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.data: dict[str, str] = {}
        if path and path.exists():
            try:
                self.data = json.loads(path.read_text())
            except ValueError:
                self.data = {}

    def get(self, key: str) -> Optional[str]:
        return self.data.get(key)

    def set(self, key: str, sequence: str) -> None:
        with self._lock:
            self.data[key] = sequence
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                temporary = self.path.with_suffix(".tmp")
                temporary.write_text(json.dumps(self.data))
                temporary.replace(self.path)


@dataclass
class StreamSource(_Worker):
    runtime: LambdaRuntime
    function: str
    stream_arn: str
    endpoint: str  # DynamoDB Local
    checkpoints: Checkpoints
    starting_position: str = "LATEST"
    batch_size: int = 100
    report_failures: bool = False
    maximum_retry_attempts: int = -1
    bisect: bool = False  # BisectBatchOnFunctionError
    filters: list[dict] = field(default_factory=list)
    on_failure: Optional[Callable[[dict], None]] = None  # DestinationConfig.OnFailure: gets Lambda's invocation record
    expirations: Optional["Expirations"] = None  # deletions the local TTL made: their REMOVE records carry its identity
    poll_seconds: float = 0.5
    retry_seconds: float = 1.0

    def __post_init__(self) -> None:
        _Worker.__init__(self)
        self.name = f"stream->{self.function}"
        self._iterators: dict[str, Optional[str]] = {}
        self._latest: dict[str, bool] = {}  # shards read from LATEST with nothing processed yet
        self._started = datetime.now(timezone.utc)

    def run(self) -> None:
        import boto3

        streams = boto3.client("dynamodbstreams", endpoint_url=self.endpoint, region_name=REGION)
        last_describe = 0.0
        while not self._stop.is_set():
            if time.monotonic() - last_describe > 5:
                self._discover(streams)
                last_describe = time.monotonic()
            delivered = 0
            for shard_id in list(self._iterators):
                delivered += self._read_shard(streams, shard_id)
            if not delivered:
                self._stop.wait(self.poll_seconds)

    def _key(self, shard_id: str) -> str:
        return f"{self.function}|{self.stream_arn}|{shard_id}"

    def _discover(self, streams) -> None:
        shards, start = [], None
        while True:
            kwargs = {"StreamArn": self.stream_arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            description = streams.describe_stream(**kwargs)["StreamDescription"]
            shards += description.get("Shards", [])
            start = description.get("LastEvaluatedShardId")
            if not start:
                break
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._iterators:
                continue
            # Shards born after start are read from their start; the first ones from StartingPosition.
            self._iterators[shard_id] = self._iterator(streams, shard_id, latest=self.starting_position == "LATEST" and not self._iterators)

    def _iterator(self, streams, shard_id: str, latest: bool = False) -> str:
        checkpoint = self.checkpoints.get(self._key(shard_id))
        if checkpoint:
            kwargs = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": checkpoint}
        else:
            kwargs = {"ShardIteratorType": "LATEST" if latest or self._latest.get(shard_id) else "TRIM_HORIZON"}
        if kwargs["ShardIteratorType"] == "LATEST":
            self._latest[shard_id] = True
        try:
            return streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **kwargs)["ShardIterator"]
        except streams.exceptions.TrimmedDataAccessException:  # the checkpoint is older than the stream keeps
            log.warning("%s: shard %s: checkpoint trimmed; reading from the trim horizon", self.name, shard_id)
            return streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def _read_shard(self, streams, shard_id: str) -> int:
        iterator = self._iterators.get(shard_id)
        if not iterator:
            return 0
        try:
            response = streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
        except (streams.exceptions.TrimmedDataAccessException, streams.exceptions.ExpiredIteratorException) as error:
            # DynamoDB Local now and then refuses an iterator taken on a brand-new, empty shard;
            # and iterators expire after 15 minutes. Take a fresh one from where we are.
            log.warning("%s: shard %s: %s; taking a new iterator", self.name, shard_id, type(error).__name__)
            self._iterators[shard_id] = self._iterator(streams, shard_id)
            return 0
        records = response.get("Records", [])
        if records:
            self._deliver(shard_id, [self._record(r) for r in records])
        self._iterators[shard_id] = response.get("NextShardIterator")  # None: closed shard, done
        return len(records)

    def _record(self, record: dict) -> dict:
        return lambda_record(record, self.stream_arn, self.expirations)

    def _matches(self, record: dict) -> bool:
        if not self.filters:
            return True
        from moto.events.models import EventPattern

        return any(EventPattern.load(f["Pattern"]).matches_event(record) for f in self.filters)

    def _deliver(self, shard_id: str, records: list[dict]) -> None:
        """Invoke with the records in order, as Lambda's event source mapping does.

        A function error retries the batch, split in two first with ``BisectBatchOnFunctionError``
        (a split is not a retry); reported item failures retry from the first failed record. After
        ``MaximumRetryAttempts`` retries a batch is skipped and its position goes to the on-failure
        destination. The checkpoint moves past each batch done or skipped.
        """
        key = self._key(shard_id)
        last = records[-1]["dynamodb"]["SequenceNumber"]
        pending = [(_Batch([r for r in records if self._matches(r)]))]
        while pending and not self._stop.is_set():
            batch = pending.pop(0)
            if not batch.records:
                continue
            failed_at, error = self._invoke(batch.records)
            batch.invocations += 1
            if failed_at is None:
                log.info("%s: %d records delivered", self.name, len(batch.records))
                self.checkpoints.set(key, batch.records[-1]["dynamodb"]["SequenceNumber"])
                continue
            if error is not None and self.bisect and len(batch.records) > 1:
                half = len(batch.records) // 2
                log.warning("%s: batch of %d failed; retrying it as two halves (BisectBatchOnFunctionError)", self.name, len(batch.records))
                pending[:0] = [_Batch(batch.records[:half]), _Batch(batch.records[half:])]
                continue
            if failed_at:
                self.checkpoints.set(key, batch.records[failed_at - 1]["dynamodb"]["SequenceNumber"])
                batch = _Batch(batch.records[failed_at:], batch.retries, batch.invocations)
            batch.retries += 1
            if 0 <= self.maximum_retry_attempts < batch.retries:
                log.error("%s: %d records discarded after %d retries", self.name, len(batch.records), self.maximum_retry_attempts)
                if self.on_failure:
                    self.on_failure(self._invocation_record(shard_id, batch, error))
                self.checkpoints.set(key, batch.records[-1]["dynamodb"]["SequenceNumber"])
                continue
            self._stop.wait(min(self.retry_seconds * batch.retries, 10))
            pending.insert(0, batch)
        if not self._stop.is_set():
            self.checkpoints.set(key, last)

    def _invoke(self, batch: list[dict]) -> tuple[Optional[int], Optional[str]]:
        """(index of the first failed record or None, the function's error message or None)."""
        try:
            result = self.runtime.invoke(self.function, {"Records": batch})
        except FunctionError as error:
            log.warning("%s: batch of %d failed: %s", self.name, len(batch), error.document["errorMessage"])
            return 0, error.document.get("errorMessage") or "Unhandled"
        if self.report_failures and isinstance(result, dict) and result.get("batchItemFailures"):
            sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
            named = [(f or {}).get("itemIdentifier") for f in result["batchItemFailures"]]
            positions = [sequences.index(n) for n in named if n in sequences]
            return (min(positions) if len(positions) == len(named) else 0), None
        return None, None

    def _invocation_record(self, shard_id: str, batch: "_Batch", error: Optional[str]) -> dict:
        """What Lambda sends an on-failure destination for a skipped stream batch: where the records are, not the records."""
        first, last = batch.records[0]["dynamodb"], batch.records[-1]["dynamodb"]
        response = {"statusCode": 200, "executedVersion": "$LATEST"}
        if error is not None:
            response["functionError"] = "Unhandled"
        return {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.runtime.find(self.function).arn,
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": batch.invocations},
            "responseContext": response,
            "version": "1.0",
            "timestamp": _iso(datetime.now(timezone.utc)),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(datetime.fromtimestamp(first.get("ApproximateCreationDateTime", 0), timezone.utc)),
                "approximateArrivalOfLastRecord": _iso(datetime.fromtimestamp(last.get("ApproximateCreationDateTime", 0), timezone.utc)),
                "batchSize": len(batch.records),
                "streamArn": self.stream_arn,
            },
        }


@dataclass
class _Batch:
    records: list[dict]
    retries: int = 0
    invocations: int = 0


# What a stream record of a deletion by Time to Live carries (DynamoDB Streams' Record.userIdentity).
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def lambda_record(record: dict, stream_arn: str, expirations: Optional["Expirations"] = None) -> dict:
    """A record of DynamoDB Local's GetRecords as Lambda delivers it: JSON, times in epoch seconds,
    binary values in base64, and a deletion by the table's TTL marked with the service's identity."""
    record = json.loads(json.dumps(record, default=_as_lambda_json))
    record["eventSourceARN"] = stream_arn
    if record.get("eventName") == "REMOVE" and expirations and \
            expirations.claim(_table_of(stream_arn), record["dynamodb"].get("Keys") or {}):
        record["userIdentity"] = dict(TTL_IDENTITY)
    return record


def _table_of(stream_arn: str) -> str:
    return stream_arn.split(":table/", 1)[-1].split("/stream/", 1)[0]


def _as_lambda_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return str(value)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Expirations:
    """The keys the local Time to Live deleted, until their REMOVE record has been marked.

    DynamoDB Local accepts a TTL setting but never deletes: ``TimeToLive`` does, and tells
    the stream readers which REMOVE records are its own (AWS marks them ``TTL_IDENTITY``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], int] = {}  # (table, key) -> stream readers still to see it

    def add(self, table: str, key: dict, readers: int) -> None:
        if readers:
            with self._lock:
                self._keys[(table, _canonical(key))] = readers

    def discard(self, table: str, key: dict) -> None:
        with self._lock:
            self._keys.pop((table, _canonical(key)), None)

    def claim(self, table: str, key: dict) -> bool:
        with self._lock:
            name = (table, _canonical(key))
            left = self._keys.get(name)
            if left is None:
                return False
            if left <= 1:
                del self._keys[name]
            else:
                self._keys[name] = left - 1
            return True


def _canonical(key: dict) -> str:
    return json.dumps(key, sort_keys=True, default=_as_lambda_json)


class TimeToLive(_Worker):
    """A table's Time to Live, which DynamoDB Local does not run: every ``sweep_seconds`` it deletes
    the items whose TTL attribute (epoch seconds) has passed, each only if it is still expired, and
    leaves alone values more than five years old, as DynamoDB does. AWS deletes within days; this
    within a sweep."""

    FIVE_YEARS = 5 * 365 * 86400

    def __init__(self, endpoint: str, table: str, attribute: str, expirations: Expirations, readers: int,
                 sweep_seconds: float = 30.0) -> None:
        super().__init__()
        self.name = f"ttl:{table}"
        self.endpoint, self.table, self.attribute = endpoint, table, attribute
        self.expirations, self.readers, self.sweep_seconds = expirations, readers, sweep_seconds

    def run(self) -> None:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=self.endpoint, region_name=REGION)
        key_names = [k["AttributeName"] for k in client.describe_table(TableName=self.table)["Table"]["KeySchema"]]
        while not self._stop.wait(self.sweep_seconds):
            self.sweep(client, key_names)

    def sweep(self, client, key_names: list[str]) -> int:
        now = int(time.time())
        names = {"#ttl": self.attribute, **{f"#k{i}": name for i, name in enumerate(key_names)}}
        expired = {":now": {"N": str(now)}, ":oldest": {"N": str(now - self.FIVE_YEARS)}}
        deleted, start = 0, None
        while True:
            kwargs = {"ExclusiveStartKey": start} if start else {}
            page = client.scan(TableName=self.table, FilterExpression="#ttl < :now AND #ttl >= :oldest",
                               ProjectionExpression=", ".join(f"#k{i}" for i in range(len(key_names))),
                               ExpressionAttributeNames=names, ExpressionAttributeValues=expired, **kwargs)
            for item in page.get("Items", []):
                key = {name: item[name] for name in key_names}
                self.expirations.add(self.table, key, self.readers)  # before the delete: a reader may see it at once
                try:
                    client.delete_item(TableName=self.table, Key=key, ConditionExpression="#ttl < :now",
                                       ExpressionAttributeNames={"#ttl": self.attribute}, ExpressionAttributeValues={":now": {"N": str(now)}})
                    deleted += 1
                except client.exceptions.ConditionalCheckFailedException:  # renewed meanwhile
                    self.expirations.discard(self.table, key)
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        if deleted:
            log.info("%s: %d expired items deleted", self.name, deleted)
        return deleted


# --- async invocation and schedules --------------------------------------------------------


@dataclass
class Target:
    """Where an EventBridge rule or schedule sends its event: a function or a state machine."""

    arn: str
    input: Optional[str] = None  # a fixed JSON document
    input_path: Optional[str] = None

    def event_for(self, event: dict) -> Any:
        if self.input is not None:
            return json.loads(self.input)
        if self.input_path:
            value: Any = event
            for part in self.input_path.lstrip("$").strip(".").split("."):
                if part:
                    value = (value or {}).get(part)
            return value
        return event


class AsyncInvoker(_Worker):
    """Asynchronous invocation: queued, retried twice on error (Lambda's default for async)."""

    name = "async-invoke"

    def __init__(self, runtime: LambdaRuntime, retries: int = 2, retry_seconds: float = 1.0) -> None:
        super().__init__()
        self.runtime = runtime
        self.retries = retries
        self.retry_seconds = retry_seconds
        self.queue: "queue.Queue[tuple[str, Any, int]]" = queue.Queue()

    def submit(self, target_arn: str, event: Any) -> None:
        if ":states:" in target_arn:
            import boto3

            boto3.client("stepfunctions", region_name=REGION).start_execution(stateMachineArn=target_arn, input=json.dumps(event))
            return
        self.queue.put((target_arn, event, 0))

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                target, event, attempt = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.runtime.invoke(target, event)
            except FunctionError as error:
                if attempt < self.retries:
                    log.warning("%s failed (%s); retry %d of %d", target, error.document["errorMessage"], attempt + 1, self.retries)
                    self._stop.wait(self.retry_seconds)
                    self.queue.put((target, event, attempt + 1))
                else:
                    log.error("%s failed %d times; event dropped: %s", target, attempt + 1, error.document["errorMessage"])
            except KeyError as error:
                log.error("%s", error)


@dataclass
class Schedule:
    name: str  # the rule or schedule name
    expression: str
    target: Target
    function: Optional[str] = None  # logical id, when the target is a function
    enabled: bool = True
    kind: str = "rule"  # "rule" (EventBridge rule) or "scheduler" (EventBridge Scheduler)

    def event(self, when: datetime) -> Any:
        if self.kind == "scheduler":
            return json.loads(self.target.input) if self.target.input else {}
        return self.target.event_for({
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.name}"],
            "detail": {},
        })


class Scheduler(_Worker):
    name = "scheduler"

    def __init__(self, runtime: LambdaRuntime, invoker: AsyncInvoker, schedules: list[Schedule]) -> None:
        super().__init__()
        self.runtime = runtime
        self.invoker = invoker
        self.schedules = schedules
        self.fired: list[tuple[str, datetime]] = []

    def run(self) -> None:
        now = datetime.now(timezone.utc)
        # By position: one rule with several targets is several schedules of one name.
        upcoming = {index: next_fire(s.expression, now) for index, s in enumerate(self.schedules) if s.enabled}
        while not self._stop.is_set():
            now = datetime.now(timezone.utc)
            for index, schedule in enumerate(self.schedules):
                when = upcoming.get(index)
                if when and when <= now:
                    self.fired.append((schedule.name, when))
                    log.info("schedule %s (%s) fired for %s", schedule.name, schedule.expression, schedule.target.arn)
                    self.invoker.submit(schedule.target.arn, schedule.event(when))
                    upcoming[index] = next_fire(schedule.expression, when)
            pending = [w for w in upcoming.values() if w]
            wait = (min(pending) - datetime.now(timezone.utc)).total_seconds() if pending else 60
            self._stop.wait(max(0.05, min(wait, 1.0)))

    def for_function(self, function: str) -> list[Schedule]:
        spec = self.runtime.find(function)
        return [s for s in self.schedules if s.function == spec.logical_id]

    def run_now(self, function: str, event: Any = None) -> Any:
        """Invoke a function now, synchronously, with its schedule's event (or ``event``)."""
        spec = self.runtime.find(function)
        if event is None:
            schedules = self.for_function(spec.logical_id)
            event = schedules[0].event(datetime.now(timezone.utc)) if schedules else {}
        return self.runtime.invoke(spec.logical_id, event)
