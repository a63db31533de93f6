"""Webhook benchmark: signed deliveries acknowledged per second end to end, and ingest writes per second.

Run by hand (``make bench``), never by ``make test``. Two parts, each against a baseline
measured in the same run:

1. **End to end on the local stack** (``activitylog serve --in-memory`` as a subprocess, as
   ``make dev`` runs it): ``--deliveries`` signed deliveries (every registered provider's, each
   signed as its provider signs, from the test kit) sent by ``--clients`` threads at once:
   deliveries acknowledged per second and p50/p95 acknowledgement latency, then the time until
   every one is an entry (each exactly once, checked). Baseline: the same number of entries
   recorded synchronously through ``POST /activities`` by the same clients.
2. **The ingest function's writes** (``activitylog.webhooks.ingest.Ingest`` in this process, on
   DynamoDB Local): ``--messages`` queued deliveries in SQS batches of 10, each batch's entries
   written together (one conditional transaction), against one conditional write per entry.

The last line is one JSON object: ``webhooks_per_s``, ``ack_p95_ms``, ``ingest_entries_per_s``,
``ingest_batch_speedup`` and the other figures.

    .venv/bin/python bench/webhooks.py                      # about 3 minutes on 2 cores
    .venv/bin/python bench/webhooks.py --deliveries 300 --messages 500   # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import ROOT, local_table, log, percentile  # noqa: E402

from tests.support.kit import HttpClient, provider_event, signed_delivery  # noqa: E402


def _registered():
    from activitylog.webhooks.providers import PROVIDERS

    return PROVIDERS


ORG = "org_bench_hooks"
SHARE = {"stripe": 0.6, "fedex": 0.25, "square": 0.15}  # of the traffic; any other registered provider gets DEFAULT_SHARE
DEFAULT_SHARE = 0.1
PROVIDERS = _registered()  # every registered provider, its secret made as the provider makes one
SECRETS = {name: provider.new_secret() for name, provider in PROVIDERS.items()}
MIX = [(name, SHARE.get(name, DEFAULT_SHARE), provider.sample_types) for name, provider in PROVIDERS.items()]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=1500, help="signed deliveries sent to the local stack")
    parser.add_argument("--clients", type=int, default=8, help="threads sending at once")
    parser.add_argument("--messages", type=int, default=3000, help="queued deliveries the ingest writes, per mode")
    parser.add_argument("--seed", type=int, default=20261127)
    return parser.parse_args()


def events(rng: random.Random, count: int, now: datetime) -> list[tuple[str, dict]]:
    """(provider, event) pairs of the benchmark's mix, each a distinct event of the last hour."""
    made = []
    for n in range(count):
        provider, _, types = rng.choices(MIX, weights=[w for _, w, _ in MIX])[0]
        when = now - timedelta(seconds=rng.randint(1, 3600), milliseconds=n)
        made.append((provider, provider_event(provider, f"bench_{n}_{uuid.uuid4().hex[:10]}", rng.choice(types), when)))
    return made


# --- 1. end to end on the local stack -----------------------------------------------------------------


class Stack:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process = subprocess.Popen(
            [sys.executable, "-m", "activitylog_local.cli", "--data-dir", str(folder), "serve", "--port", "0", "--in-memory",
             "--no-seed", "--poll-seconds", "0.1"],
            stdout=open(folder / "serve.log", "wb"), stderr=subprocess.STDOUT, cwd=ROOT,  # noqa: SIM115
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        started = time.monotonic()
        while not (folder / "stack.json").exists():
            if self.process.poll() is not None or time.monotonic() - started > 300:
                raise RuntimeError(f"activitylog serve did not start:\n{(folder / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.1)
        state = json.loads((folder / "stack.json").read_text())
        self.url = state["url"]
        for provider, secret in SECRETS.items():
            self.cli("secrets", "set", "--org", ORG, "--provider", provider, "--value", secret)

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "activitylog_local.cli", "--data-dir", str(self.folder), *args],
                              capture_output=True, text=True, cwd=ROOT, check=True)
        return done.stdout.strip()

    def token(self, scope: str) -> str:
        return self.cli("token", "--org", ORG, "--user", "svc_bench", "--scope", scope)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def send_all(requests: list, clients: int) -> tuple[float, list[float], list[int]]:
    """Send every (method, path, body, headers) from ``clients`` threads; wall seconds, latencies (ms), statuses."""
    latencies: list[float] = [0.0] * len(requests)
    statuses: list[int] = [0] * len(requests)
    local = threading.local()

    def send(index: int) -> None:
        if not hasattr(local, "client"):
            local.client = HttpClient(STACK_URL)
        method, path, body, headers = requests[index]
        started = time.perf_counter()
        statuses[index] = local.client.send(method, path, body, headers)[0]
        latencies[index] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(len(requests))))
    return time.perf_counter() - started, latencies, statuses


