"""Streams on the local stack: the delay from a write to its delivery, a destination's rate, isolation, backfill.

One ``activitylog serve --allow-loopback-streams`` (its fan-out, FIFO lanes and delivery function in their execution
environments) and HTTP receivers on 127.0.0.1 that verify each request's Standard Webhooks signature:

- **delay**: entries written at ``--rate`` per second (batches of 10 every 0.1 s) for ``--seconds``; each entry's delay
  is its arrival at the receiver less its id's time (when the API recorded it): p50 and p95 (target p95 <= 5 s).
- **rate**: a backlog of ``--backlog`` entries (the stream paused while they are written, then resumed) drained by the
  pipeline, batched as it sends (up to 500 per request); the baseline, in the same run: the same events sent one
  request per entry through the same destination code.
- **isolation**: the delay of a stream while another of the org's streams answers 500 the whole time, against the
  same two streams with the neighbour answering 200 for as long (the baseline: the fan-out's work is the same).
- **backfill**: an org of ``--entries`` entries over 29 days; a stream created with ``backfill_days: 30`` receives
  them all: entries per second (the issue's figure is a 200k-entry org; ``--entries`` smaller says so in the JSON).

    .venv/bin/python bench/streams.py                                   # the closing figures: 5 minutes at 100/s, 200k backfill
    .venv/bin/python bench/streams.py --seconds 20 --backlog 1000 --entries 2000   # a smoke run, about 2 minutes
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import ROOT, log

sys.path[:0] = [str(ROOT / "layers" / "activitylog")]

from tests.support.stack import start_stack, stop_stack, wait_for  # noqa: E402
from tests.support.streams import SECRET, Receiver  # noqa: E402

from activitylog import ids  # noqa: E402

ORG, OTHER_ORG, BACKFILL_ORG = "org_bench_stream", "org_bench_lanes", "org_bench_backfill"


class TimedReceiver(Receiver):
    """A receiver that notes when each event arrived."""

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
    parser.add_argument("--seconds", type=float, default=300, help="length of the delay phase (the figure: 300)")
    parser.add_argument("--rate", type=int, default=100, help="entries per second written")
    parser.add_argument("--isolation-seconds", type=float, default=None, help="length of the isolation phase (default: a fifth of --seconds, at least 20)")
    parser.add_argument("--backlog", type=int, default=5000, help="entries drained for the rate figure")
    parser.add_argument("--entries", type=int, default=200_000, help="the backfilled org's entries (the issue's figure: 200,000)")
    return parser.parse_args()


def entry(n: int, label: str, occurred_at: datetime | None = None) -> dict:
    document = {"type": "USER_ACTION", "status": "SUCCESS", "action": "updated", "event": f"Contact updated · {label} {n}",
                "actor": {"kind": "user", "id": f"u_{n % 40}", "name": f"Member {n % 40}"},
                "entity": {"type": "contact", "id": f"c_{n}", "label": f"Contact {n}"}}
    if occurred_at:
        document["occurred_at"] = occurred_at.isoformat()
    return document


def write(stack, org: str, documents: list[dict]) -> list[str]:
    token = stack.token(org, "svc_bench", scopes=("write",))
    written = []
    for start in range(0, len(documents), 100):
        status, answer = stack.request("POST", "/activities/batch", token, {"entries": documents[start:start + 100]})
        assert status == 200, answer
        written += [item["id"] for item in answer["results"] if item["status"] == "accepted"]
    return written


def write_at_rate(stack, org: str, rate: int, seconds: float, label: str) -> list[str]:
    """``rate`` entries per second for ``seconds``, in batches of a tenth of a second."""
    token, written, n = stack.token(org, "svc_bench", scopes=("write",)), [], 0
    per_tick, started = max(1, rate // 10), time.monotonic()
    tick = 0
    while time.monotonic() - started < seconds:
        batch = [entry(n + i, label) for i in range(per_tick)]
        n += per_tick
        status, answer = stack.request("POST", "/activities/batch", token, {"entries": batch})
        assert status == 200, answer
        written += [item["id"] for item in answer["results"] if item["status"] == "accepted"]
        tick += 1
        time.sleep(max(0.0, started + tick * 0.1 - time.monotonic()))
    return written


def create(stack, org: str, url: str, **fields) -> dict:
    token = stack.token(org, "u_admin", scopes=("admin",))
    body = {"name": fields.pop("name", "bench"), "destination": {"kind": "https", "url": url}, "secret": SECRET,
            "filter": {"type": ["USER_ACTION"]}, **fields}
    status, stream = stack.request("POST", "/settings/streams", token, body)
    assert status == 201, stream
    return stream


def delays(receiver: TimedReceiver, written: list[str], timeout: float) -> list[float]:
    wait_for(lambda: all(entry_id in receiver.arrived for entry_id in written), timeout=timeout, interval=0.5)
    return [receiver.arrived[entry_id] - ids.occurred_at(entry_id).timestamp() for entry_id in written]


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 3), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
            "count": len(ordered)}


def sending_rate(url: str, events: list[dict], per_request: int) -> float:
    """Entries/s through the destination code alone (what the delivery function calls), ``per_request`` a request."""
    from activitylog.streams import destinations

    target = destinations.destination("https", {"url": url}, SECRET, allow_loopback=True)
    started = time.monotonic()
    for start in range(0, len(events), per_request):
        assert target.send(events[start : start + per_request]).ok
    return len(events) / (time.monotonic() - started)


def main() -> None:
    args = arguments()
    isolation_seconds = args.isolation_seconds or max(20.0, args.seconds / 5)
    figures: dict = {"bench": "streams", "rate": args.rate, "seconds": args.seconds}
    with tempfile.TemporaryDirectory() as folder:
        stack = start_stack(Path(folder), "--no-seed", "--allow-loopback-streams", "--poll-seconds", "0.1",
                            "--ttl-sweep-seconds", "3600")
        receivers = [TimedReceiver() for _ in range(4)]
        good, broken, drain, backfilled = receivers
        try:
            log(f"delay: {args.rate} entries/s for {args.seconds:.0f} s to one stream …")
            create(stack, ORG, good.url)
            time.sleep(2)
            written = write_at_rate(stack, ORG, args.rate, args.seconds, "delay")
            figures["written_per_s"] = round(len(written) / args.seconds, 1)  # what the local stack's API took
            figures["delay_s"] = percentiles(delays(good, written, timeout=120))
            log(f"  {figures['delay_s']} at {figures['written_per_s']} entries/s written")

            # The baseline beside it: the same two streams, the neighbour healthy, for as long.
            create(stack, ORG, broken.url, name="neighbour")
            time.sleep(2)
            for label, answer in (("healthy", 200), ("failing", 500)):
                log(f"isolation: another stream of the org answers {answer}, {isolation_seconds:.0f} s …")
                broken.status, before = answer, broken.requests
                written = write_at_rate(stack, ORG, args.rate, isolation_seconds, f"isolation-{label}")
                figures[f"isolation_{label}_written_per_s"] = round(len(written) / isolation_seconds, 1)
                figures[f"delay_with_a_{label}_neighbour_s"] = percentiles(delays(good, written, timeout=120))
                figures[f"{label}_neighbour_requests"] = broken.requests - before
                log(f"  {figures[f'delay_with_a_{label}_neighbour_s']} (the neighbour was sent {broken.requests - before} requests)")

            log(f"rate: a backlog of {args.backlog} entries drained …")
            stream = create(stack, OTHER_ORG, drain.url)
            admin = stack.token(OTHER_ORG, "u_admin", scopes=("admin",))
            stack.request("POST", f"/settings/streams/{stream['id']}/pause", admin)
            backlog = write(stack, OTHER_ORG, [entry(n, "backlog") for n in range(args.backlog)])
            time.sleep(3)  # the fan-out has written every waiting entry
            started = time.monotonic()
            stack.request("POST", f"/settings/streams/{stream['id']}/resume", admin)
            wait_for(lambda: all(entry_id in drain.arrived for entry_id in backlog), timeout=600, interval=0.2)
            figures["batched_entries_per_s"] = round(len(backlog) / (time.monotonic() - started), 1)
            sample = list(drain.events)[: min(1000, len(backlog))]
            figures["destination_batched_per_s"] = round(sending_rate(drain.url, sample, 500), 1)
            figures["one_request_per_entry_per_s"] = round(sending_rate(drain.url, sample, 1), 1)
            log(f"  the pipeline drained {figures['batched_entries_per_s']}/s; the destination alone: batched "
                f"{figures['destination_batched_per_s']}/s against one request per entry "
                f"{figures['one_request_per_entry_per_s']}/s (the baseline)")

            log(f"backfill: {args.entries} entries over 29 days …")
            rng, now = random.Random(7), datetime.now(timezone.utc)
            times = sorted(now - timedelta(seconds=rng.uniform(60, 29 * 86400)) for _ in range(args.entries))
            history = write(stack, BACKFILL_ORG, [entry(n, "history", at) for n, at in enumerate(times)])
            started = time.monotonic()
            create(stack, BACKFILL_ORG, backfilled.url, backfill_days=30)
            wait_for(lambda: len(backfilled.arrived) >= len(history), timeout=3600, interval=0.5)
            seconds = time.monotonic() - started
            figures["backfill"] = {"entries": len(history), "of_a_200k_org": len(history) >= 200_000, "entries_per_s": round(len(history) / seconds, 1),
                                   "seconds": round(seconds, 1), "in_id_order": [e["id"] for e in backfilled.events] == sorted(history)}
            log(f"  {figures['backfill']}")
        finally:
            for receiver in receivers:
                receiver.close()
            stop_stack(stack)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
