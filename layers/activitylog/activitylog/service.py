"""The operations behind the API: record, record a batch, read one, update a job, list.

Handlers call these with a ``Caller`` built from verified token claims only; the org
never comes from a body or a query string.

>>> service = ActivityService.from_environment()
>>> entry = service.record(caller, NewEntry.model_validate(body))
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Optional

from activitylog import cursor, ids, keys
from activitylog.bodies import BodyStore
from activitylog.config import Settings, cursor_key, settings
from activitylog.diff import changes as diff_changes
from activitylog.entry import Entry, Status
from activitylog.errors import BadRequest, Conflict, Forbidden, NotFound
from activitylog.filters import ListRequest
from activitylog.merge import Page, merge_newest_first
from activitylog.scopes import ROUTE_SCOPES
from activitylog.store import EntryStore, bind

if TYPE_CHECKING:  # pydantic stays off the read path; writes import it when they run
    from activitylog.inputs import EntryUpdate, NewEntry

MAX_BATCH = 100


@dataclass(frozen=True)
class Caller:
    """Who is calling, from the verified JWT: the org, the subject and its scopes."""

    org: str
    subject: str
    scopes: frozenset[str]
    name: Optional[str] = None

    def require(self, scopes: frozenset[str]) -> None:
        if not self.scopes & scopes:
            raise Forbidden(f"this token needs one of the scopes: {', '.join(sorted(scopes))}", "scope")


@dataclass
class ListResult:
    items: list[dict]
    next_cursor: Optional[str]
    page: Page

    def to_dict(self) -> dict:
        return {"items": self.items, "next_cursor": self.next_cursor}


class ActivityService:
    def __init__(self, config: Settings, store: EntryStore) -> None:
        self.config = config
        self.store = store

    @classmethod
    def from_environment(cls) -> "ActivityService":
        config = settings()
        bind(config.table_name)
        return cls(config, EntryStore(BodyStore(config.body_bucket)))

    # -- writes -------------------------------------------------------------------------

    def record(self, caller: Caller, new: NewEntry) -> Entry:
        caller.require(ROUTE_SCOPES["POST /activities"])
        entry = self._new_entry(caller, new)
        self.store.put(caller.org, entry, self.config.org(caller.org).shards)
        return entry

    def record_batch(self, caller: Caller, documents: Any) -> dict:
        """Validate every entry; write the valid ones in one all-or-nothing transaction.

        The answer has one result per input, in order: ``accepted`` with the new id, or
        ``rejected`` with the field and reason. A failed write rejects the whole batch.
        """
        from pydantic import ValidationError

        from activitylog.inputs import NewEntry, validation_message

        caller.require(ROUTE_SCOPES["POST /activities/batch"])
        if not isinstance(documents, list) or not documents:
            raise BadRequest("entries must be a non-empty list", "entries")
        if len(documents) > MAX_BATCH:
            raise BadRequest(f"entries holds {len(documents)} entries; at most {MAX_BATCH} per batch", "entries")
        results: list[dict] = []
        accepted: list[Entry] = []
        for index, document in enumerate(documents):
            try:
                entry = self._new_entry(caller, NewEntry.model_validate(document))
            except ValidationError as error:
                field, message = validation_message(error)
                results.append({"index": index, "status": "rejected", "field": f"entries.{index}.{field}", "reason": message})
                continue
            except BadRequest as error:
                results.append({"index": index, "status": "rejected", "field": f"entries.{index}.{error.field}", "reason": error.message})
                continue
            accepted.append(entry)
            results.append({"index": index, "status": "accepted", "id": entry.id})
        if accepted:
            self.store.put_all(caller.org, accepted, self.config.org(caller.org).shards)
        return {
            "accepted": len(accepted),
            "rejected": len(documents) - len(accepted),
            "results": results,
        }

    def update(self, caller: Caller, entry_id: str, update: EntryUpdate, attempts: int = 5) -> Entry:
        """Job progress and completion.

        Status only moves IN_PROGRESS → IN_PROGRESS | SUCCESS | WARNING | FAILED. A
        terminal entry is never changed again: repeating its own final status is an
        idempotent no-op, anything else is a 409. Metadata merges key by key; numbers
        merge by maximum, so a late or duplicated progress report never moves a counter
        backwards. Concurrent updates retry on a compare-and-set of version and status.
        """
        caller.require(ROUTE_SCOPES["PATCH /activities/{id}"])
        ids.check_entry_id(entry_id)
        shards = self.config.org(caller.org).shards
        for _ in range(attempts):
            entry = self.store.get(caller.org, entry_id, shards)
            if entry is None:
                raise NotFound(f"no entry {entry_id}", "id")
            current = entry.status
            if current.terminal:
                if update.status == current and update.metadata is None and update.error is None and update.event is None:
                    return entry
                raise Conflict(f"entry {entry_id} is {current.value} already; a finished entry does not change", "status")
            if update.status is not None:
                entry.status = update.status
            if update.event is not None:
                entry.event = update.event
            if update.metadata is not None:
                entry.metadata = merge_metadata(entry.metadata, update.metadata)
            if update.error is not None:
                entry.error = update.error.model_dump(exclude_none=True)
            if self.store.replace(caller.org, entry, shards, expected_status=current):
                return entry
        raise Conflict(f"entry {entry_id} is being updated by someone else; try again", "id")

    def _new_entry(self, caller: Caller, new: NewEntry) -> Entry:
        now = datetime.now(timezone.utc)
        occurred = new.occurred_at or now
        retention = self.config.org(caller.org).retention_days
        if occurred < now - timedelta(days=retention):
            raise BadRequest(f"occurred_at is older than the organization's {retention}-day retention", "occurred_at")
        changes = new.changes if new.changes is not None else diff_changes(new.before, new.after)
        return Entry(
            id=ids.new_id(occurred),
            type=new.type,
            status=new.status,
            actor=new.actor.model_dump(mode="json"),
            action=new.action,
            event=new.event,
            entity=new.entity.model_dump(mode="json") if new.entity else None,
            recorded_at=now,
            expires_at=int(occurred.timestamp()) + retention * 86400,
            changes=changes,
            metadata=new.metadata,
            error=new.error.model_dump(exclude_none=True) if new.error else None,
            correlation_id=new.correlation_id,
            retry_of=new.retry_of,
            source=new.source.model_dump() if new.source else None,
            recorded_by=caller.subject,
        )

    # -- reads --------------------------------------------------------------------------

    def get(self, caller: Caller, entry_id: str) -> Entry:
        caller.require(ROUTE_SCOPES["GET /activities/{id}"])
        ids.check_entry_id(entry_id)
        entry = self.store.get(caller.org, entry_id, self.config.org(caller.org).shards)
        if entry is None:
            # Another org's id answers exactly like a missing one.
            raise NotFound(f"no entry {entry_id}", "id")
        return entry

    def list(self, caller: Caller, request: ListRequest, now: Optional[datetime] = None) -> ListResult:
        """One page, newest first, of the entries matching every filter axis."""
        caller.require(ROUTE_SCOPES["GET /activities"])
        now = now or datetime.now(timezone.utc)
        f = request.filter
        digest = f.digest()
        if request.cursor:
            position = cursor.decode(cursor_key(), request.cursor, caller.org, digest)
            low_id, high_id, window_high = position.low_id, ids.before(position.position), position.high_id
        else:
            low, high = f.window(now)
            low_id, high_id = ids.lower_bound(low), ids.upper_bound(high)
            window_high = high_id
        plan = keys.plan(
            caller.org,
            self.config.org(caller.org).shards,
            types=f.types,
            statuses=f.statuses,
            user=f.user,
            entity_type=f.entity_type,
            entity_id=f.entity_id,
        )
        now_seconds = time.time()

        def fetch(branch, start_key, limit):
            return self.store.fetch(branch, low_id, high_id, start_key, limit, plan)

        page = merge_newest_first(
            plan.branches,
            fetch,
            request.limit,
            keep=lambda item: item.expires_at >= now_seconds,  # TTL deletes lag by days
        )
        next_cursor = None
        if page.has_more and page.items:
            next_cursor = cursor.encode(cursor_key(), caller.org, digest, page.last_id, (low_id, window_high))
        return ListResult([self.store.list_view(item) for item in page.items], next_cursor, page)


def merge_metadata(current: dict, update: dict) -> dict:
    """Deep-merge ``update`` into ``current``; numbers keep the larger value (counters only grow).

    >>> merge_metadata({"processed": 500, "job": {"batch": 1}}, {"processed": 300, "job": {"total": 9}})
    {'processed': 500, 'job': {'batch': 1, 'total': 9}}
    """
    merged = dict(current)
    for key, value in update.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key] = merge_metadata(old, value)
        elif _is_number(old) and _is_number(value):
            merged[key] = max(old, value)
        else:
            merged[key] = value
    return merged


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