def count_entries(stack: Stack, reader: str, type_: str, since: datetime) -> int:
    client, total, cursor = HttpClient(stack.url, reader), 0, None
    while True:
        query = f"/activities?type={type_}&from={since.strftime('%Y-%m-%dT%H:%M:%SZ')}&limit=200" + (f"&cursor={cursor}" if cursor else "")
        status, page = client.request("GET", query)
        if status != 200:
            raise RuntimeError(f"GET /activities answered {status}: {page}")
        total += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return total


STACK_URL = ""


def end_to_end(args: argparse.Namespace, rng: random.Random) -> dict:
    global STACK_URL
    with tempfile.TemporaryDirectory() as folder:
        stack = Stack(Path(folder))
        STACK_URL = stack.url
        try:
            now = datetime.now(timezone.utc)
            since = now - timedelta(hours=2)
            reader = stack.token("read")

            def signed(pairs):
                made = []
                for provider, event in pairs:
                    path = f"/webhooks/{provider}/{ORG}"
                    body, headers = signed_delivery(provider, SECRETS[provider], event, stack.url + path)
                    made.append(("POST", path, body, headers))
                return made

            warm = signed(events(rng, 40, now))  # every environment started and warm before timing
            send_all(warm, args.clients)
            deliveries = signed(events(rng, args.deliveries, now))
            log(f"1. end to end: {args.deliveries} signed deliveries ({', '.join(f'{n} {round(w * 100)}%' for n, w, _ in MIX)}) "
                f"from {args.clients} clients …")
            started = time.perf_counter()
            seconds, latencies, statuses = send_all(deliveries, args.clients)
            bad = [s for s in statuses if s != 200]
            if bad:
                raise RuntimeError(f"{len(bad)} deliveries were not acknowledged: {sorted(set(bad))}")
            expected = args.deliveries + len(warm)
            # Drained: the ingest deletes a message only once its entry is written (cheap to ask, unlike listing).
            while (lambda q: q["visible"] + q["in_flight"])(HttpClient(stack.url).request("GET", "/_local/queues/WebhookQueue")[1]):
                if time.perf_counter() - started > 900:
                    raise RuntimeError("the deliveries were not all recorded within 15 minutes")
                time.sleep(0.25)
            recorded_seconds = time.perf_counter() - started
            recorded = count_entries(stack, reader, "WEBHOOK", since)
            dead = HttpClient(stack.url).request("GET", "/_local/queues/WebhookDeadLetters")[1]["visible"]

            writer = stack.token("write")
            documents = [("POST", "/activities", json.dumps({
                "type": "SYSTEM_EVENT", "status": "SUCCESS", "action": "cache_cleared", "event": f"baseline {n}",
                "actor": {"kind": "system", "id": "system", "name": "system"}}).encode(),
                {"content-type": "application/json", "authorization": f"Bearer {writer}"}) for n in range(args.deliveries)]
            send_all(documents[:40], args.clients)
            baseline_seconds, baseline_latencies, baseline_statuses = send_all(documents, args.clients)
            if any(s != 201 for s in baseline_statuses):
                raise RuntimeError(f"POST /activities answered {sorted(set(baseline_statuses))}")
        finally:
            stack.stop()
    figures = {
        "webhooks_per_s": round(args.deliveries / seconds, 1),
        "ack_p50_ms": round(percentile(latencies, 50), 1),
        "ack_p95_ms": round(percentile(latencies, 95), 1),
        "recorded_per_s": round(args.deliveries / recorded_seconds, 1),
        "all_recorded_once": recorded == expected and dead == 0,
        "baseline_post_activities_per_s": round(args.deliveries / baseline_seconds, 1),
        "baseline_post_activities_p50_ms": round(percentile(baseline_latencies, 50), 1),
        "baseline_post_activities_p95_ms": round(percentile(baseline_latencies, 95), 1),
    }
    log(f"   acknowledged {figures['webhooks_per_s']}/s, ack p50 {figures['ack_p50_ms']} ms, p95 {figures['ack_p95_ms']} ms")
    log(f"   every one an entry after {recorded_seconds:.1f} s ({figures['recorded_per_s']}/s); {recorded} entries for "
        f"{expected} distinct events, {dead} dead-lettered: {'each exactly once' if figures['all_recorded_once'] else 'MISMATCH'}")
    log(f"   baseline, the same clients recording synchronously (POST /activities): {figures['baseline_post_activities_per_s']}/s, "
        f"p50 {figures['baseline_post_activities_p50_ms']} ms, p95 {figures['baseline_post_activities_p95_ms']} ms")
    return figures


