"""The org's directory of team members the log has seen (user actors): what the User filter searches by name.

One meta item per member, ``keys.meta_pk(org)`` / ``keys.actor_sk(id)``, holding ``an`` (the name their
latest entry gave) and ``fs`` (first seen, epoch ms); no ``ty``, so it is no entry. It is written when an
entry names a member the directory does not hold yet, or holds under another name. A member already known
costs nothing: each container remembers whom the directory holds (no request at all), and a container
that has not seen them yet reads before it writes (a read is a fifth of a write's price), so only a new
member or a new name is written, once, whoever races. Mixed into ``EntryStore``, which calls
``note_actors`` once entries are written.

The write path's note is the fast one (the member is searchable as soon as their entry is); the archive
function, reading the table's stream, is the one that loses nothing: it calls ``keep_actors`` over each batch,
which raises on failure, so Lambda retries the batch. A directory write that failed in the writing container
(a table that did not answer in time) is made there within the stream's batching window, whether or not the
member ever records again. The archive function's container remembers members as the writers' do, so it
costs a request only for a member it has not seen.

>>> # EntryStore(DetailStore(None)).members("org_1", "cas", 20) -> [{"id": "u_64", "name": "Casey Nguyen"}]
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from botocore.exceptions import ClientError

from activitylog import keys
from activitylog.entry import ActorKind, Entry
from activitylog.privacy.subjects import ERASED
from activitylog.store.models import EntryItem, meta_items, table_connection
from activitylog.store.retries import WRITE_ATTEMPTS, backoff

# How many members one container remembers across all orgs before it starts over (a few MB at most).
KNOWN_LIMIT = 50_000


class ActorDirectory:
    """The directory's writes (after each write of entries) and its search; the cache is this container's."""

    _known: dict[tuple[str, str], str]  # (org, member id) -> the name the directory holds
    subjects: Any  # ``EntryStore``'s ``SubjectKeys`` (or None)

    def note_actors(self, org: str, entries: Iterable[Entry]) -> None:
        """Put the team members these entries name in the org's directory, unless it holds them already.

        Called once the entries are written: a failure is logged and counted, never raised (the entry is
        not refused for it); the archive function's ``keep_actors`` writes the member from the stream.
        """
        try:
            self.keep_actors(org, _named_in(entries))
        except Exception:  # noqa: BLE001 - the entries are written; the stream's reader writes the member
            from activitylog.observability import logger, metrics

            logger.exception("actor directory not updated", extra={"org_id": org})
            metrics.add_metric(name="ActorDirectoryMissed", unit="Count", value=1)

    def keep_actors(self, org: str, named: dict[str, str]) -> None:
        """Put these members (id -> name) in the org's directory unless it holds them so; raises if it cannot."""
        wanted = {member: name for member, name in named.items() if self._known.get((org, member)) != name}
        if not wanted:
            return  # every member here is known to this container: no request
        if len(self._known) > KNOWN_LIMIT:
            self._known.clear()
        stored = _stored_names(org, list(wanted))
        for member, name in wanted.items():
            if stored.get(member) != name:
                _put_member(org, member, name)
            self._known[(org, member)] = name

    def members(self, org: str, search: str, limit: int) -> list[dict[str, str]]:
        """The org's members whose name or id holds ``search`` (any case; all when empty), at most ``limit``:
        an exact id first, then names with a word starting with it, then the rest, each group by name.

        One Query of the org's directory (eventually consistent, ~60 bytes a member: a few hundred in one page).
        """
        folded = search.casefold()
        found = []
        held = {
            raw["sk"]["S"][len(keys.ACTOR_PREFIX) :]: raw["an"]["S"]
            for raw in meta_items(org, keys.ACTOR_PREFIX, "sk, an")
        }
        if self.subjects is not None:  # names are held sealed, as the entries hold them; an erased member is not listed
            held = {member: name for member, name in self.subjects.reveal(org, held).items() if name != ERASED}
        for member, name in held.items():
            folded_name = name.casefold()
            if folded in folded_name or folded in member.casefold():
                starts = any(word.startswith(folded) for word in folded_name.split())
                found.append(((member.casefold() != folded, not starts, folded_name, member), member, name))
        found.sort()
        return [{"id": member, "name": name} for _, member, name in found[:limit]]

    def forget_member(self, org: str, member: str) -> None:
        """Remove a member from the org's directory (their erasure): a later entry of theirs puts them back."""
        table_connection().connection.client.delete_item(
            TableName=EntryItem.Meta.table_name,
            Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": keys.actor_sk(member)}},
        )
        self._known.pop((org, member), None)


def _named_in(entries: Iterable[Entry]) -> dict[str, str]:
    """The team members (user actors) these entries name: id -> the name the latest of them gives."""
    return {
        entry.actor["id"]: entry.actor.get("name") or entry.actor["id"]
        for entry in entries
        if entry.actor.get("kind") == ActorKind.USER.value
    }


def actors_of(lines: Iterable[dict]) -> dict[str, dict[str, str]]:
    """Each org's team members (id -> name) named by these archive lines' new entries (``INSERT``; a later
    version of an old entry may carry a name the member has since changed)."""
    named: dict[str, dict[str, str]] = {}
    for line in lines:
        actor = line["actor"] or {}
        if line["change"] == "INSERT" and actor.get("kind") == ActorKind.USER.value:
            named.setdefault(line["org"], {})[actor["id"]] = actor.get("name") or actor["id"]
    return named


def _stored_names(org: str, members: list[str]) -> dict[str, str]:
    """The names the directory holds for these members (absent: not held): BatchGetItem, 100 keys a call."""
    client, table = table_connection().connection.client, EntryItem.Meta.table_name
    stored: dict[str, str] = {}
    for start in range(0, len(members), 100):
        wanted = {
            table: {
                "Keys": [
                    {"pk": {"S": keys.meta_pk(org)}, "sk": {"S": keys.actor_sk(m)}}
                    for m in members[start : start + 100]
                ],
                "ProjectionExpression": "sk, an",
            }
        }
        for attempt in range(WRITE_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=wanted)
            for raw in answer.get("Responses", {}).get(table, []):
                stored[raw["sk"]["S"][len(keys.ACTOR_PREFIX) :]] = raw["an"]["S"]
            wanted = answer.get("UnprocessedKeys") or {}
            if not wanted:
                break
            backoff(attempt)
    return stored


def _put_member(org: str, member: str, name: str) -> None:
    """Write a member (or their new name) unless a racing writer has just written the same."""
    client = table_connection().connection.client
    try:
        client.put_item(
            TableName=EntryItem.Meta.table_name,
            Item={
                "pk": {"S": keys.meta_pk(org)},
                "sk": {"S": keys.actor_sk(member)},
                "an": {"S": name},
                "fs": {"N": str(int(time.time() * 1000))},
            },
            ConditionExpression="attribute_not_exists(pk) OR an <> :name",
            ExpressionAttributeValues={":name": {"S": name}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
