"""The re-stamp: a retention change applied to what existed before it.

Hot days: every entry of the org gets ``expires_at`` = when it occurred + the new period, so a
longer period keeps existing entries hot for longer and a shorter one sends the older ones to
the archive sooner (TTL deletes them; the archive writes their "expired" markers). An entry's
offloaded detail gets the new class's tag, so the detail bucket's rules expire it with its entry. Archive
days: every archive object of the org gets the new class's tag, which its lifecycle rule counts
from the object's creation.

It runs as a loop on the table's stream: a change writes the policy item, the stream hands
that to ``step`` (through the streams' fan-out and the ``RetentionChanges`` FIFO queue:
``activitylog.retention.changes``), which does one bounded chunk and writes its progress back
onto the policy item, which comes back the same way, until the state is ``done``. A newer change makes the
older loop's progress write fail, and that loop ends. It starts ``policy_seconds`` after the
change, when every container writes new entries with the new period already.

``Restamper(service, archive).step(org)`` does one chunk and answers the change's ``Restamp``: its state,
its phases left, where it stopped (``cursor``) and the entries and archive objects updated so far.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Protocol, cast

from activitylog import ids, keys
from activitylog.retention_policy import ARCHIVE, DONE, ENTRIES, RUNNING, Restamp, RetentionPolicy

if TYPE_CHECKING:
    from activitylog.service import ActivityService


class ArchiveTags(Protocol):
    """What the re-stamp needs of the archive (``activitylog.archive.store.ArchiveStore``)."""

    def retag(self, org: str, tag: str, after_key: Optional[str], limit: int) -> tuple[int, Optional[str]]: ...


class Restamper:
    PAGE = 500  # entries read per query
    BUDGET_SECONDS = 20.0  # work per step; the function's timeout is well above it

    def __init__(
        self, service: "ActivityService", archive: Optional[ArchiveTags], sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.service, self.archive, self.sleep = service, archive, sleep

    def on_stream(self, records: Iterable[Any]) -> list[str]:
        """A step for each org whose policy item a batch of stream records changed; the orgs, in order."""
        orgs = sorted(
            {keys.org_of(record.dynamodb.keys["pk"]) for record in records if record.event_name.name != "REMOVE"}
        )
        for org in orgs:
            self.step(org)
        return orgs

    def step(self, org: str) -> Restamp:
        """One chunk of the org's pending change; its progress is saved (or the change was superseded)."""
        policy = self.service.stored_policy(org)
        if policy is None or policy.restamp.state == DONE:
            return policy.restamp if policy else Restamp()
        self._wait_for_writers(policy)
        restamp = self._work(org, policy)
        if not self.service.restamp_progress(org, policy.version, restamp):
            from activitylog.observability import logger

            logger.info(
                "retention change superseded; its re-stamp stops", extra={"org_id": org, "version": policy.version}
            )
        return restamp

    def _wait_for_writers(self, policy: RetentionPolicy) -> None:
        """Until every container has re-read the policy: an entry written with the old period after the walk passed it would keep it."""
        ready = cast(datetime, policy.updated_at) + timedelta(
            seconds=self.service.config.policy_seconds
        )  # a change has its time
        wait = (ready - self.service.clock()).total_seconds()
        if wait > 0:
            self.sleep(wait)

    def _work(self, org: str, policy: RetentionPolicy) -> Restamp:
        done = policy.restamp
        cursor = json.loads(done.cursor) if done.cursor else {"phase": done.phases[0] if done.phases else None}
        entries, objects = done.entries, done.archive_objects
        deadline = time.monotonic() + self.BUDGET_SECONDS
        while cursor["phase"]:  # at least one chunk, then as many as the budget allows
            if cursor["phase"] == ENTRIES:
                entries += self._entries(org, policy, cursor)
            elif cursor["phase"] == ARCHIVE:
                objects += self._archive(org, policy, cursor)
            if cursor.get("finished"):
                cursor = {"phase": self._next_phase(done.phases, cursor["phase"])}
            if time.monotonic() >= deadline:
                break
        state = RUNNING if cursor["phase"] else DONE
        return Restamp(
            state, done.phases, json.dumps(cursor, sort_keys=True) if cursor["phase"] else None, entries, objects
        )

    @staticmethod
    def _next_phase(phases: tuple[str, ...], phase: str) -> Optional[str]:
        following = phases[phases.index(phase) + 1 :]
        return following[0] if following else None

    def _entries(self, org: str, policy: RetentionPolicy, cursor: dict) -> int:
        """One page of one shard: each entry whose expiry is not the policy's gets it, and its offloaded
        detail the policy's class first (so a run cut short between the two redoes both)."""
        service, shard = self.service, cursor.get("shard", 0)
        page, last = service.expiries(org, shard, cursor.get("after"), self.PAGE)
        changed = 0
        for entry_id, expires_at, detail_ref in page:
            wanted = policy.expires_at(ids.occurred_at(entry_id), service.storage(org).table_days)
            if expires_at == wanted:
                continue
            if detail_ref:
                service.detail_store.retag(detail_ref, policy.hot_days)
            if service.set_expiry(org, shard, entry_id, wanted):
                changed += 1
        if last:
            cursor["after"] = last
        elif shard + 1 < service.storage(org).read_shards:
            cursor.update(shard=shard + 1, after=None)
        else:
            cursor["finished"] = True
        return changed

    def _archive(self, org: str, policy: RetentionPolicy, cursor: dict) -> int:
        if self.archive is None:  # no archive in this deployment: nothing to re-tag
            cursor["finished"] = True
            return 0
        retagged, after = self.archive.retag(org, policy.archive_tag(), cursor.get("after"), self.PAGE)
        if after:
            cursor["after"] = after
        else:
            cursor["finished"] = True
        return retagged
