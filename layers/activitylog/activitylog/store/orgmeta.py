"""The org's meta items (``keys.meta_pk``): the highest shard count it wrote with, its retention policy and how
far a change of it has been applied, its quotas. Part of ``EntryStore`` (a policy change, a quota's summary
are written together with their entry).
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Optional

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from activitylog import keys
from activitylog.entry import Entry
from activitylog.errors import Conflict
from activitylog.retention_policy import Restamp, RetentionPolicy
from activitylog.storage import OrgStorage
from activitylog.store.codec import epoch_ms, policy_of
from activitylog.store.models import EntryItem, PolicyItem, table_connection
from activitylog.store.privacy import privacy_of
from activitylog.store.retries import WRITE_ATTEMPTS, backoff, condition_failed


class OrgMeta:
    """The meta items' reads and writes (mixed into ``EntryStore``, whose ``_to_item`` and ``_retrying`` they use)."""

    if TYPE_CHECKING:  # EntryStore's, for the type checker

        def _to_item(self, where: OrgStorage, entry: Entry, sealed: bool = False) -> tuple[EntryItem, list[str]]: ...
        def _removed_on_failure(self, uploaded: list[str]) -> AbstractContextManager[None]: ...
        def _retrying(self, write: Callable[[], Any]) -> Any: ...
        def _prepared(self, where: OrgStorage, entries: list[Entry]) -> list[Entry]: ...

    def record_shards(self, where: OrgStorage) -> None:
        """Remember the highest shard count the org has written with (readers cover all of them)."""
        org, shards = where.org, where.write_shards
        connection = table_connection().connection
        try:
            connection.update_item(
                EntryItem.Meta.table_name,
                keys.meta_pk(org),
                keys.SHARDS_META,
                actions=[EntryItem.shards_written.set(shards)],
                condition=EntryItem.shards_written.does_not_exist() | (EntryItem.shards_written < shards),
            )
        except UpdateError as error:
            if not condition_failed(error):
                raise

    def take_quota(self, org: str, name: str, limit: int, expires_at: int) -> bool:
        """Count one use of an org's quota ``name`` (a meta item, gone by TTL after ``expires_at``);
        False, and nothing counted, once ``limit`` uses are counted. A conditional update: exact under concurrency.
        """
        connection = table_connection().connection
        try:
            connection.update_item(
                EntryItem.Meta.table_name,
                keys.meta_pk(org),
                keys.quota_sk(name),
                actions=[EntryItem.quota_used.add(1), EntryItem.expires_at.set(expires_at)],
                condition=EntryItem.quota_used.does_not_exist() | (EntryItem.quota_used < limit),
            )
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def count_over_quota(self, org: str, name: str, due_at: int, expires_at: int) -> None:
        """Count one use of quota ``name`` past its limit (one ADD, exact under concurrency), and make the
        window due (``open_jobs`` index, at ``due_at``) for the summary of what it did not record."""
        connection = table_connection().connection
        partition = keys.open_job_pk(zlib.crc32(f"{org}{keys.SEP}{name}".encode()) % keys.OPEN_JOB_PARTITIONS)
        connection.update_item(
            EntryItem.Meta.table_name,
            keys.meta_pk(org),
            keys.quota_sk(name),
            actions=[
                EntryItem.quota_over.add(1),
                EntryItem.expires_at.set(expires_at),
                EntryItem.opk.set(EntryItem.opk | partition),
                EntryItem.odl.set(EntryItem.odl | due_at),
            ],
        )

    def quota_window(self, org: str, name: str) -> Optional[tuple[int, int, Optional[int]]]:
        """``(uses counted, uses past the limit, when its summary is due)`` of quota window ``name``, read consistently."""
        try:
            item = EntryItem.get(
                keys.meta_pk(org), keys.quota_sk(name), consistent_read=True, attributes_to_get=["qn", "qo", "odl"]
            )
        except DoesNotExist:
            return None
        return int(item.quota_used or 0), int(item.quota_over or 0), int(item.odl) if item.odl else None

    def close_quota(self, where: OrgStorage, name: str, summary: Optional[Entry]) -> bool:
        """Write a quota window's ``summary`` entry and take the window out of the due ones, both or neither;
        False when it was closed already (the summary's id is derived: a second sweep finds it and writes nothing)."""
        org = where.org
        connection = table_connection().connection
        done: list[Action] = [EntryItem.opk.remove(), EntryItem.odl.remove()]
        if summary is None:
            connection.update_item(EntryItem.Meta.table_name, keys.meta_pk(org), keys.quota_sk(name), actions=done)
            return False
        summary = self._prepared(where, [summary])[0]  # (a system entry: it names no team member)
        item, uploaded = self._to_item(where, summary, sealed=True)
        window = EntryItem(keys.meta_pk(org), keys.quota_sk(name))

        def write() -> None:
            with TransactWrite(connection=connection, client_request_token=uuid.uuid4().hex) as transaction:
                transaction.save(item)  # conditional on its absence (the version attribute)
                transaction.update(window, actions=done, condition=EntryItem.odl.exists(), add_version_condition=False)

        try:
            with self._removed_on_failure(uploaded):
                self._retrying(write)
        except TransactWriteError as error:
            if not any(
                reason and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons or []
            ):
                raise
            connection.update_item(EntryItem.Meta.table_name, keys.meta_pk(org), keys.quota_sk(name), actions=done)
            return False
        return True

    def shards_written(self, org: str) -> int:
        """The highest shard count the org ever wrote with; 0 if none was recorded."""
        return self.org_meta(org)[0]

    def org_meta(self, org: str, consistent: bool = False) -> tuple[int, Optional[RetentionPolicy], Optional[dict]]:
        """The org's meta items in one read: its highest shard count (0 if none), its own retention policy and its
        privacy settings (``store.privacy``)."""
        shards, policy, privacy = 0, None, None
        # BatchGetItem of the two keys (not a Query): every role that reads entries by id may read these too.
        client, table = table_connection().connection.client, EntryItem.Meta.table_name
        wanted = {
            table: {
                "Keys": [{"pk": {"S": keys.meta_pk(org)}, "sk": {"S": name}} for name in keys.META_ITEMS],
                "ConsistentRead": consistent,
            }
        }
        found: list[dict] = []
        for attempt in range(WRITE_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=wanted)
            found += answer.get("Responses", {}).get(table, [])
            wanted = answer.get("UnprocessedKeys") or {}
            if not wanted:
                break
            backoff(attempt)
        for raw in found:
            if raw["sk"]["S"] == keys.SHARDS_META:
                shards = int(raw.get("shw", {}).get("N", 0))
            elif raw["sk"]["S"] == keys.RETENTION_META:
                policy = policy_of(PolicyItem.from_raw_data(raw))
            elif raw["sk"]["S"] == keys.PRIVACY_META:
                privacy = privacy_of(raw)
        return shards, policy, privacy

    # -- the org's retention policy -------------------------------------------------------

    def change_retention(self, where: OrgStorage, policy: RetentionPolicy, entry: Entry) -> RetentionPolicy:
        """Write a new policy and the entry that records the change, both or neither.

        The policy is written only over the version it was made from (``policy.version``):
        a change made meanwhile by someone else is a ``Conflict``, and nothing is written.
        """
        org = where.org
        item = PolicyItem(
            keys.meta_pk(org),
            keys.RETENTION_META,
            hot_days=policy.hot_days,
            archive_days=policy.archive_days,
            updated_at=epoch_ms(policy.updated_at),
            updated_by=policy.updated_by,
            restamp_state=policy.restamp.state,
            restamp_phases=",".join(policy.restamp.phases) or None,
            restamp_entries=0,
            restamp_objects=0,
        )
        if policy.version:
            item.version = policy.version  # the version attribute makes the write conditional on it (absent: on none)
        entry = self._prepared(where, [entry])[0]
        entry_item, uploaded = self._to_item(
            replace(where, hot_days=policy.hot_days), entry, sealed=True
        )  # recorded under the new policy
        token = hashlib.sha256(f"retention {org} {entry.id}".encode()).hexdigest()[:36]

        def write() -> None:
            with TransactWrite(connection=table_connection().connection, client_request_token=token) as transaction:
                transaction.save(item)
                transaction.save(entry_item)

        try:
            with self._removed_on_failure(uploaded):
                self._retrying(write)
        except TransactWriteError as error:
            if any(reason and reason.code == "ConditionalCheckFailed" for reason in error.cancellation_reasons):
                raise Conflict("the retention policy was changed meanwhile; read it again", "retention") from None
            raise
        return policy_of(item)

    def restamp_progress(self, org: str, version: int, restamp: Restamp) -> bool:
        """Record how far a change has been applied; False when a newer change has replaced it."""
        connection = table_connection().connection
        actions = [
            PolicyItem.restamp_state.set(restamp.state),
            PolicyItem.restamp_entries.set(restamp.entries),
            PolicyItem.restamp_objects.set(restamp.archive_objects),
        ]
        actions.append(
            PolicyItem.restamp_cursor.set(restamp.cursor) if restamp.cursor else PolicyItem.restamp_cursor.remove()
        )
        try:
            connection.update_item(
                PolicyItem.Meta.table_name,
                keys.meta_pk(org),
                keys.RETENTION_META,
                actions=actions,
                condition=PolicyItem.version == version,
            )
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        return True
