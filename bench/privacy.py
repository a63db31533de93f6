"""What erasure by crypto-shredding costs (issue 24's figures), each against its baseline in the same run:

- writes: capacity units and latency per entry written through ``EntryStore.put``, personal fields stored as sent
  (the baseline) and sealed under their subjects' keys (the subject key's conditional count is its price);
- reads: a page of ``GET /activities`` (``ActivityService.list``), as sent, sealed with the subject keys cached
  in the container, and sealed in a cold container (every key unwrapped by KMS);
- erasure: ``POST /privacy/erasures``'s work (``Erasures.erase``) for a subject with 10,000 entries beside
  subjects with 10: one key destroyed whatever the count.

DynamoDB Local for the tables (the template's), moto's KMS in-process for the service key: a KMS call here costs
no network round trip, so the cold page's figure is a floor (AWS KMS answers Decrypt in a few ms each).
Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from common import RETENTION_DAYS, WCU_ORG, local_table, log
from internals import store_client
from seeding import build_entry

from activitylog.config import DEFAULT_ARCHIVE_DAYS
from activitylog.details import DetailStore
from activitylog.storage import OrgStorage
from activitylog.store import EntryStore

SUBJECT_TABLE = "bench-subject-keys"
OPERATIONS = ("PutItem", "UpdateItem", "BatchGetItem", "TransactWriteItems", "Query", "DeleteItem", "GetItem")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000, help="entries written one by one, per run")
    parser.add_argument("--big", type=int, default=10_000, help="entries about the subject erased at once")
    parser.add_argument("--small", type=int, default=10, help="entries about each small subject")
    parser.add_argument("--small-subjects", type=int, default=5)
    parser.add_argument("--pages", type=int, default=20, help="page reads per read figure")
    parser.add_argument("--seed", type=int, default=20261205)
    return parser.parse_args()


@contextmanager
def counted(clients: dict[str, Any]) -> Iterator[tuple[Counter, Counter]]:
    """Capacity units and requests of each client's calls (label -> botocore client), per label and operation."""
    units: Counter[str] = Counter()
    requests: Counter[str] = Counter()
    hooks = []
    for label, client in clients.items():

        def ask(params: dict, **_: Any) -> None:
            params["ReturnConsumedCapacity"] = "TOTAL"

        def answer(parsed: dict, model: Any, label: str = label, **_: Any) -> None:
            consumed = parsed.get("ConsumedCapacity") or []
            consumed = consumed if isinstance(consumed, list) else [consumed]
            units[f"{label} {model.name}"] += sum(c.get("CapacityUnits", 0.0) for c in consumed)
            requests[f"{label} {model.name}"] += 1

        for operation in OPERATIONS:
            client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", ask)
            client.meta.events.register(f"after-call.dynamodb.{operation}", answer)
            hooks.append((client, operation, ask, answer))
    try:
        yield units, requests
    finally:
        for client, operation, ask, answer in hooks:
            client.meta.events.unregister(f"before-parameter-build.dynamodb.{operation}", ask)
            client.meta.events.unregister(f"after-call.dynamodb.{operation}", answer)


def subject_keys(bench: Any) -> Any:
    """A container's subject keys over the bench's DynamoDB Local and moto's KMS (the key made once per run)."""
    import boto3

    from activitylog.subjects import SubjectKeys
    from activitylog.store.subjectkeys import SubjectKeyTable

    global _KEY_ID
    if _KEY_ID is None:
        from samlocal.template import create_table

        create_table(bench.client, SUBJECT_TABLE, logical_id="SubjectKeyTable")
        _KEY_ID = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    return SubjectKeys(SubjectKeyTable(SUBJECT_TABLE, region="us-east-1"), _KEY_ID, region="us-east-1")


_KEY_ID = None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ms(values: list[float]) -> dict[str, float]:
    return {"mean": round(statistics.fmean(values), 2), "p50": round(percentile(values, 0.5), 2),
            "p95": round(percentile(values, 0.95), 2)}


def run(entries: list[Any], sealed: bool, args: argparse.Namespace) -> dict[str, Any]:
    """Write the entries one by one on a fresh table, then read pages of them: the figures of one mode."""
    global _KEY_ID
    _KEY_ID = None
    with local_table(shards=1) as bench:
        from activitylog.query.filters import parse_list_request
        from activitylog.service import ActivityService, Caller

        keys = subject_keys(bench) if sealed else None
        store = EntryStore(DetailStore(None), subjects=keys)
        where = OrgStorage(WCU_ORG, 1, 1, RETENTION_DAYS, DEFAULT_ARCHIVE_DAYS)
        clients = {"entries": store_client()}
        if keys is not None:
            clients["subject keys"] = keys.table.client
        latencies = []
        with counted(clients) as (units, requests):
            for entry in entries:
                started = time.perf_counter()
                store.put(where, entry)
                latencies.append((time.perf_counter() - started) * 1000)
        for what in sorted(units):
            log(f"  {what:32} {requests[what]:6} requests  {units[what]:9.1f} units")
        per_entry = {label: round(sum(u for w, u in units.items() if w.startswith(label)) / len(entries), 3)
                     for label in clients}
        figures: dict[str, Any] = {"write_units_per_entry": per_entry, "write_ms": ms(latencies)}

        caller = Caller(WCU_ORG, "u_bench", frozenset({"activity:read"}))
        # every entry the seed spread over its year
        request = parse_list_request({"limit": "50", "from": (datetime.now(timezone.utc) - timedelta(days=400)).isoformat()})

        def page_ms(service: ActivityService) -> float:
            started = time.perf_counter()
            result = service.list(caller, request)
            assert len(result.items) == 50, len(result.items)
            assert not any("pd1~" in json.dumps(i) for i in result.items)
            return (time.perf_counter() - started) * 1000

        service = ActivityService(bench.service.config, store)
        page_ms(service)  # the connection and the code warm, as in a warm container
        if keys is None:
            figures["page_ms"] = ms([page_ms(service) for _ in range(args.pages)])
        else:
            figures["page_ms_keys_cached"] = ms([page_ms(service) for _ in range(args.pages)])
            cold = []
            for _ in range(args.pages):  # a new container's keys: each subject of the page unwrapped by KMS
                cold.append(page_ms(ActivityService(bench.service.config, EntryStore(DetailStore(None), subjects=subject_keys(bench)))))
            figures["page_ms_keys_cold"] = ms(cold)
            subjects = {e["actor"]["id"] for e in service.list(caller, request).items if e["actor"]["kind"] == "user"}
            figures["subjects_in_a_page"] = len(subjects)
        if keys is not None:
            figures["erasure"] = erasure(bench, store, where, entries[0], args)
        return figures


