"""Alerts on the local stack: the delay from a write to its notification, and a burst grouped into one.

One ``activitylog serve --allow-loopback-streams`` (its streams' fan-out, the alerts' delayed queue and function in
their execution environments) and an HTTP receiver on 127.0.0.1 that verifies each notification's Standard Webhooks
signature:

- **latency**: ``--alerts`` alerts, each on one job's failures (``entity_id``); one FAILED entry per alert written at a
  random moment over ``--spread`` seconds; each notification's delay is its arrival less the entry id's time (when
  the API recorded it): p50 and p95 (target p95 <= 60 s: the window gathers a burst for 30 s, then tells it).
  The baseline, in the same run: a stream on the same entries, delivered through the same fan-out.
- **grouping**: a burst of ``--burst`` failures of one fresh alert's job over 10 s: one notification, counting them all.
- **rate** (``--rate-check``): a second burst 20 s after the first was told: told once more, no sooner than 5 minutes
  after the first (the run is then about 6 minutes).

    .venv/bin/python bench/alerts.py                  # about a minute and a half
    .venv/bin/python bench/alerts.py --rate-check     # with the 5-minute rate, about 7 minutes
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from common import ROOT, log

sys.path[:0] = [str(ROOT / "layers" / "activitylog")]

from tests.support.receiver import Receiver as HttpReceiver  # noqa: E402
from tests.support.stack import start_stack, stop_stack, wait_for  # noqa: E402
from tests.support.streams import SECRET, Receiver  # noqa: E402

from activitylog import ids  # noqa: E402

ORG = "org_bench_alerts"


class Notifications:
    """The alerts' URL: each signed document kept with when it arrived."""

    def __init__(self) -> None:
        from standardwebhooks.webhooks import Webhook

        self.webhook, self.arrived, self.lock = Webhook(SECRET), [], threading.Lock()
        self.http = HttpReceiver(self._answer).__enter__()
        self.url = self.http.url("/slack")

    def _answer(self, request):
        document = self.webhook.verify(request.body, {k.lower(): v for k, v in request.headers.items()})
        with self.lock:
            self.arrived.append((time.time(), document))
        return 200, b"ok"

    def of(self, alert_id: str) -> list[tuple[float, dict]]:
        with self.lock:
            return [(at, d) for at, d in self.arrived if d["alert"]["id"] == alert_id]

    def close(self) -> None:
        self.http.__exit__(None, None, None)


