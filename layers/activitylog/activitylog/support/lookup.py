"""``GET /support/activities/{id}`` (``activity:support``): one entry from the hot table or the archive.

Support staff need the entry a customer names even after it left the dashboard: past the
org's retention it is hidden from the API but may still be in the table until TTL deletes it;
after that, the archive has every version of it. The answer is the detail panel's fields plus
``found_in`` (``hot`` or ``archive``), ``versions`` (in the archive), and ``expired_at`` /
``removed_at`` (when it left the table, and how).

Every answer is recorded first in the org's own log, with the reason support gives
(``activitylog.support.access``): a read whose record cannot be written is not answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, Optional

from activitylog import ids
from activitylog.archive import lookup
from activitylog.errors import Conflict, NotFound
from activitylog.scopes import ROUTE_SCOPES
from activitylog.support.access import reason_of, record_read

if TYPE_CHECKING:
    from activitylog.archive.store import Objects
    from activitylog.entry import Entry
    from activitylog.service import ActivityService, Caller


ROUTE, PROOF_ROUTE = "GET /support/activities/{id}", "GET /support/activities/{id}/proof"


class SupportLookup:
    """``view`` shows a hot entry as the detail panel does (``views.detail_view``): the API decides views."""

    def __init__(
        self, service: "ActivityService", archive: Optional["Objects"], view: Callable[["Entry"], dict]
    ) -> None:
        self.service, self.archive, self.view = service, archive, view

    def get(self, caller: "Caller", entry_id: str, parameters: Optional[Mapping[str, str]]) -> dict:
        """The entry, once its read is recorded in the org's log; ``parameters`` (the query) give the ``reason``."""
        caller.require(ROUTE_SCOPES[ROUTE])
        ids.check_entry_id(entry_id)
        reason = reason_of(parameters)
        found = self._find(caller, entry_id)
        record_read(self.service, caller, ROUTE, entry_id, reason, found_in=found["found_in"])
        return found

    def _find(self, caller: "Caller", entry_id: str) -> dict:
        if not ids.can_exist(entry_id):  # the archive is laid out by the id's time, which this id has none of
            raise NotFound(f"no entry {entry_id} in the hot store or the archive", "id")
        hot = self.service.stored(caller.org, entry_id)
        if hot is not None:
            return {**self.view(hot), "found_in": "hot", "versions": None, "expired_at": None, "removed_at": None}
        archived = lookup.find(self.archive, caller.org, entry_id) if self.archive is not None else None
        if archived is None:
            raise NotFound(f"no entry {entry_id} in the hot store or the archive", "id")
        return {
            **archived.view,
            "found_in": "archive",
            "versions": archived.versions,
            "expired_at": archived.expired_at,
            "removed_at": archived.removed_at,
        }


def proof(
    service: "ActivityService",
    caller: "Caller",
    entry_id: str,
    parameters: Optional[Mapping[str, str]],
    archive: Optional["Objects"],
    digests: Optional["Objects"],
    public_keys: list[bytes],
) -> bytes:
    """``GET /support/activities/{id}/proof``: the entry's proof bundle (``activitylog.archive.proof``), as bytes.

    It holds the entry's archived versions: recorded in the org's log, with the ``reason``, before it is answered.
    """
    caller.require(ROUTE_SCOPES[PROOF_ROUTE])
    ids.check_entry_id(entry_id)
    reason = reason_of(parameters)
    bundle = _proof(caller, entry_id, archive, digests, public_keys)
    record_read(service, caller, PROOF_ROUTE, entry_id, reason)
    return bundle


def _proof(
    caller: "Caller",
    entry_id: str,
    archive: Optional["Objects"],
    digests: Optional["Objects"],
    public_keys: list[bytes],
) -> bytes:
    from activitylog.archive.proof import NoProof, build, bundle_bytes

    try:
        ids.occurred_at(entry_id)
    except (ValueError, OverflowError):  # a well-formed id past year 9999: nothing was ever archived under it
        raise NotFound(f"no entry {entry_id} in the archive", "id") from None
    if archive is None:  # no archive configured (a test harness): nothing can be in it
        raise NotFound(f"no entry {entry_id} in the archive", "id")
    if digests is None or not public_keys:
        raise RuntimeError("proofs need ARCHIVE_BUCKET, DIGEST_BUCKET and DIGEST_SIGNING_KEY (template.yaml sets them)")
    try:
        bundle = build(archive, digests, caller.org, entry_id, public_keys)
    except NoProof as error:
        raise Conflict(str(error), "id") from None
    if bundle is None:
        raise NotFound(f"no entry {entry_id} in the archive", "id")
    return bundle_bytes(bundle)
