"""The org's directory of team members the log has seen (user actors): what the User filter searches by name,
and what lets a filter no entry can match be answered without reading entries.

One meta item per member, ``keys.meta_pk(org)`` / ``keys.actor_sk(id)``, holding ``an`` (the name their
latest entry gave), ``fs`` (first seen, epoch ms), ``kt`` and ``ke`` (string sets: every entry type and
every entity type of their entries) and ``ks`` (since when ``kt``/``ke`` are kept, epoch ms); no ``ty``, so
it is no entry.

It is written *before* the entries that name the member, whenever they give a new name or a new kind: the
directory then holds at every moment at least every kind of every stored entry, so "this member never
recorded a WEBHOOK" read from it is true (``member_kinds``). A directory write that fails fails the write of
the entries (nothing is written; the API answers 503 and the write may be sent again). A member whose item
was made before kinds were kept (``ks`` after ``fs``) has kinds the directory cannot vouch for: ``member_kinds``
answers None and the list reads as before.

A member already known costs nothing: each container remembers what the directory holds (no request at
all); a container that has not seen them yet reads before it writes (a read is a fifth of a write's price),
so only a new member, a new name or a new kind is written (once per container at most; the directory itself
changes once). Kinds are added (DynamoDB's ``ADD`` to a
set), so racing writers lose none. Mixed into ``EntryStore``, whose writes call ``note_actors`` first.

>>> # EntryStore(DetailStore(None)).members("org_1", "cas", 20) -> [{"id": "u_64", "name": "Casey Nguyen"}]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from activitylog import keys
from activitylog.entry import ActorKind, Entry
from activitylog.store.models import EntryItem, meta_items, table_connection
from activitylog.store.retries import WRITE_ATTEMPTS, backoff
from activitylog.subjects import ERASED

# How many members one container remembers across all orgs before it starts over (a few MB at most).
KNOWN_LIMIT = 50_000


@dataclass
class Member:
    """What the directory holds (or is to hold) of one member."""

    name: str
    types: set[str] = field(default_factory=set)
    entity_types: set[str] = field(default_factory=set)

    def covers(self, other: "Member") -> bool:
        return self.name == other.name and other.types <= self.types and other.entity_types <= self.entity_types


class ActorDirectory:
    """The directory's writes (before each write of entries), its search and its kinds; the cache is this
    container's."""

    _known: dict[tuple[str, str], Member]  # (org, member id) -> what the directory holds
    _vouched: dict[tuple[str, str], Member]  # (org, member id) -> the kinds the directory vouched for, once read
    subjects: Any  # ``EntryStore``'s ``SubjectKeys`` (or None): names in the directory are sealed as entries hold them

    def note_actors(self, org: str, entries: Iterable[Entry]) -> None:
        """Put the team members these entries name in the org's directory, with their name and kinds, unless
        it holds them so. Called before the entries are written; raises if the directory cannot be written."""
        wanted = {
            member: named
            for member, named in members_in(entries).items()
            if not ((known := self._known.get((org, member))) and known.covers(named))
        }
        if not wanted:
            return  # every member here is known to this container as they are: no request
        if len(self._known) > KNOWN_LIMIT:
            self._known.clear()
        # What this container knows the directory holds is enough to write a new kind (adding one held already
        # changes nothing); a member it does not know is read first: usually held, and a read is cheaper.
        stored = _stored(org, [member for member in wanted if (org, member) not in self._known])
        for member, named in wanted.items():
            held = self._known.get((org, member)) or stored.get(member)
            if held is None or not held.covers(named):
                write_member(org, member, named, held)
            self._known[(org, member)] = Member(
                named.name,
                named.types | (held.types if held else set()),
                named.entity_types | (held.entity_types if held else set()),
            )

    def may_match(self, org: str, member: str, types: set[str], entity_type: Optional[str]) -> tuple[bool, bool]:
        """(whether ``member`` may have entries of one of ``types`` (any, if empty) about ``entity_type`` (any, if
        None), whether the directory was read to tell). False only when the directory vouches they have none.

        Kinds only grow, so what this container once read as possible stays so without a request; a "none" is
        always read again, consistently (the member may have recorded one since)."""

        def fits(kinds: Member) -> bool:
            return bool(not types or types & kinds.types) and (not entity_type or entity_type in kinds.entity_types)

        seen = self._vouched.get((org, member))
        if seen is not None and fits(seen):
            return True, False
        kinds = self.member_kinds(org, member)
        if kinds is None:
            return True, True
        if len(self._vouched) > KNOWN_LIMIT:
            self._vouched.clear()
        self._vouched[(org, member)] = kinds
        return fits(kinds), True

    def member_kinds(self, org: str, member: str) -> Optional[Member]:
        """What the directory vouches ``member`` has recorded (every entry type and entity type of their
        entries), or None when it cannot: no item, or kinds kept only since after their first entry.
        A consistent read: a kind noted just before its entry was written is seen."""
        client = table_connection().connection.client
        item = client.get_item(
            TableName=EntryItem.Meta.table_name,
            Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": keys.actor_sk(member)}},
            ProjectionExpression="an, fs, ks, kt, ke",
            ConsistentRead=True,
        ).get("Item")
        if not item or "ks" not in item or "fs" not in item or int(item["ks"]["N"]) > int(item["fs"]["N"]):
            return None
        return _member_of(item)

    def members(self, org: str, search: str, limit: int) -> list[dict[str, str]]:
        """The org's members whose name or id holds ``search`` (any case; all when empty), at most ``limit``:
        an exact id first, then names with a word starting with it, then the rest, each group by name.

        One Query of the org's directory (eventually consistent, ~100 bytes a member: hundreds in one page).
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


def members_in(entries: Iterable[Entry]) -> dict[str, Member]:
    """The team members (user actors) these entries name: the name the latest of them gives, and their kinds."""
    named: dict[str, Member] = {}
    for entry in entries:
        if entry.actor.get("kind") != ActorKind.USER.value:
            continue
        member = named.setdefault(entry.actor["id"], Member(""))
        member.name = entry.actor.get("name") or entry.actor["id"]
        member.types.add(entry.type.value)
        if entry.entity and entry.entity.get("type"):
            member.entity_types.add(entry.entity["type"])
    return named


def _member_of(item: dict) -> Member:
    return Member(item["an"]["S"], set(item.get("kt", {}).get("SS", [])), set(item.get("ke", {}).get("SS", [])))


def _stored(org: str, members: list[str]) -> dict[str, Member]:
    """What the directory holds for these members (absent: not held): BatchGetItem, 100 keys a call."""
    client, table = table_connection().connection.client, EntryItem.Meta.table_name
    stored: dict[str, Member] = {}
    for start in range(0, len(members), 100):
        wanted = {
            table: {
                "Keys": [
                    {"pk": {"S": keys.meta_pk(org)}, "sk": {"S": keys.actor_sk(m)}}
                    for m in members[start : start + 100]
                ],
                "ProjectionExpression": "sk, an, kt, ke",
            }
        }
        for attempt in range(WRITE_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=wanted)
            for raw in answer.get("Responses", {}).get(table, []):
                stored[raw["sk"]["S"][len(keys.ACTOR_PREFIX) :]] = _member_of(raw)
            wanted = answer.get("UnprocessedKeys") or {}
            if not wanted:
                break
            backoff(attempt)
    return stored


def write_member(
    org: str, member: str, named: Member, held: Optional[Member] = None, client: Any = None, table: Optional[str] = None
) -> None:
    """Write a member's name and add their new kinds. A new item keeps kinds from its first entry on
    (``ks`` = ``fs``); an older one from now. ``client``/``table``: another connection (the local demo's)."""
    new_types = named.types - (held.types if held else set())
    new_entity_types = named.entity_types - (held.entity_types if held else set())
    values: dict[str, Any] = {":name": {"S": named.name}, ":now": {"N": str(int(time.time() * 1000))}}
    added = []
    for attribute, kinds in (("kt", new_types), ("ke", new_entity_types)):
        if kinds:  # ADD takes no empty set
            values[f":{attribute}"] = {"SS": sorted(kinds)}
            added.append(f"{attribute} :{attribute}")
    (client or table_connection().connection.client).update_item(
        TableName=table or EntryItem.Meta.table_name,
        Key={"pk": {"S": keys.meta_pk(org)}, "sk": {"S": keys.actor_sk(member)}},
        UpdateExpression="SET an = :name, fs = if_not_exists(fs, :now), ks = if_not_exists(ks, :now)"
        + (" ADD " + ", ".join(added) if added else ""),
        ExpressionAttributeValues=values,
    )