class TimedStream(Receiver):
    """The baseline: a stream's receiver noting when each event arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}
        arrived = self.arrived

        class Noting(list):
            def extend(self, events):
                now = time.time()
                for event in events:
                    arrived.setdefault(event["id"], now)
                super().extend(events)

        self.events = Noting()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=40, help="alerts, one failing entry each (the latency sample)")
    parser.add_argument("--spread", type=float, default=20.0, help="seconds over which their entries are written")
    parser.add_argument("--burst", type=int, default=12, help="entries of the grouped burst")
    parser.add_argument("--rate-check", action="store_true", help="also a second burst, told after 5 minutes")
    return parser.parse_args()


def failed_job(job: str) -> dict:
    return {"type": "BACKGROUND_JOB", "status": "FAILED", "action": "synced", "event": f"SQUARE_SYNC · {job}",
            "actor": {"kind": "system", "id": "system", "name": "system"},
            "entity": {"type": "job", "id": job, "label": f"Square sync {job}"}, "error": {"message": "Square 503"}}


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 2), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max": round(ordered[-1], 2), "count": len(ordered)}


def main() -> None:
    args = arguments()
    figures: dict = {"bench": "alerts", "alerts": args.alerts, "burst_entries": args.burst}
    with tempfile.TemporaryDirectory() as folder:
        stack = start_stack(Path(folder), "--no-seed", "--allow-loopback-streams", "--poll-seconds", "0.1",
                            "--ttl-sweep-seconds", "3600")
        told, baseline = Notifications(), TimedStream()
        try:
            member = stack.token(ORG, "u_bench", scopes=("read",))
            writer = stack.token(ORG, "svc_bench", scopes=("write",))
            admin = stack.token(ORG, "u_admin", scopes=("admin",))

            def alert(job: str) -> str:
                status, made = stack.request("POST", "/alerts", member, {
                    "name": f"{job} failures", "filter": {"type": ["BACKGROUND_JOB"], "status": ["FAILED"],
                                                          "entity_type": "job", "entity_id": job},
                    "destination": {"kind": "https", "url": told.url}, "secret": SECRET})
                assert status == 201, made
                return made["id"]

            def record(job: str) -> str:
                status, answer = stack.request("POST", "/activities", writer, failed_job(job))
                assert status == 201, answer
                return answer["id"]

            jobs = [f"job_{n}" for n in range(args.alerts)]
            alert_of = {job: alert(job) for job in jobs}
            status, stream = stack.request("POST", "/settings/streams", admin, {
                "name": "baseline", "destination": {"kind": "https", "url": baseline.url}, "secret": SECRET,
                "filter": {"type": ["BACKGROUND_JOB"], "status": ["FAILED"]}})
            assert status == 201, stream
            time.sleep(2)

            log(f"latency: {args.alerts} alerts, one failure each over {args.spread:.0f} s …")
            rng, written = random.Random(23), {}
            moments = sorted((rng.uniform(0, args.spread), job) for job in jobs)
            started = time.monotonic()
            for at, job in moments:
                time.sleep(max(0.0, started + at - time.monotonic()))
                written[job] = record(job)
            wait_for(lambda: all(told.of(alert_of[job]) for job in jobs), timeout=180, interval=0.5)
            wait_for(lambda: all(entry_id in baseline.arrived for entry_id in written.values()), timeout=60, interval=0.2)
            delays = [told.of(alert_of[job])[0][0] - ids.occurred_at(written[job]).timestamp() for job in jobs]
            figures["alert_latency_s"] = percentiles(delays)
            figures["stream_latency_s"] = percentiles(
                [baseline.arrived[e] - ids.occurred_at(e).timestamp() for e in written.values()])
            figures["one_notification_each"] = all(
                len(told.of(alert_of[j])) == 1 and told.of(alert_of[j])[0][1]["count"] == 1 for j in jobs)
            log(f"  alerts {figures['alert_latency_s']}; the stream beside them {figures['stream_latency_s']}")

            log(f"grouping: a burst of {args.burst} failures of one job over 10 s …")
            burst_alert = alert("job_burst")
            time.sleep(2)
            first = time.time()
            burst = []
            for _ in range(args.burst):
                burst.append(record("job_burst"))
                time.sleep(10 / args.burst)
            wait_for(lambda: told.of(burst_alert), timeout=120, interval=0.5)
            time.sleep(10)  # nothing more comes for it
            notes = told.of(burst_alert)
            figures["burst"] = {"notifications": len(notes), "count": notes[0][1]["count"],
                                "text": notes[0][1]["text"].split(" <")[0],
                                "seconds_after_its_first_entry": round(notes[0][0] - first, 1)}
            log(f"  {figures['burst']}")

            if args.rate_check:
                log("rate: a second burst 20 s after the first was told …")
                time.sleep(20)
                for _ in range(3):
                    record("job_burst")
                wait_for(lambda: len(told.of(burst_alert)) >= 2, timeout=420, interval=1)
                notes = told.of(burst_alert)
                apart = datetime.fromisoformat(notes[1][1]["until"]) - datetime.fromisoformat(notes[0][1]["until"])
                figures["rate"] = {"second_count": notes[1][1]["count"], "seconds_apart": round(apart.total_seconds(), 1),
                                   "at_least_5_minutes": apart.total_seconds() >= 300}
                log(f"  {figures['rate']}")
            figures["target_met"] = figures["alert_latency_s"]["p95"] <= 60 and figures["burst"]["notifications"] == 1 \
                and figures["burst"]["count"] == args.burst
        finally:
            told.close()
            baseline.close()
            stop_stack(stack)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
