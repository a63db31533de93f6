"""One export, run in a fresh interpreter by ``export.py`` so its peak memory is its own; it reports one JSON line.

``worker EXPORT_ID ORG``: the export worker's handler (functions/export_worker, found in
template.yaml by the parent) invoked step by step exactly as the state machine invokes it
(begin, write until done, complete), each step given the state the last one returned.

``baseline ORG LOW_ID HIGH_ID``: the least an export can do on this machine: a botocore client
queries each of the org's table partitions for the ids in the range (a thread each), page by page (1 MB
pages), writes the same columns with ``csv.writer`` into local files, and leaves: no service, no merge
into one order, no S3.

Either way the clock starts after the imports (a warm Lambda does not import again), the
process's CPU time is reported beside the wall time (DynamoDB Local shares the machine's two
cores), and the peak resident memory is the process's own (``VmHWM``).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time


def worker(export_id: str, org: str) -> dict:
    from samlocal.context import LambdaContext

    sys.path.insert(0, os.environ["BENCH_CODE_DIR"])
    module_name, function_name = os.environ["BENCH_HANDLER"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    started, cpu = time.perf_counter(), time.process_time()
    state, steps = {"export_id": export_id, "org": org, "notify": "bench@example.com"}, []

    def step(name: str) -> dict:
        nonlocal state
        began = time.perf_counter()
        state = handler({"step": name, "export": state}, LambdaContext(name="export-worker", memory=1024, timeout=900))
        steps.append({"step": name, "seconds": round(time.perf_counter() - began, 3), "state_bytes": len(json.dumps(state))})
        return state

    step("begin")
    while not step("write")["done"]:
        pass
    step("complete")
    return {"rows": state["rows"], "bytes": state["bytes"], "parts": state["parts"], "sha256": state["sha256"],
            "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu, "steps": steps}


def baseline(org: str, low_id: str, high_id: str) -> dict:
    import csv
    import tempfile
    import zlib

    import botocore.session

    from concurrent.futures import ThreadPoolExecutor

    client = botocore.session.get_session().create_client("dynamodb")
    shards = int(os.environ.get("DEFAULT_SHARDS", "2"))
    started, cpu = time.perf_counter(), time.process_time()

    def partition(shard: int) -> tuple[int, int]:
        """One table partition's rows in the range, page by page, into a file of its own.

        Pages of 1,000 items (the worker's page): without a Limit DynamoDB Local took 8.8 s for
        each 1 MB page (1,416 items) of a 500,000-item partition against 0.1 s for 1,000 with one,
        so the 1,000,000 baseline had not finished after 20 minutes. DynamoDB pages either alike.
        """
        rows = 0
        with tempfile.TemporaryFile("w+", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            request = {"TableName": os.environ["TABLE_NAME"], "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                       "ExpressionAttributeValues": {":pk": {"S": f"{org}#{shard}"}, ":low": {"S": low_id}, ":high": {"S": high_id}},
                       "ScanIndexForward": False, "Limit": 1000}
            while True:
                page = client.query(**request)
                for item in page["Items"]:
                    detail = json.loads(zlib.decompress(item["bd"]["B"])) if "bd" in item else {}
                    text = {name: value.get("S", value.get("N", "")) for name, value in item.items()}
                    writer.writerow((text["sk"], text["sk"][:10], text["ty"], text["st"], text["ak"], text["ai"], text["an"],
                                     text["ac"], text["ev"], text.get("et", ""), text.get("ei", ""), text.get("el", ""),
                                     json.dumps(list(detail.get("changes") or {})), (detail.get("error") or {}).get("message", ""),
                                     detail.get("correlation_id") or ""))
                    rows += 1
                if "LastEvaluatedKey" not in page:
                    return rows, handle.tell()
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    with ThreadPoolExecutor(max_workers=shards) as pool:
        done = list(pool.map(partition, range(shards)))
    return {"rows": sum(r for r, _ in done), "bytes": sum(b for _, b in done), "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu}


def peak_rss_mb() -> float:
    """This process's own high-water mark of resident memory (VmHWM). Not ``ru_maxrss``: Linux
    carries that over an exec from the parent, so a child of a big parent would report the parent."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    kind = sys.argv[1]
    answer = worker(*sys.argv[2:4]) if kind == "worker" else baseline(*sys.argv[2:5])
    answer["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(answer), flush=True)
    os._exit(0)