# --- 2. the ingest function's writes ---------------------------------------------------------------------


def queued_batches(rng: random.Random, count: int, now: datetime) -> list[dict]:
    """SQS events of up to 10 records, each a verified delivery as the receiver enqueues it."""
    from activitylog.webhooks.mapping import redacted_request
    from activitylog.webhooks.queue import message_for

    records = []
    for provider, event in events(rng, count, now):
        body = json.dumps(event).encode()
        _, identity = PROVIDERS[provider].identity(body)
        url = f"https://hooks.example.com/webhooks/{provider}/{ORG}"
        _, headers = signed_delivery(provider, SECRETS[provider], body, url)
        message = message_for(provider, ORG, identity, now.isoformat(), redacted_request(headers, body, url))
        records.append({"messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": json.dumps(message),
                        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
                        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:webhooks",
                        "awsRegion": "us-east-1"})
    return [{"Records": records[i:i + 10]} for i in range(0, len(records), 10)]


def ingest(args: argparse.Namespace, rng: random.Random) -> dict:
    from activitylog.observability import metrics
    from activitylog.webhooks.ingest import Ingest

    def handle(worker: Ingest, batch: dict) -> int:
        failed = len(worker.handle(batch, None)["batchItemFailures"])
        metrics.clear_metrics()  # what the function's log_metrics flushes after each invocation
        return failed

    now = datetime.now(timezone.utc)
    figures = {}
    with local_table() as bench:
        log(f"2. ingest: {args.messages} queued deliveries per mode, SQS batches of 10, one process, DynamoDB Local")
        for mode, together in (("one write per entry", False), ("batch written together", True)):
            batches = queued_batches(rng, args.messages, now)
            worker = Ingest(bench.service, bench.service.detail_store, batch_writes=together)
            handle(worker, batches[0])  # warm: imports, the first connection
            started = time.perf_counter()
            failed = sum(handle(worker, batch) for batch in batches[1:])
            seconds = time.perf_counter() - started
            written = (len(batches) - 1) * 10 - failed
            figures[together] = written / seconds
            log(f"   {mode}: {written} entries in {seconds:.1f} s = {figures[together]:.0f} entries/s ({failed} failed)")
        items = sum(page["Count"] for page in bench.client.get_paginator("scan").paginate(TableName=os.environ["TABLE_NAME"], Select="COUNT"))
        expected = 2 * args.messages  # every message of both modes (warm-up batches included), each its own event
        log(f"   items in the table: {items} = {expected} entries, as many event markers and the org's shard meta item: "
            f"{'each event once' if items == 2 * expected + 1 else 'MISMATCH'}")
    return {"ingest_entries_per_s": round(figures[True], 1), "ingest_single_entries_per_s": round(figures[False], 1),
            "ingest_batch_speedup": round(figures[True] / figures[False], 2)}


def main() -> None:
    args = arguments()
    rng = random.Random(args.seed)
    load_before = os.getloadavg()[0]
    log(f"load average (1 min) at the start: {load_before:.1f} on {os.cpu_count()} cores: busier than idle means slower figures")
    figures = end_to_end(args, rng)
    figures |= ingest(args, rng)
    log(f"ingest batch speedup ×{figures['ingest_batch_speedup']} ({figures['ingest_entries_per_s']} against "
        f"{figures['ingest_single_entries_per_s']} entries/s)")
    figures |= {"deliveries": args.deliveries, "clients": args.clients, "messages": args.messages,
                "load_average_start": round(load_before, 1), "load_average_end": round(os.getloadavg()[0], 1)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
