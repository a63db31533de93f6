"""What masked fields (activitylog.privacy.masking) cost a write: milliseconds and write units per entry through
``ActivityService.record``, with masking and without it (the baseline), in one run, on DynamoDB Local with the
service key in moto's KMS.

Every entry is a contact update whose before/after hold a password and an SSN (the org masks ``/ssn``) besides
six plain fields, and whose metadata holds an API key: three masked values each. Runs over the same entries:

- ``baseline``: masking switched off (the storage carries no mask): what a write cost before;
- ``masked``: one container writes them all: the org's key is made (KMS GenerateDataKey, one PutItem) once;
- ``cold key``: a new container per entry, the key made already: each first masked write reads the wrapped key
  (one BatchGetItem) and asks KMS to decrypt it.

Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from common import ORG, local_table, log
from internals import Capacity

OPERATIONS = ("PutItem", "BatchGetItem", "TransactWriteItems")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=500, help="entries written per run")
    parser.add_argument("--cold", type=int, default=50, help="entries of the cold-key run (a new container each)")
    return parser.parse_args()


def document(index: int) -> dict:
    plain = {f"field_{n}": f"value {n} of contact {index}" for n in range(6)}
    return {
        "type": "USER_ACTION", "status": "SUCCESS", "action": "updated", "event": f"Contact updated · #{index}",
        "actor": {"kind": "user", "id": "u_17", "name": "Riley Park"},
        "entity": {"type": "contact", "id": f"c_{index}", "label": f"Contact {index}"},
        "before": {**plain, "password": f"old-pass-{index}", "ssn": f"000-00-{index:04d}"},
        "after": {**plain, "field_0": "changed", "password": f"new-pass-{index}", "ssn": f"111-11-{index:04d}"},
        "metadata": {"source": "bench", "api_key": f"sk_live_{index:08d}"},
    }


def run(bench: Any, documents: list[dict], mode: str) -> dict:
    from activitylog import wiring
    from activitylog.inputs import NewEntry
    from activitylog.scopes import WRITE
    from activitylog.service import Caller

    caller = Caller(ORG, "svc_bench", frozenset({WRITE}))
    wiring.reset()
    service = wiring.container().service
    if mode == "baseline":
        service._masking = lambda org: None  # type: ignore[method-assign]
    times: list[float] = []
    with Capacity("maskkey", "key", OPERATIONS) as capacity:
        for body in documents:
            if mode == "cold key":
                wiring.reset()
                service = wiring.container().service  # a new execution environment: no key in memory
            new = NewEntry.model_validate(body)
            started = time.perf_counter()
            entry = service.record(caller, new)
            times.append((time.perf_counter() - started) * 1000)
            if mode != "baseline":
                assert entry.changes["/ssn"]["after"]["hidden"] == "changed (hidden)"
    entries = sum(u for what, u in capacity.units.items() if what.startswith("entries"))
    key = sum(u for what, u in capacity.units.items() if what.startswith("key"))
    return {
        "ms_p50": round(statistics.median(times), 2),
        "ms_p95": round(statistics.quantiles(times, n=20)[-1], 2),
        "wcu_per_entry": round(entries / len(documents), 3),
        "key_units": round(key, 2),
        "key_requests": sum(n for what, n in capacity.requests.items() if what.startswith("key")),
    }


def main() -> None:
    args = arguments()
    from moto import mock_aws

    with local_table(shards=1) as bench, mock_aws(config={"core": {"passthrough": {"services": ["dynamodb"]}}}):
        import os

        import boto3

        os.environ["SERVICE_KEY_ID"] = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
        from activitylog import wiring
        from activitylog.privacy.settings import PrivacySettings
        from activitylog.scopes import ADMIN
        from activitylog.service import Caller

        wiring.reset()
        PrivacySettings(wiring.container().service).change(Caller(ORG, "u_admin", frozenset({ADMIN})), {"patterns": ["/ssn"]})
        documents = [document(index) for index in range(args.entries)]
        figures: dict[str, Any] = {"entries": args.entries, "masked_values_per_entry": 3}
        for mode, chosen in (("baseline", documents), ("masked", documents), ("cold key", documents[: args.cold])):
            figures[mode.replace(" ", "_")] = result = run(bench, chosen, mode)
            log(f"{mode:>9}: {result['ms_p50']} ms p50, {result['ms_p95']} ms p95, {result['wcu_per_entry']} WCU an entry; "
                f"the key: {result['key_requests']} requests, {result['key_units']} units")
        figures["masking_ms_p50"] = round(figures["masked"]["ms_p50"] - figures["baseline"]["ms_p50"], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
