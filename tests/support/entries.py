"""Entries the e2e tier writes over HTTP: a user's update half an hour ago unless told otherwise."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

NOW = datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry(type_="USER_ACTION", status="SUCCESS", user=("u_1", "Ann Lee"), entity=("contact", "c_1", "Alex Chen"),
          when: datetime | None = None, **extra) -> dict:
    actor = {"kind": "user", "id": user[0], "name": user[1]} if user else {"kind": "system", "id": "system", "name": "system"}
    document = {"type": type_, "status": status, "actor": actor, "action": "updated", "event": f"{type_} {status}",
                "occurred_at": iso(when or NOW - timedelta(minutes=30))}
    if entity:
        document["entity"] = {"type": entity[0], "id": entity[1], "label": entity[2]}
    document.update(extra)
    return document
