"""The store's services over a test table, random entries to fill it and a brute-force oracle of what a
list request must answer, shared by the store, fault and archive tests."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from activitylog import store
from activitylog.config import Settings
from activitylog.details import DetailStore
from activitylog.query.filters import parse_list_request
from activitylog.service import ActivityService, Caller

NOW = datetime.now(timezone.utc).replace(microsecond=0)
WRITER = Caller("org_a", "svc_importer", frozenset({"activity:write", "activity:read"}))
OTHER = Caller("org_b", "svc_importer", frozenset({"activity:write", "activity:read"}))
TYPES = ["USER_ACTION", "BACKGROUND_JOB", "WEBHOOK", "SYSTEM_EVENT"]
STATUSES = ["SUCCESS", "IN_PROGRESS", "WARNING", "FAILED"]
USERS = ["u_1", "u_2", "u_3"]
ENTITIES = ["contact", "release", "product"]


CURSOR_SECRET = "test-cursor-secret"


def service_for(table: str, shards: int, bucket: str | None = None) -> ActivityService:
    return ActivityService(Settings(table_name=table, detail_bucket=bucket, default_shards=shards, cursor_secret=CURSOR_SECRET), store.EntryStore(DetailStore(bucket)))


def random_documents(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    documents = []
    for n in range(count):
        user = rng.random() < 0.5
        entity = rng.random() < 0.8
        documents.append({
            "type": rng.choices(TYPES, weights=[5, 3, 2, 1])[0],
            "status": rng.choices(STATUSES, weights=[80, 5, 8, 7])[0],
            "actor": {"kind": "user", "id": rng.choice(USERS), "name": "User"} if user else {"kind": "system", "id": "system", "name": "system"},
            "action": "updated",
            "event": f"event {n}",
            "entity": {"type": rng.choice(ENTITIES), "id": f"r_{rng.randint(1, 4)}", "label": "x"} if entity else None,
            "occurred_at": (NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 3), milliseconds=n)).isoformat(),  # unique times: a stable order to compare
        })
    return documents


def write_all(service: ActivityService, caller: Caller, documents: list[dict]) -> list[dict]:
    """Write through the service's batch path; return the oracle's view of each entry."""
    written = []
    for start in range(0, len(documents), 100):
        chunk = documents[start : start + 100]
        result = service.record_batch(caller, chunk)
        assert result["rejected"] == 0, result
        for document, outcome in zip(chunk, result["results"]):
            written.append({**document, "id": outcome["id"]})
    return written


def oracle(entries: list[dict], params: dict) -> list[str]:
    types = set(params["type"].split(",")) if "type" in params else None
    statuses = set(params["status"].split(",")) if "status" in params else None
    # The default window ends at NOW: page_through lists with the same clock.
    low = datetime.fromisoformat(params["from"]) if "from" in params else NOW - timedelta(hours=24)
    high = datetime.fromisoformat(params["to"]) if "to" in params else NOW + timedelta(minutes=1)

    def matches(e: dict) -> bool:
        occurred = datetime.fromisoformat(e["occurred_at"])
        entity = e["entity"] or {}
        return (
            (types is None or e["type"] in types)
            and (statuses is None or e["status"] in statuses)
            and ("user" not in params or (e["actor"]["kind"] == "user" and e["actor"]["id"] == params["user"]))
            and ("entity_type" not in params or entity.get("type") == params["entity_type"])
            and ("entity_id" not in params or entity.get("id") == params["entity_id"])
            and low <= occurred <= high
        )

    return sorted((e["id"] for e in entries if matches(e)), reverse=True)


def page_through(service: ActivityService, caller: Caller, params: dict, limit: int) -> list[str]:
    seen, cursor_token = [], None
    for _ in range(1000):
        query = {**params, "limit": str(limit), **({"cursor": cursor_token} if cursor_token else {})}
        result = service.list(caller, parse_list_request(query), now=NOW)  # the oracle's clock, not the wall's
        seen += [item["id"] for item in result.items]
        cursor_token = result.next_cursor
        if not cursor_token:
            return seen
    raise AssertionError("paging did not end")


WINDOW = {"from": (NOW - timedelta(days=4)).isoformat(), "to": (NOW + timedelta(minutes=1)).isoformat()}
COMBINATIONS = [
    {},
    WINDOW,
    {**WINDOW, "type": "BACKGROUND_JOB"},
    {**WINDOW, "type": "USER_ACTION,WEBHOOK"},
    {**WINDOW, "status": "FAILED"},
    {**WINDOW, "status": "FAILED,WARNING"},
    {**WINDOW, "type": "BACKGROUND_JOB", "status": "FAILED,WARNING"},
    {**WINDOW, "user": "u_2"},
    {**WINDOW, "user": "u_2", "status": "SUCCESS"},
    {**WINDOW, "user": "u_2", "type": "USER_ACTION", "entity_type": "contact"},
    {**WINDOW, "entity_type": "product"},
    {**WINDOW, "entity_type": "product", "status": "FAILED"},
    {**WINDOW, "entity_type": "contact", "type": "WEBHOOK"},
    {**WINDOW, "entity_type": "contact", "entity_id": "r_2"},
    {**WINDOW, "entity_type": "contact", "entity_id": "r_2", "user": "u_1", "status": "SUCCESS,FAILED"},
    {"from": (NOW - timedelta(days=2)).isoformat(), "to": (NOW - timedelta(days=1)).isoformat(), "status": "WARNING"},
]
