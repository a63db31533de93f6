"""Cold start of the query handler in a fresh process, against the architecture's floor.

The handler is the function in template.yaml whose events include ``GET /activities``,
so a renamed or moved function is followed. Both variants run ``cold_child.py`` with the
same interpreter and a fresh environment; the median of several runs, interleaved, after
one unmeasured run each (the bytecode cache warm, as in a Lambda image).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import BENCH_ENV, ORG, ROOT, TABLE

CHILD = Path(__file__).with_name("cold_child.py")
VARIANTS = ("handler", "floor")


def query_function(template: dict | None = None) -> tuple[str, Path, str, dict]:
    """(logical id, code directory, handler, properties) of the function serving GET /activities."""
    from samlocal.template import load, resources

    template = template or load()
    for name, resource in resources(template, "AWS::Serverless::Function").items():
        props = resource.get("Properties", {})
        for event in (props.get("Events") or {}).values():
            spec = event.get("Properties") or {}
            if event.get("Type") in ("HttpApi", "Api") and spec.get("Method", "").upper() == "GET" and spec.get("Path") == "/activities":
                return name, ROOT / props["CodeUri"], props["Handler"], props
    raise LookupError("template.yaml has no function with a GET /activities event")


def _once(endpoint: str, variant: str, code_dir: Path, handler: str) -> dict:
    from tests.support.kit import api_event

    # The test kit's event for the dashboard's first page, as API Gateway sends it after the authorizer.
    event = api_event("GET", "/activities", claims={"org_id": ORG, "sub": "u_01", "scope": "activity:read", "name": "Bench"})
    env = {"PATH": os.environ.get("PATH", ""), **BENCH_ENV, "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
           "BENCH_CODE_DIR": str(code_dir), "BENCH_HANDLER": handler, "BENCH_ORG": ORG, "TABLE_NAME": TABLE,
           "BENCH_EVENT": json.dumps(event)}
    spawned, started = time.time(), time.perf_counter()
    process = subprocess.run([sys.executable, str(CHILD), variant], env=env, cwd=ROOT, capture_output=True, text=True)
    wall_ms = (time.perf_counter() - started) * 1000
    lines = [line for line in process.stderr.splitlines() if line.startswith("BENCH_RESULT ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"cold-start child ({variant}) failed ({process.returncode}): {process.stderr[-2000:]}")
    result = json.loads(lines[-1][len("BENCH_RESULT "):])
    if result["status"] != 200 or result["items"] == 0:
        raise RuntimeError(f"cold-start child ({variant}) answered {result['status']} with {result['items']} items")
    return result | {"wall_ms": wall_ms, "to_answer_ms": (result["answered_at"] - spawned) * 1000}


@dataclass
class ColdStarts:
    function: str
    runs: dict[str, list[dict]]

    def median(self, variant: str, key: str = "wall_ms") -> float:
        return statistics.median(r[key] for r in self.runs[variant])

    @property
    def ratio(self) -> float:
        """Ours ÷ the floor, whole process wall-clock."""
        return self.median("handler") / self.median("floor")


def measure(endpoint: str, runs: int) -> ColdStarts:
    name, code_dir, handler, _ = query_function()
    for variant in VARIANTS:  # unmeasured: compiles and caches the bytecode
        _once(endpoint, variant, code_dir, handler)
    measured: dict[str, list[Any]] = {variant: [] for variant in VARIANTS}
    for _ in range(runs):
        for variant in VARIANTS:
            measured[variant].append(_once(endpoint, variant, code_dir, handler))
    return ColdStarts(f"{name} ({code_dir.relative_to(ROOT)}, {handler})", measured)
