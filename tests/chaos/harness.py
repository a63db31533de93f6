"""The chaos run: a ledger of writes through the local stack while it is killed, paused and cut short.

Clients write as the README tells a writer to (one ``Idempotency-Key`` per logical write, the
same key and body again after a 5xx, a timeout or a dropped connection; after a 409 "still
running", a moment later; after a 503, when its ``Retry-After`` says) and write down in a ledger
every write the service acknowledged. Meanwhile the faults come on a schedule:

- ``activitylog serve`` SIGKILLed, then started again on its folder (as after a crash);
- DynamoDB Local paused (SIGSTOP, then SIGCONT): every call hangs, as when DynamoDB is unreachable;
- the execution environments of the write functions SIGKILLed mid-request.

Afterwards every operation is looked up: an acknowledged write is present exactly once with its
content, a finished job in its final state, nothing (acknowledged or not) twice; every 5xx is
sorted by kind. The only 5xx that may be seen are a 503 with ``Retry-After`` and the runtime's
own error (500) for a request whose environment was killed under it.

The operations, mixed:

- ``entry``: ``POST /activities``, some sent twice at once with the same key (a client's
  retry overlapping its first attempt);
- ``batch``: ``POST /activities/batch`` of 2-6 entries;
- ``job``: a job's start (``POST``), progress and final report (``PATCH`` with ``sequence``);
- ``webhook``: a signed Stripe event delivered 1-3 times, some deliveries at once, each retried
  until acknowledged (as Stripe retries).

>>> report = ChaosRun(folder, clients=6, seconds=70, schedule=TIER_SCHEDULE).run()
>>> report["lost"], report["duplicated"]
(0, 0)
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from tests.support.kit import provider_event, signed_delivery
from tests.support.stack import RunningStack, start_stack as _start, stop_stack as _stop

ORG, SECRET = "org_chaos", "whsec_chaos_ledger"
WRITE_FUNCTIONS = ("RecordFunction", "WebhookFunction")  # whose environments are killed mid-request
ANSWER_SECONDS = 40  # a client's wait for one answer (HTTP API gives up after 30 s)
OP_SECONDS = 120  # how long a client keeps retrying one write before it gives up (the write stays unacknowledged)

# (seconds after the load starts, fault, argument): the tier's plan, about 60 s of load.
TIER_SCHEDULE = [
    (8, "pause_dynamodb", 6),
    (20, "kill_environments", None),
    (27, "kill_stack", None),
    (46, "kill_environments", None),
    (51, "pause_dynamodb", 4),
]


def bench_schedule(seconds: float) -> list[tuple[float, str, Any]]:
    """The bench's plan: the tier's faults again every 70 s, DynamoDB paused longer (20-30 s)."""
    plan, start = [], 0.0
    while start + 70 <= seconds:
        plan += [(start + 8, "pause_dynamodb", 20 + (start // 70) % 2 * 10), (start + 36, "kill_environments", None),
                 (start + 46, "kill_stack", None), (start + 64, "kill_environments", None)]
        start += 70
    return plan


@dataclass
class Attempt:
    function: str
    started: float
    ended: float
    status: Optional[int]  # None: no answer (refused, reset, timed out)
    retry_after: bool = False
    body: str = ""


@dataclass
class Operation:
    op_id: str
    kind: str  # entry, batch, job, webhook
    entities: list[str]  # the entity ids its entries carry: how they are found again
    events: dict[str, str] = field(default_factory=dict)  # entity id -> the event text written
    acknowledged: bool = False
    ids: dict[str, str] = field(default_factory=dict)  # entity id -> entry id, as the service answered
    final: Optional[dict] = None  # a job's final report, once acknowledged
    started: bool = False  # a job's start was acknowledged
    refused: list[str] = field(default_factory=list)  # unexpected 4xx answers


class Stack:
    """``activitylog serve`` on a folder kept across kills, on one port, and its processes."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.running: Optional[RunningStack] = None
        self.lock = threading.Lock()
        self.up = threading.Event()

    def start(self) -> None:
        self.running = _start(self.folder, "--no-seed", "--port", str(self.port), "--poll-seconds", "0.2",
                              "--parameter", "WebhookRetrySeconds=1", in_memory=False)
        self.up.set()

    def stop(self) -> None:
        self.resume_dynamodb()
        if self.running:
            _stop(self.running)

    def kill(self) -> None:
        """SIGKILL: no clean stop, nothing saved on the way out; its DynamoDB Local follows (PDEATHSIG)."""
        self.up.clear()
        self.resume_dynamodb()  # a stopped JVM would hold its SIGTERM (and its files) until continued
        children = self._children()
        self.running.process.kill()
        self.running.process.wait()
        for pid in children:  # DynamoDB Local and the environments end on their own: wait for them (same files, ports)
            _wait_gone(pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, user: str, scopes=("write",)) -> str:
        return self.running.token(ORG, user=user, scopes=scopes)

    def _children(self) -> list[int]:
        pid = self.running.process.pid
        return [child for child in _pids() if _ppid(child) == pid]

    def dynamodb_pid(self) -> Optional[int]:
        return next((pid for pid in self._children() if b"DynamoDBLocal" in _cmdline(pid)), None)

    def environments(self, functions: tuple[str, ...]) -> list[int]:
        """The execution environments' processes of ``functions`` (logical ids)."""
        names = {self.function_names[function].encode() for function in functions}
        return [pid for pid in self._children() if b"samlocal.bootstrap" in _cmdline(pid)
                and _variable(pid, b"AWS_LAMBDA_FUNCTION_NAME") in names]

    @property
    def function_names(self) -> dict[str, str]:
        if not hasattr(self, "_function_names"):
            status, described = self.running.request("GET", "/_local/stack")
            self._function_names = {lid: function["name"] for lid, function in described["functions"].items()}
        return self._function_names

    def pause_dynamodb(self) -> None:
        pid = self.dynamodb_pid()
        if pid:
            os.kill(pid, signal.SIGSTOP)
            self._paused = pid

    def resume_dynamodb(self) -> None:
        pid = getattr(self, "_paused", None)
        if pid:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self._paused = None