def erasure(bench: Any, store: Any, where: OrgStorage, template: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Erase a subject with ``args.big`` entries and subjects with ``args.small``: seconds, and what each covered."""
    from activitylog.ids import new_id
    from activitylog.inputs import ErasureRequest
    from activitylog.privacy.erasure import Erasures
    from activitylog.service import ActivityService, Caller

    now = datetime.now(timezone.utc)
    written = 0

    def about(member: str, count: int) -> None:
        nonlocal written
        batch = []
        for n in range(count):
            moment = now - timedelta(seconds=count - n, microseconds=written)
            batch.append(replace(template, id=new_id(moment), actor={"kind": "user", "id": member, "name": f"Member {member}"},
                                 entity={"type": "contact", "id": f"c_{member}", "label": f"Contact of {member}"}))
            written += 1
            if len(batch) == 25:
                store.put_all(where, batch)
                batch = []
        if batch:
            store.put_all(where, batch)

    started = time.perf_counter()
    about("u_big", args.big)
    log(f"  {args.big} entries about u_big sealed in {time.perf_counter() - started:.1f} s")
    for n in range(args.small_subjects):
        about(f"u_small_{n}", args.small)
    service = ActivityService(bench.service.config, store)
    admin = Caller(WCU_ORG, "u_admin", frozenset({"activity:admin"}), name="Bench Admin")

    def erase(member: str) -> tuple[float, int]:
        request = ErasureRequest.model_validate({"subject": {"kind": "user", "id": member}})
        started = time.perf_counter()
        answer = Erasures(service).erase(admin, request)
        return (time.perf_counter() - started) * 1000, answer["entries"]

    Erasures(service).erase(admin, ErasureRequest.model_validate({"subject": {"kind": "contact", "id": "warm_up"}}))
    big_ms, big_covered = erase("u_big")
    small = [erase(f"u_small_{n}") for n in range(args.small_subjects)]
    reader = Caller(WCU_ORG, "u_bench", frozenset({"activity:read"}))
    from activitylog.query.filters import parse_list_request

    page = service.list(reader, parse_list_request({"limit": "50", "user": "u_big"})).items
    assert page and all(item["actor"]["name"] == "[erased]" for item in page)
    return {
        "big_subject": {"entries": big_covered, "erase_ms": round(big_ms, 2)},
        "small_subjects": {"entries": small[0][1], "erase_ms": [round(m, 2) for m, _ in small],
                           "erase_ms_mean": round(statistics.fmean(m for m, _ in small), 2)},
    }


def main() -> None:
    args = arguments()
    from moto import mock_aws

    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc)
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb"]}}}):
        with local_table(shards=1):  # build_entry reads the service's settings
            entries = [build_entry(rng, now, WCU_ORG) for _ in range(args.entries)]
        user_entries = sum(e.actor["kind"] == "user" for e in entries)
        contacts = sum((e.entity or {}).get("type") == "contact" for e in entries)
        log(f"{len(entries)} entries: {user_entries} by team members, {contacts} about contacts")
        log("\n== as sent (the baseline)")
        baseline = run(entries, sealed=False, args=args)
        log("\n== sealed under subject keys")
        sealed = run(entries, sealed=True, args=args)
    figures = {"entries": len(entries), "user_entries": user_entries, "contact_entries": contacts,
               "baseline": baseline, "sealed": sealed}
    base_units = baseline["write_units_per_entry"]["entries"]
    sealed_units = sum(sealed["write_units_per_entry"].values())
    figures["write_units_increase_pct"] = round(100 * (sealed_units - base_units) / base_units, 1)
    log(f"\nwrite units per entry: {base_units} as sent, {sealed['write_units_per_entry']} sealed "
        f"(+{figures['write_units_increase_pct']}%)")
    log(f"write ms per entry: {baseline['write_ms']} as sent, {sealed['write_ms']} sealed")
    log(f"page of 50 ms: {baseline['page_ms']} as sent, {sealed['page_ms_keys_cached']} keys cached, "
        f"{sealed['page_ms_keys_cold']} keys cold ({sealed['subjects_in_a_page']} team members in the page)")
    log(f"erase: {sealed['erasure']['big_subject']} beside {sealed['erasure']['small_subjects']}")
    print(json.dumps({"bench": "privacy", **figures}), flush=True)


if __name__ == "__main__":
    main()
