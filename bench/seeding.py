"""The seed: one org, ``DAYS`` days of entries from the shared generator, written with BatchWriteItem.

Entries come from ``activitylog_local.generator`` (the measured distribution the demo org
shares its vocabulary with), built by the service and serialized by the store
(``internals``); one worker process generates while several threads write.
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import random
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from activitylog.views import detail_view
from activitylog_local import generator
from common import DAYS, ORG, RETENTION_DAYS, TABLE, log
from sizes import stored_bytes

CHUNK = 2000  # entries per generation task
_SERVICE: dict = {}


def _service() -> Any:
    """Per process: the service whose entry construction and item serialization the seed uses."""
    if not _SERVICE:
        from activitylog.details import DetailStore
        from activitylog.config import Settings
        from activitylog.service import ActivityService
        from activitylog.store import EntryStore

        _SERVICE["service"] = ActivityService(Settings.from_environ(), EntryStore(DetailStore(None)))
    return _SERVICE["service"]


def build_entry(rng: random.Random, now: datetime, org: str) -> Any:
    """One entry of the measured distribution, built exactly as ``ActivityService.record`` builds it."""
    from ulid import ULID

    from internals import new_entry

    document, writer = generator.document(rng, generator.busy_moment(rng, now - timedelta(days=DAYS), now))
    entry = new_entry(_service(), org, writer, document)
    # A reproducible id with the same time part the service minted (ids.new_id's own rounding).
    ms = int(entry.occurred_at.timestamp() * 1000)
    entry.id = str(ULID.from_bytes(ms.to_bytes(6, "big") + rng.randbytes(10)))
    return entry


def item_for(entry: Any, org: str, shards: int) -> dict:
    from internals import stored_item

    return stored_item(_service().store, org, entry, shards, RETENTION_DAYS)


def detail_bytes(entry: Any) -> int:
    """The entry's size as JSON (its detail view): what "a 1 KB entry" means."""
    import json

    return len(json.dumps(detail_view(entry), default=str))


def _tallies() -> dict:
    return {"type": Counter(), "status": Counter(), "user": Counter(), "entity_type": Counter(),
            "record": Counter(), "detail_bytes": [], "stored_bytes": Counter(), "keys_only_bytes": Counter(),
            "index_items": Counter(), "offloaded": Counter(), "members": {}}


def generate_chunk(task: tuple) -> tuple[list[dict], dict]:
    """Entries ``[start, start+count)`` of the seed, as stored items, plus their tallies."""
    seed_value, index, count, now_iso, shards, org = task
    now = datetime.fromisoformat(now_iso)
    rng = random.Random(f"{seed_value}:{index}")
    items, tallies = [], _tallies()
    for n in range(count):
        entry = build_entry(rng, now, org)
        item = item_for(entry, org, shards)
        items.append(item)
        stored = stored_bytes(item)
        tallies["stored_bytes"].update(stored)
        tallies["index_items"].update(stored.keys())
        tallies["keys_only_bytes"].update(stored_bytes(item, keys_only=True))
        tallies["offloaded"]["bref" in item] += 1  # details past OFFLOAD_BYTES go to S3
        tallies["type"][entry.type.value] += 1
        tallies["status"][entry.status.value] += 1
        if entry.actor["kind"] == "user":
            tallies["user"][entry.actor["id"]] += 1
        if entry.entity:
            tallies["entity_type"][entry.entity["type"]] += 1
            tallies["record"][(entry.entity["type"], entry.entity["id"])] += 1
        if n % 20 == 0:
            tallies["detail_bytes"].append(detail_bytes(entry))
        _note_member(tallies["members"], entry)
    return items, tallies


def _note_member(members: dict, entry: Any) -> None:
    """What the members directory holds of the entry's team member (the write path's ``note_actors``)."""
    from activitylog.store.actors import members_in

    for member, named in members_in([entry]).items():
        held = members.setdefault(member, named)
        if held is not named:
            held.name, held.types, held.entity_types = named.name, held.types | named.types, held.entity_types | named.entity_types


def _write_batches(client: Any, batches: queue.Queue, written: list, lock: threading.Lock, failures: list) -> None:
    while (batch := batches.get()) is not None:
        try:
            request = {TABLE: [{"PutRequest": {"Item": item}} for item in batch]}
            attempt = 0
            while request:
                request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
                if request:
                    attempt += 1
                    time.sleep(min(0.05 * 2 ** attempt, 1.0))
            with lock:
                written[0] += len(batch)
        except BaseException as error:  # surfaced after the threads stop
            failures.append(error)


def seed(client: Any, count: int, now: datetime, shards: int, seed_value: int, writers: int, org: str = ORG,
         ids: list | None = None) -> dict:
    """Generate in a worker process, write with BatchWriteItem from several threads; the tallies
    (and every entry id written, into ``ids`` when given)."""
    tasks = [(seed_value, i, min(CHUNK, count - i * CHUNK), now.isoformat(), shards, org) for i in range(math.ceil(count / CHUNK))]
    batches: queue.Queue = queue.Queue(maxsize=writers * 8)
    written, lock, failures = [0], threading.Lock(), []
    totals = _tallies()
    started, next_report = time.perf_counter(), 0.1
    # Fork the generator before any writer thread exists (a fork copies no other thread's locks).
    with multiprocessing.get_context("fork").Pool(1) as pool:
        threads = [threading.Thread(target=_write_batches, args=(client, batches, written, lock, failures), daemon=True)
                   for _ in range(writers)]
        for thread in threads:
            thread.start()
        for items, tallies in pool.imap(generate_chunk, tasks):
            for key, value in tallies.items():
                if key == "members":
                    for member, named in value.items():
                        held = totals["members"].setdefault(member, named)
                        held.types |= named.types
                        held.entity_types |= named.entity_types
                else:
                    totals[key].update(value) if isinstance(value, Counter) else totals[key].extend(value)
            for i in range(0, len(items), 25):
                batches.put(items[i:i + 25])
            if ids is not None:
                ids.extend(item["sk"]["S"] for item in items)
            if failures:
                break
            if written[0] / count >= next_report:
                elapsed = time.perf_counter() - started
                log(f"  seeded {written[0]:>7,} / {count:,} entries  {elapsed:6.1f} s  {written[0] / elapsed:,.0f} entries/s")
                next_report = math.floor(written[0] / count * 10 + 1) / 10
    for _ in threads:
        batches.put(None)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    from activitylog.store.actors import write_member

    for member, named in totals["members"].items():  # the members directory, as the writes would leave it
        write_member(org, member, named, client=client, table=TABLE)
    totals["seconds"] = time.perf_counter() - started
    totals["written"] = written[0]
    log(f"  seeded {written[0]:>7,} / {count:,} entries  {totals['seconds']:6.1f} s")
    return totals


def subjects(tallies: dict) -> tuple[tuple[str, str], str, str]:
    """The longest contact history, the most active user and a mid one (the 7th): what the queries filter on."""
    record = max(((k, v) for k, v in tallies["record"].items() if k[0] == "contact"), key=lambda kv: (kv[1], kv[0]))[0]
    users = [user for user, _ in tallies["user"].most_common()]
    return record, users[0], users[min(6, len(users) - 1)]
