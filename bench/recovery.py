"""Missed-webhook recovery benchmark: how long a window of N missed Stripe events takes to preview and record.

Run by hand, never by ``make test``. On DynamoDB Local (the table from template.yaml), with moto's SSM
for the org's API key and the local fake of Stripe's List Events (tests/support/provider_api.py, a real
HTTP server on 127.0.0.1, 100 events a page): ``--events`` failed deliveries in one window, then

- baseline: listing them alone (Stripe's library paging the fake), and the ingest function's way of
  writing the same events (``record_events`` in batches of 10, one SQS batch each);
- ``preview``: list + one consistent BatchGetItem of markers per 100 events;
- ``record``: preview + the entries and their markers written (50 events a transaction) + the recovery's entry;
- ``replay``: the same recovery again (every event found recorded, nothing written).

This decides whether a recovery answers within the HTTP API's 30 s or needs a background run:
``activitylog.webhooks.recovery.MAX_EVENTS`` is set from it. The last line is one JSON object.

    .venv/bin/python bench/recovery.py                  # 1,000 events, about 30 s with DynamoDB Local's start
    .venv/bin/python bench/recovery.py --events 3000
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timedelta, timezone

from common import local_table, log  # noqa: E402

ORG = "org_bench_recovery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()

    import boto3
    from moto import mock_aws

    from activitylog.service import Caller
    from activitylog.webhooks.recovery import MAX_EVENTS, Recovery
    from activitylog.webhooks.secrets import ProviderKeys
    from tests.support.faults import MOTO
    from tests.support.kit import provider_event
    from tests.support.provider_api import ProviderApi

    now = datetime.now(timezone.utc)
    admin = Caller(ORG, "u_bench", frozenset({"activity:admin"}), name="Bench")
    window = {"from": (now - timedelta(hours=3)).isoformat(), "to": now.isoformat()}
    with local_table() as bench, mock_aws(config=MOTO), ProviderApi() as api:
        boto3.client("ssm").put_parameter(Name=f"/bench/keys/{ORG}/stripe", Value="rk_test_bench", Type="SecureString")
        events = [
            provider_event("stripe", f"evt_bench_{n:06}", "payment_intent.payment_failed", now - timedelta(seconds=5 + n))
            for n in range(args.events)
        ]
        for event in events:
            api.add("rk_test_bench", "stripe", event, delivered=False)
        recovery = Recovery(bench.service, ProviderKeys("/bench/keys"), {"stripe": api.base})

        from activitylog.webhooks.providers import PROVIDERS

        started = time.perf_counter()
        listed = list(PROVIDERS["stripe"].missed_events("rk_test_bench", now - timedelta(hours=3), now, api.base))
        list_s = time.perf_counter() - started
        assert len(listed) == args.events

        started = time.perf_counter()
        preview = recovery.run(admin, "stripe", window | {"preview": True})
        preview_s = time.perf_counter() - started
        started = time.perf_counter()
        answer = recovery.run(admin, "stripe", window)
        record_s = time.perf_counter() - started
        started = time.perf_counter()
        replay = recovery.run(admin, "stripe", window)
        replay_s = time.perf_counter() - started
        assert preview["missing"] == answer["recorded"] == args.events and replay["recorded"] == 0

        # Baseline: the ingest function's way, the same mapping in SQS batches of 10, for another org.
        from activitylog.inputs import NewEntry
        from activitylog.webhooks.mapping import entry_document, redacted_request

        stripe = PROVIDERS["stripe"]
        documents = []
        for event in events:
            body = json.dumps(event).encode()
            documents.append(NewEntry.model_validate(
                entry_document(stripe, event, stripe.read(event), redacted_request({}, body, "https://x"), now)))
        started = time.perf_counter()
        for n in range(0, len(documents), 10):
            bench.service.record_events("org_bench_ingest", documents[n : n + 10], recorded_by="webhooks")
        ingest_s = time.perf_counter() - started

    result = {
        "bench": "recovery",
        "events": args.events,
        "list_s": round(list_s, 2),
        "preview_s": round(preview_s, 2),
        "record_s": round(record_s, 2),
        "replay_s": round(replay_s, 2),
        "baseline_ingest_batches_of_10_s": round(ingest_s, 2),
        "record_events_per_s": round(args.events / record_s, 1),
        "max_events": MAX_EVENTS,
        "max_events_s_estimate": round(MAX_EVENTS * record_s / args.events, 1),
    }
    log(f"{args.events} missed events: listed {list_s:.2f} s, preview {preview_s:.2f} s, record {record_s:.2f} s, "
        f"replay {replay_s:.2f} s (ingest's batches of 10: {ingest_s:.2f} s)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