class ChaosRun:
    def __init__(self, folder: Path, clients: int = 6, seconds: float = 70, schedule=None, seed: int = 20261204,
                 log: Callable[[str], None] = lambda _: None) -> None:
        self.folder, self.clients, self.seconds = folder, clients, seconds
        self.schedule = TIER_SCHEDULE if schedule is None else schedule
        self.random = random.Random(seed)
        self.log = log
        self.stack = Stack(folder, _free_port())
        self.operations: list[Operation] = []
        self.attempts: list[Attempt] = []
        self.kills: list[tuple[float, float, str]] = []  # (from, to, function): its environments were being killed
        self.faults: Counter = Counter()
        self._lock = threading.Lock()
        self._stop_load = threading.Event()
        self._t0 = 0.0

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> dict:
        self.stack.start()
        try:
            secret = self.stack.running.cli("secrets", "set", "--org", ORG, "--provider", "stripe", "--value", SECRET)
            assert secret.returncode == 0, secret.stderr
            self.writer = self.stack.token("svc_chaos")
            self.reader = self.stack.token("u_chaos_reader", scopes=("read",))
            self._t0 = time.monotonic()
            workers = [threading.Thread(target=self._client, args=(n,), name=f"client-{n}") for n in range(self.clients)]
            for worker in workers:
                worker.start()
            self._faults()
            self._stop_load.set()
            for worker in workers:
                worker.join()
            self.stack.up.wait(120)
            report = self._verify()
        finally:
            self.stack.stop()
        return report

    def _faults(self) -> None:
        for at, fault, argument in sorted(self.schedule):
            self._sleep_until(at)
            self.log(f"{time.monotonic() - self._t0:5.1f} s  {fault} {argument or ''}")
            if fault == "pause_dynamodb":
                self.stack.pause_dynamodb()
                time.sleep(argument)
                self.stack.resume_dynamodb()
            elif fault == "kill_environments":
                for function in WRITE_FUNCTIONS:
                    before = time.monotonic()
                    pids = self.stack.environments((function,))
                    for pid in pids:
                        _kill(pid)
                    if pids:
                        with self._lock:
                            self.kills.append((before, time.monotonic(), function))
                    self.faults[f"environments_killed:{function}"] += len(pids)
            elif fault == "kill_stack":
                self.stack.kill()
                self.stack.start()
            self.faults[fault] += 1
        self._sleep_until(self.seconds)

    def _sleep_until(self, at: float) -> None:
        delay = self._t0 + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    # --- clients ---------------------------------------------------------------------------

    def _client(self, number: int) -> None:
        chooser = random.Random(self.random.random() + number)
        while not self._stop_load.is_set():
            kind = chooser.choices(["entry", "batch", "job", "webhook"], weights=[4, 2, 2, 3])[0]
            op = Operation(f"op{uuid.uuid4().hex[:12]}", kind, [])
            with self._lock:
                self.operations.append(op)
            getattr(self, f"_{kind}")(op, chooser)

    def _entry_body(self, op: Operation, entity: str, chooser: random.Random) -> dict:
        event = f"Contact updated · {entity} · {chooser.randrange(10**9)}"
        op.entities.append(entity)
        op.events[entity] = event
        return {"type": "USER_ACTION", "status": "SUCCESS", "action": "updated", "event": event,
                "actor": {"kind": "user", "id": "u_chaos", "name": "Chaos Client"},
                "entity": {"type": "contact", "id": entity, "label": entity},
                "metadata": {"op": op.op_id}}

    def _entry(self, op: Operation, chooser: random.Random) -> None:
        body = self._entry_body(op, op.op_id, chooser)
        key = str(uuid.uuid4())
        if chooser.random() < 0.15:  # a retry overlapping the first attempt: the same key twice at once
            threading.Thread(target=self._until_acknowledged, args=(op, "POST", "/activities", body, key), daemon=True).start()
        answer = self._until_acknowledged(op, "POST", "/activities", body, key)
        if answer is not None:
            op.ids[op.op_id] = answer["id"]
            op.acknowledged = True

    def _batch(self, op: Operation, chooser: random.Random) -> None:
        bodies = [self._entry_body(op, f"{op.op_id}.{n}", chooser) for n in range(chooser.randint(2, 6))]
        answer = self._until_acknowledged(op, "POST", "/activities/batch", {"entries": bodies}, str(uuid.uuid4()))
        if answer is not None:
            results = answer.get("results") or []
            accepted = [r for r in results if r.get("status") == "accepted"]
            if len(accepted) != len(bodies):
                op.refused.append(f"batch answered {answer}")
                return
            op.ids = {entity: result["id"] for entity, result in zip(op.entities, accepted)}
            op.acknowledged = True

    def _job(self, op: Operation, chooser: random.Random) -> None:
        event = f"CHAOS_SYNC {op.op_id}"
        op.entities.append(op.op_id)
        op.events[op.op_id] = event
        start = {"type": "BACKGROUND_JOB", "status": "IN_PROGRESS", "action": "started", "event": event,
                 "actor": {"kind": "system", "id": "chaos-scheduler", "name": "Chaos scheduler"},
                 "entity": {"type": "job", "id": op.op_id, "label": "chaos sync"}, "metadata": {"processed": 0}}
        answer = self._until_acknowledged(op, "POST", "/activities", start, str(uuid.uuid4()))
        if answer is None:
            return
        op.ids[op.op_id], op.started = answer["id"], True
        steps = chooser.randint(1, 3)
        for sequence in range(1, steps + 1):
            if self._until_acknowledged(op, "PATCH", f"/activities/{answer['id']}",
                                        {"metadata": {"processed": sequence * 10}, "sequence": sequence}) is None:
                return
        final = {"status": chooser.choice(["SUCCESS", "SUCCESS", "FAILED"]), "metadata": {"processed": steps * 10 + 5},
                 "sequence": steps + 1}
        if final["status"] == "FAILED":
            final["error"] = {"message": "chaos: the upstream refused", "type": "UpstreamError"}
        if self._until_acknowledged(op, "PATCH", f"/activities/{answer['id']}", final) is not None:
            op.final, op.acknowledged = final, True

    def _webhook(self, op: Operation, chooser: random.Random) -> None:
        created = datetime.now(timezone.utc) - timedelta(seconds=chooser.randint(1, 60))
        event = provider_event("stripe", f"evt_{op.op_id}", "payment_intent.succeeded", created)
        entity = event["data"]["object"]["id"]
        op.entities.append(entity)
        op.events[entity] = "payment_intent.succeeded"
        path = f"/webhooks/stripe/{ORG}"
        deliveries = chooser.randint(1, 3)
        at_once = deliveries > 1 and chooser.random() < 0.4
        acknowledged = []

        def deliver() -> None:
            body, headers = signed_delivery("stripe", SECRET, event, self.stack.url + path)  # signed afresh, as Stripe re-signs
            if self._until_acknowledged(op, "POST", path, body, headers=headers, function="WebhookFunction") is not None:
                acknowledged.append(True)

        if at_once:
            threads = [threading.Thread(target=deliver) for _ in range(deliveries)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        else:
            for _ in range(deliveries):
                deliver()
        op.acknowledged = bool(acknowledged)

    # --- one write, retried as the README says ----------------------------------------------

    def _until_acknowledged(self, op: Operation, method: str, path: str, body: Any, key: Optional[str] = None,
                            headers: Optional[dict] = None, function: str = "RecordFunction") -> Optional[dict]:
        """The 2xx answer's JSON, or None after OP_SECONDS of retries or a refusal (a 4xx other than 409 "still running")."""
        deadline = time.monotonic() + OP_SECONDS
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"content-type": "application/json", "authorization": f"Bearer {self.writer}", **(headers or {})}
        if key:
            sent["idempotency-key"] = key
        while time.monotonic() < deadline:
            if not self.stack.up.wait(timeout=5):
                continue
            started = time.monotonic()
            status, answer_headers, payload = _send(self.stack.url, method, path, data, sent)
            attempt = Attempt(function, started, time.monotonic(), status, bool(answer_headers.get("retry-after")),
                              payload[:300].decode(errors="replace"))
            with self._lock:
                self.attempts.append(attempt)
            if status is not None and 200 <= status < 300:
                return json.loads(payload or b"null")
            if status is None or status >= 500:
                wait = _retry_after(answer_headers) if status == 503 else 1.0
                time.sleep(min(wait, 10))
                continue
            if status == 409 and b"still running" in payload:
                time.sleep(1.0)
                continue
            op.refused.append(f"{method} {path}: {status} {attempt.body}")
            return None
        return None

    # --- the verdict -----------------------------------------------------------------------

    def _verify(self) -> dict:
        self._drain_webhooks()
        listed = self._list_everything()
        by_entity: dict[str, list[dict]] = {}
        for item in listed:
            by_entity.setdefault(item["entity"]["id"], []).append(item)
        lost, duplicated, wrong, unfinished, unacknowledged_present = [], [], [], [], 0
        for op in self.operations:
            for entity in op.entities:
                found = by_entity.get(entity, [])
                if len(found) > 1:
                    duplicated.append((op.kind, entity, [i["id"] for i in found]))
                if not found:
                    if op.acknowledged or (op.kind == "job" and op.started):
                        lost.append((op.kind, entity))
                    continue
                if not op.acknowledged:
                    unacknowledged_present += 1
                item = found[0]
                if item["event"] != op.events[entity] or (entity in op.ids and op.ids[entity] != item["id"] and len(found) == 1):
                    wrong.append((op.kind, entity, item["event"], op.events[entity], item["id"], op.ids.get(entity)))
            if op.kind == "job" and op.final is not None and len(by_entity.get(op.op_id, [])) == 1:
                entry = self._read(by_entity[op.op_id][0]["id"])
                if entry.get("status") != op.final["status"] or entry.get("metadata", {}).get("processed") != op.final["metadata"]["processed"]:
                    unfinished.append((op.op_id, entry.get("status"), entry.get("metadata")))
        fivexx = self._five_hundreds()
        acknowledged_writes = sum(len(op.entities) for op in self.operations if op.acknowledged)
        return {
            "operations": len(self.operations),
            "by_kind": dict(Counter(op.kind for op in self.operations)),
            "acknowledged": sum(op.acknowledged for op in self.operations),
            "acknowledged_entries": acknowledged_writes,
            "attempts": len(self.attempts),
            "lost": len(lost), "duplicated": len(duplicated), "wrong_content": len(wrong), "jobs_not_final": len(unfinished),
            "unacknowledged_but_present": unacknowledged_present,
            "refused_4xx": sum(len(op.refused) for op in self.operations),
            "5xx": dict(fivexx),
            "faults": dict(self.faults),
            "dead_lettered": self.dead_lettered,
            "stack_log": self._diagnose(),
            "examples": {"lost": lost[:5], "duplicated": duplicated[:5], "wrong_content": wrong[:5], "jobs_not_final": unfinished[:5],
                         "refused_4xx": [r for op in self.operations for r in op.refused][:5],
                         "5xx": [a.__dict__ for a in self.attempts if a.status and a.status >= 500][:8]},
        }

    def _five_hundreds(self) -> Counter:
        kinds: Counter = Counter()
        for attempt in self.attempts:
            if attempt.status is None or attempt.status < 500:
                continue
            if attempt.status == 503 and attempt.retry_after:
                kinds["503 with Retry-After"] += 1
            elif attempt.status == 500 and any(attempt.started <= to and attempt.ended >= since and function == attempt.function
                                               for since, to, function in self.kills):
                kinds["500 environment killed under it"] += 1
            else:
                kinds[f"{attempt.status} {'with' if attempt.retry_after else 'without'} Retry-After"] += 1
        return kinds

    def _diagnose(self) -> dict:
        """What the stack's log says about the failures: function errors by type, and the service's own error lines."""
        text = (self.folder / "serve.log").read_text(errors="replace")
        errors = Counter(f"{function} {kind}" for function, kind in re.findall(r"(\w+Function) failed \(([\w.]+)\)", text))
        logged = [line for line in text.splitlines() if '"level":"ERROR"' in line.replace(" ", "")]
        messages = Counter()
        for line in logged:
            try:
                document = json.loads(line[line.index("{"):])
                messages[f"{document.get('function_name', '?')}: {str(document.get('message'))[:120]}"] += 1
            except ValueError:
                messages[line[:160]] += 1
        return {"function_errors": dict(errors), "cold_starts_over_init_and_timeout": text.count("init took over"),
                "integration_timeouts": text.count("did not answer within the integration timeout"),
                "error_logs": dict(messages.most_common(8)), "log": str(self.folder / "serve.log")}

    def _drain_webhooks(self, timeout: float = 120) -> None:
        """Wait for the webhook queue to empty; redrive what reached its dead-letter queue (counted) and wait again."""
        self.dead_lettered = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queue = self._local("GET", "/_local/queues/WebhookQueue")
            dead = self._local("GET", "/_local/queues/WebhookDeadLetters")
            if dead["visible"]:
                self.dead_lettered += dead["visible"]
                self._local("POST", "/_local/queues/WebhookDeadLetters/redrive")
            elif queue["visible"] == 0 and queue["in_flight"] == 0:
                return
            time.sleep(0.5)

    def _list_everything(self) -> list[dict]:
        frm = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        to = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        items, cursor = [], None
        while True:
            path = f"/activities?from={frm}&to={to}&limit=200" + (f"&cursor={urllib.request.quote(cursor)}" if cursor else "")
            page = self._read_path(path)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def _read(self, entry_id: str) -> dict:
        return self._read_path(f"/activities/{entry_id}")

    def _read_path(self, path: str) -> dict:
        for _ in range(20):
            status, _, payload = _send(self.stack.url, "GET", path, None, {"authorization": f"Bearer {self.reader}"})
            if status == 200:
                return json.loads(payload)
            time.sleep(1)
        raise AssertionError(f"GET {path} kept failing after the run: {status} {payload[:300]!r}")

    def _local(self, method: str, path: str) -> dict:
        status, _, payload = _send(self.stack.url, method, path, None, {"x-activitylog-local": "1"})
        assert status == 200, (path, status, payload)
        return json.loads(payload)


# --- processes and HTTP ------------------------------------------------------------------------


def _send(url: str, method: str, path: str, data: Optional[bytes], headers: dict) -> tuple[Optional[int], dict, bytes]:
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_SECONDS) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
    except (OSError, urllib.error.URLError, ValueError, http.client.HTTPException):
        # refused, reset, timed out, or cut mid-answer by a kill (IncompleteRead): no answer, so retry
        return None, {}, b""


def _retry_after(headers: dict) -> float:
    try:
        return max(0.2, float(headers.get("retry-after", 1)))
    except ValueError:
        return 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _ppid(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def _variable(pid: int, name: bytes) -> Optional[bytes]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            for pair in environ.read().split(b"\0"):
                if pair.startswith(name + b"="):
                    return pair[len(name) + 1:]
    except OSError:
        pass
    return None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}") and not _zombie(pid):
        time.sleep(0.1)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True
