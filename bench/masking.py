"""What masked fields (activitylog.masking) cost a write: milliseconds and write units per entry through
``ActivityService.record``, with masking and without it (the baseline), in one run, on DynamoDB Local with the
service key in moto's KMS.

Every entry is a contact update whose before/after hold a password and an SSN (the org masks ``/ssn``) besides
six plain fields, and whose metadata holds an API key: three masked values each. Runs over the same entries:

- ``baseline``: masking switched off (the storage carries no mask): what a write cost before;
- ``masked``: the same entry written masked, right after (the two alternate, so both meet the machine alike);
  the org's key is made once (KMS GenerateDataKey, one conditional PutItem) and then cached;
- ``cold key``: as ``masked``, the key forgotten before each write (a new container, the key made already): each
  masked write reads the wrapped key (one BatchGetItem) and asks KMS (moto, in-process) to decrypt it.

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


def run(documents: list[dict], cold_every: int = 0) -> dict:
    """Write each document twice, the baseline and the masked write one after the other (so both meet the machine
    alike): their times and units. ``cold_every``: the masked service forgets the org's key every that many entries
    (a new container, the key made already: one BatchGetItem and a KMS Decrypt)."""
    from activitylog import wiring
    from activitylog.inputs import NewEntry
    from activitylog.masking import MaskKeys
    from activitylog.scopes import WRITE
    from activitylog.service import Caller

    caller = Caller(ORG, "svc_bench", frozenset({WRITE}))
    service = wiring.container().service
    times: dict[str, list[float]] = {"baseline": [], "masked": []}
    units: dict[str, float] = {"baseline": 0.0, "masked": 0.0, "key": 0.0}
    key_requests = 0
    for index, body in enumerate(documents):
        new = NewEntry.model_validate(body)
        for mode in ("baseline", "masked"):
            if mode == "masked" and cold_every and index % cold_every == 0:
                service.mask_keys = MaskKeys(service.store, service.config.service_key)
                service._masks.clear()
            if mode == "baseline":
                service._masking = lambda org: None  # type: ignore[method-assign]
            with Capacity("maskkey", "key", OPERATIONS) as capacity:
                started = time.perf_counter()
                entry = service.record(caller, new)
                times[mode].append((time.perf_counter() - started) * 1000)
            service.__dict__.pop("_masking", None)  # the class's own again
            units[mode] += sum(u for what, u in capacity.units.items() if what.startswith("entries"))
            units["key"] += sum(u for what, u in capacity.units.items() if what.startswith("key"))
            key_requests += sum(n for what, n in capacity.requests.items() if what.startswith("key"))
            hidden = isinstance(entry.changes["/ssn"]["after"], dict)
            assert hidden is (mode == "masked"), mode
    figures: dict[str, Any] = {}
    for mode in ("baseline", "masked"):
        figures[mode] = {
            "ms_p50": round(statistics.median(times[mode]), 2),
            "ms_p95": round(statistics.quantiles(times[mode], n=20)[-1], 2),
            "wcu_per_entry": round(units[mode] / len(documents), 3),
        }
    figures["key_requests"], figures["key_units"] = key_requests, round(units["key"], 2)
    return figures


def main() -> None:
    args = arguments()
    from moto import mock_aws

    with local_table(shards=1), mock_aws(config={"core": {"passthrough": {"services": ["dynamodb"]}}}):
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
        run([document(-1 - index) for index in range(50)])  # warm-up: the first writes of a process pay for it
        figures: dict[str, Any] = {"entries": args.entries, "masked_values_per_entry": 3}
        figures["warm"] = warm = run(documents)
        figures["cold_key"] = cold = run(documents[: args.cold], cold_every=1)
        for name, result in (("key cached", warm), ("key read each write", cold)):
            for mode in ("baseline", "masked"):
                log(f"{name:>19} {mode:>8}: {result[mode]['ms_p50']} ms p50, {result[mode]['ms_p95']} ms p95, "
                    f"{result[mode]['wcu_per_entry']} WCU an entry")
            log(f"{name:>19}: the key: {result['key_requests']} requests, {result['key_units']} units")
        figures["masking_ms_p50"] = round(warm["masked"]["ms_p50"] - warm["baseline"]["ms_p50"], 2)
        figures["cold_key_ms_p50"] = round(cold["masked"]["ms_p50"] - cold["baseline"]["ms_p50"], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
