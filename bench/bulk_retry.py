"""Bulk retry of many failed jobs: time from confirm to all started, the peak of retries at once, none twice.

In-process, not through the local stack (whose in-process Lambda runtime and HTTP hops put ~1 s on each of
the Map's Lambda calls on this 2-core machine: 10,000 originals would take hours): DynamoDB Local for the
table and the idempotency table, moto for the platform bus, SQS and Step Functions, and moto's interpreter
running infra/statemachines/bulk_retry.asl.json itself, its Lambda tasks answered by functions/bulk_retry's
handler (a botocore ``before-call`` handler, as the local stack answers them). The bulk retry is asked for
through functions/retries' handler (preview, then confirm), as API Gateway would.

- confirm → all started: from the confirmed POST /retries to the progress item counting every original.
- peak concurrency: the most retry steps (each a job's run asked for) in flight at once, against the
  template's BulkRetryConcurrency (the Map's MaxConcurrency); the job handlers see runs at that pace at most.
- none twice: every RetryRequested on the bus (a rule to a queue), counted per original.
- baseline, same run: single retries one after another (functions/retry, the Retry button), a sample of them,
  their rate extrapolated to the same count.

    .venv/bin/python bench/bulk_retry.py --count 10000 --concurrency 5 --baseline 300
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from common import ORG, ROOT, local_table, log

SYSTEM = {"kind": "system", "id": "system", "name": "system"}
ASKER = {"org_id": ORG, "sub": "u_17", "scope": "activity:read activity:retry", "name": "Riley Park"}
WORKER = "arn:aws:lambda:us-east-1:123456789012:function:bulk-retry-worker"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="failed jobs the bulk retry retries")
    parser.add_argument("--concurrency", type=int, default=5, help="BulkRetryConcurrency (the Map's MaxConcurrency)")
    parser.add_argument("--baseline", type=int, default=300, help="single retries one after another (the baseline's sample)")
    return parser.parse_args()


def failures(count: int, job: str, now: datetime) -> list[dict]:
    return [{"type": "BACKGROUND_JOB", "status": "FAILED", "actor": SYSTEM, "action": "synced", "event": job,
             "entity": {"type": "integration", "id": f"int_square_{n % 50}", "label": "Square"},
             "metadata": {"job": job, "params": {"location_ids": [f"L{n}"]}},
             "error": {"message": "Square API returned 503", "type": "ApiException"},
             "occurred_at": (now - timedelta(minutes=30, milliseconds=n)).isoformat()} for n in range(count)]


class InFlight:
    """Retry steps running at once, and the most there ever were."""

    def __init__(self) -> None:
        self.lock, self.now, self.peak = threading.Lock(), 0, 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *_: object) -> None:
        with self.lock:
            self.now -= 1


def main() -> None:
    args = arguments()
    import os

    import boto3
    from botocore.response import StreamingBody
    from moto import mock_aws

    with local_table() as bench, mock_aws(config={"core": {"passthrough": {"services": ["dynamodb"]}},
                                                   "stepfunctions": {"execute_state_machine": True}}):
        from tests.support.kit import LambdaContext, api_event, load_handler_module

        from activitylog import wiring
        from activitylog.idempotency import WriteKey
        from activitylog.scopes import WRITE
        from activitylog.service import Caller
        from samlocal.template import create_table

        create_table(bench.client, "idempotency-bench", logical_id="IdempotencyTable")
        events, sqs = boto3.client("events", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        events.create_event_bus(Name="platform")
        queue = sqs.create_queue(QueueName="runs")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="runs", EventBusName="platform", EventPattern=json.dumps({"detail-type": ["RetryRequested"]}))
        events.put_targets(Rule="runs", EventBusName="platform", Targets=[{"Id": "runs", "Arn": queue_arn}])
        text = (ROOT / "infra/statemachines/bulk_retry.asl.json").read_text()
        text = text.replace("${WorkerArn}", WORKER).replace("${MaxConcurrency}", str(args.concurrency))
        machine = boto3.client("stepfunctions", region_name="us-east-1").create_state_machine(
            name="bulk-retry", definition=text, roleArn="arn:aws:iam::123456789012:role/bulk-retry")["stateMachineArn"]
        os.environ.update({"POWERTOOLS_METRICS_DISABLED": "true", "IDEMPOTENCY_TABLE": "idempotency-bench", "ACTIVITY_BUS_NAME": "platform",
                           "BULK_RETRY_STATE_MACHINE": machine})
        wiring.reset()
        service = wiring.container().service  # binds the models again: the idempotency table's too

        worker, in_flight = load_handler_module("BulkRetryWorkerFunction"), InFlight()

        class _Http:
            status_code, headers = 200, {}

        def capture(params, context, **_):
            context["bench_invoke"] = params

        def answer(model, params, context, **_):  # the Map's Lambda task, answered by the worker in-process
            call = context.get("bench_invoke")
            if call is None:
                return None
            payload = json.loads(call["Payload"])
            if payload["step"] == "retry":
                with in_flight:
                    result = worker.lambda_handler(payload, LambdaContext())
            else:
                result = worker.lambda_handler(payload, LambdaContext())
            body = json.dumps(result).encode()
            import io

            return _Http(), {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body)),
                             "ExecutedVersion": "$LATEST", "ResponseMetadata": {"HTTPStatusCode": 200}}

        session = boto3._get_default_session()
        session.events.register("before-parameter-build.lambda.Invoke", capture)
        session.events.register("before-call.lambda.Invoke", answer)

        now = datetime.now(timezone.utc)
        writer = Caller(ORG, "svc_bench", frozenset({WRITE}))
        started = time.monotonic()
        documents = failures(args.count + args.baseline, "SYNC_SQUARE_STOCK", now)
        seeded: list[str] = []
        for start in range(0, len(documents), 50):
            batch = documents[start:start + 50]
            key = WriteKey("POST /activities/batch", f"seed-{start}", batch)  # a retried batch writes what is missing
            for attempt in range(5):
                try:
                    results = service.record_batch(writer, batch, key=key)["results"]
                    break
                except Exception:  # noqa: BLE001 - DynamoDB Local slow on a loaded machine: the same batch again
                    if attempt == 4:
                        raise
                    time.sleep(1)
            assert {result["status"] for result in results} == {"accepted"}, results[:2]
            seeded += [result["id"] for result in results]
        log(f"seeded {len(documents):,} failed jobs in {time.monotonic() - started:.1f} s")

        # baseline: the Retry button, one original after another, on the oldest ones (the bulk retry's window
        # starts just after them)
        retry = load_handler_module("RetryFunction")
        sample = seeded[args.count:]
        cut = datetime.fromisoformat(documents[args.count]["occurred_at"])
        t0 = time.monotonic()
        for original in sample:
            reply = retry.lambda_handler(api_event("POST", f"/activities/{original}/retry", claims=ASKER), LambdaContext())
            assert reply["statusCode"] == 202, reply
        single = (time.monotonic() - t0) / max(1, len(sample))
        log(f"baseline: {len(sample)} single retries one after another, {single * 1000:.0f} ms each "
            f"({args.count:,} would take {single * args.count:.0f} s)")

        retries = load_handler_module("RetriesFunction")
        filters = {"type": ["BACKGROUND_JOB"], "status": ["FAILED"], "from": (cut + timedelta(milliseconds=1)).isoformat()}

        def post(body):
            reply = retries.lambda_handler(api_event("POST", "/retries", body=body, claims=ASKER), LambdaContext())
            return reply["statusCode"], json.loads(reply["body"])

        t0 = time.monotonic()
        status, preview = post({"filters": filters})
        preview_seconds = time.monotonic() - t0
        assert status == 200 and preview["retryable"] == args.count, preview
        log(f"preview: {preview['matched']:,} matched, {preview['retryable']:,} retryable in {preview_seconds:.1f} s")

        t0 = time.monotonic()
        status, bulk = post({"filters": preview["filters"], "confirm": True, "name": "bench"})
        assert status == 202, bulk
        progress = wiring.container().bulk_retries.progress
        while True:
            current = progress.read(ORG, bulk["id"])
            if current["started"] + current["failed"] + sum(current["skipped"].values()) >= args.count:
                break
            time.sleep(0.2)
        all_started = time.monotonic() - t0
        log(f"bulk: {current['started']:,} started, {current['failed']} failed, skipped {current['skipped']} "
            f"in {all_started:.1f} s; peak {in_flight.peak} retries at once (MaxConcurrency {args.concurrency})")

        # every run asked for, per original: the baseline's and the bulk retry's, none twice
        runs: Counter = Counter()
        while True:
            batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                runs[json.loads(message["Body"])["detail"]["retry_of"]] += 1
            sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                              for i, m in enumerate(batch)])
        twice = sum(1 for count in runs.values() if count > 1)
        log(f"runs asked for: {sum(runs.values()):,} for {len(runs):,} originals; retried twice: {twice}")
        result = {
            "bench": "bulk_retry", "where": "in-process: DynamoDB Local + moto (Step Functions interpreter on the ASL)",
            "count": args.count, "concurrency": args.concurrency, "preview_s": round(preview_seconds, 2),
            "confirm_to_all_started_s": round(all_started, 1), "per_second": round(args.count / all_started, 1),
            "peak_concurrency": in_flight.peak, "started": current["started"], "retried_twice": twice,
            "runs_asked": sum(runs.values()), "baseline_single_ms": round(single * 1000, 1),
            "baseline_sample": len(sample), "baseline_extrapolated_s": round(single * args.count, 1),
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
