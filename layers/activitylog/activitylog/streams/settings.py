"""``/settings/streams``: an org's admins create, read, change, pause, resume, test and backfill its streams.

Every change is a SYSTEM_EVENT entry (before and after, the secret shown only as ``"set"`` or ``"changed"``)
written in one transaction with the stream's settings, as a retention change is (``retention.settings``).
The secret goes to Secrets Manager (``streams.secrets``), never to the table. Another org's stream id is a 404.

>>> # StreamSettings(service, StreamSecrets(), Doorbell(url)).create(caller, {"name": "SIEM", ...})
"""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Optional

from activitylog import ids
from activitylog.entry import iso_time
from activitylog.errors import BadRequest, NotFound
from activitylog.query.filters import parse_stream_filter
from activitylog.rules import new_entry
from activitylog.scopes import ADMIN

if TYPE_CHECKING:
    from activitylog.service import ActivityService, Caller
    from activitylog.streams.doorbell import Doorbell
    from activitylog.streams.secrets import StreamSecrets

ACTIVE, PAUSED = "ACTIVE", "PAUSED"
NAME_CHARACTERS = 100
SECRET_CHARACTERS = 4096
FIELDS = {"name", "destination", "secret", "filter", "format", "backfill_days", "notify_email"}
CHANGEABLE = {"name", "destination", "secret", "filter", "format"}
_SCOPE = frozenset({ADMIN})


def public(stream: dict) -> dict:
    """What an admin and the log see of a stream's settings: never its secret, only that one is set."""
    return {
        "id": stream["id"],
        "name": stream["name"],
        "destination": stream["destination"],
        "filter": stream["filter"],
        "format": stream["format"],
        "status": stream["status"],
        "secret": "set" if stream.get("has_secret") else "none",
        "notify_email": stream.get("notify_email"),
        "created_at": stream["created_at"],
        "created_by": stream["created_by"],
        "paused_reason": stream.get("paused_reason"),
    }


class StreamSettings:
    def __init__(
        self,
        service: "ActivityService",
        secrets: "StreamSecrets",
        doorbell: "Doorbell",
        allow_loopback: bool = False,
        resolve: Callable[..., Any] = socket.getaddrinfo,
    ) -> None:
        self.service, self.secrets, self.doorbell = service, secrets, doorbell
        self.allow_loopback, self.resolve = allow_loopback, resolve

    # -- reads ----------------------------------------------------------------------------

    def list(self, caller: "Caller") -> dict:
        caller.require(_SCOPE)
        return {"items": [self._view(caller.org, stream) for stream in self.service.store.streams(caller.org)]}

    def get(self, caller: "Caller", stream_id: str) -> dict:
        caller.require(_SCOPE)
        return self._view(caller.org, self._stream(caller.org, stream_id))

    def _stream(self, org: str, stream_id: str) -> dict:
        stream = self.service.store.stream(org, stream_id) if ids.is_entry_id(stream_id) else None
        if stream is None:  # another org's stream is not there either: its key starts with that org
            raise NotFound(f"no stream {stream_id!r} in this organization", "id")
        return stream

    def _view(self, org: str, stream: dict) -> dict:
        state = self.service.store.stream_state(org, stream["id"])
        oldest = self.service.store.oldest_waiting(org, stream["id"])
        now = self.service.clock()
        lag = max(0, int((now - ids.occurred_at(oldest)).total_seconds())) if oldest else 0
        return {
            **public(stream),
            "state": {
                "status": stream["status"],
                "lag_seconds": lag,
                "last_delivery": state["last_delivery"],
                "last_error": state["last_error"],
                "failing_since": iso_time(_from_ms(state["failing_since"])) if state["failing_since"] else None,
                "paused_reason": stream.get("paused_reason"),
                "backfill": state["backfill"],
            },
        }

    # -- changes --------------------------------------------------------------------------

    def create(self, caller: "Caller", body: Any) -> dict:
        caller.require(_SCOPE)
        body = _object(body, FIELDS)
        now = self.service.clock()
        for required in ("name", "destination"):
            if required not in body:
                raise BadRequest(f"{required} is required", required)
        stream: dict[str, Any] = {
            "id": ids.new_id(now),
            "status": ACTIVE,
            "created_at": iso_time(now),
            "created_by": caller.subject,
            "notify_email": _email(body.get("notify_email", caller.email)),
            "filter": {},
            "format": "native",
        }
        stream.update(self._checked(body, caller.org))
        backfill_days = self._backfill_days(caller.org, body.get("backfill_days"))
        secret = body.get("secret")
        _check_secret(stream["destination"]["kind"], secret)
        stream["has_secret"] = secret is not None
        if secret is not None:
            self.secrets.put(caller.org, stream["id"], secret)
        try:
            saved = self._save(caller, None, stream, "created", f"Stream “{stream['name']}” created")
        except Exception:
            if secret is not None:
                self.secrets.delete(caller.org, stream["id"])  # no secret outlives a stream that was never saved
            raise
        if backfill_days:
            self._start_backfill(caller.org, saved, backfill_days, now)
        return self._view(caller.org, saved)

    def change(self, caller: "Caller", stream_id: str, body: Any) -> dict:
        caller.require(_SCOPE)
        current = self._stream(caller.org, stream_id)
        body = _object(body, CHANGEABLE)
        updated = {**current, **self._checked(body, caller.org)}
        secret = body.get("secret")
        if "secret" in body or "destination" in body:
            _check_secret(
                updated["destination"]["kind"],
                secret if "secret" in body else ("kept" if current.get("has_secret") else None),
            )
        previous = None
        if secret is not None:
            previous = self.secrets.get(caller.org, stream_id, fresh=True) if current.get("has_secret") else None
            self.secrets.put(caller.org, stream_id, secret)
            updated["has_secret"] = True
        try:
            saved = self._save(
                caller,
                current,
                updated,
                "updated",
                f"Stream “{updated['name']}” changed",
                secret_changed=secret is not None,
            )
        except Exception:
            if secret is not None:  # the settings were not changed: neither is the secret
                if previous is None:
                    self.secrets.delete(caller.org, stream_id)
                else:
                    self.secrets.put(caller.org, stream_id, previous)
            raise
        return self._view(caller.org, saved)

    def delete(self, caller: "Caller", stream_id: str) -> dict:
        caller.require(_SCOPE)
        current = self._stream(caller.org, stream_id)
        self._save(caller, current, None, "deleted", f"Stream “{current['name']}” deleted")
        if current.get("has_secret"):
            self.secrets.delete(caller.org, stream_id)
        return {"id": stream_id, "deleted": True}

    def pause(self, caller: "Caller", stream_id: str) -> dict:
        caller.require(_SCOPE)
        current = self._stream(caller.org, stream_id)
        if current["status"] == PAUSED:
            return self._view(caller.org, current)
        updated = {**current, "status": PAUSED, "paused_reason": f"paused by {caller.name or caller.subject}"}
        return self._view(
            caller.org, self._save(caller, current, updated, "paused", f"Stream “{current['name']}” paused")
        )

    def resume(self, caller: "Caller", stream_id: str) -> dict:
        """Deliver again: what waited goes first, in order; the 24 hours of retries start afresh."""
        caller.require(_SCOPE)
        current = self._stream(caller.org, stream_id)
        saved = current
        if current["status"] != ACTIVE:
            updated = {**current, "status": ACTIVE, "paused_reason": None}
            saved = self._save(caller, current, updated, "resumed", f"Stream “{current['name']}” resumed")
        self.service.store.set_stream_state(caller.org, stream_id, failing_since=None)
        self.doorbell.ring(caller.org, stream_id, f"resume:{int(self.service.clock().timestamp() * 1000)}")
        return self._view(caller.org, saved)

    def test(self, caller: "Caller", stream_id: str) -> dict:
        """Send ``formats.sample_entry`` through the destination now: ``{ok, status, detail}`` of the endpoint."""
        from activitylog.streams import destinations, formats

        caller.require(_SCOPE)
        stream = self._stream(caller.org, stream_id)
        secret = self.secrets.get(caller.org, stream_id, fresh=True) if stream.get("has_secret") else None
        kind, config = _split(stream["destination"])
        target = destinations.destination(
            kind, config, secret, allow_loopback=self.allow_loopback, resolve=self.resolve
        )
        outcome = target.send([formats.render(formats.sample_entry(caller.org), stream["format"], org=caller.org)])
        return {"ok": outcome.ok, "status": outcome.status, "detail": outcome.detail}

    def backfill(self, caller: "Caller", stream_id: str, body: Any) -> dict:
        caller.require(_SCOPE)
        stream = self._stream(caller.org, stream_id)
        body = _object(body, {"days"})
        if body.get("days") is None:
            raise BadRequest("days is required", "days")
        days = self._backfill_days(caller.org, body["days"], "days")
        assert days is not None  # "days" is in the body: a None is refused as not a whole number
        now = self.service.clock()
        self._record(
            caller, stream, "backfill_requested", f"Stream “{stream['name']}” backfill of {days} days requested"
        )
        self._start_backfill(caller.org, stream, days, now)
        return self._view(caller.org, stream)

    # -- helpers --------------------------------------------------------------------------

    def _checked(self, body: dict, org: str) -> dict:
        from activitylog.streams import destinations, formats

        checked: dict[str, Any] = {}
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > NAME_CHARACTERS:
                raise BadRequest(f"name must be 1-{NAME_CHARACTERS} characters", "name")
            checked["name"] = name.strip()
        if "destination" in body:
            destination = body["destination"]
            if not isinstance(destination, dict) or destination.get("kind") not in destinations.KINDS:
                raise BadRequest(f"destination.kind must be one of {', '.join(destinations.KINDS)}", "destination.kind")
            kind, config = _split(destination)
            if kind == "s3":
                # The external id is ours, one per org: an org that could choose it could name another org's role
                # with that org's id and have us write into its bucket (the confused deputy it exists to stop).
                if "external_id" in config:
                    raise BadRequest(
                        f"destination.external_id is the service's, not chosen: {external_id(org)} for this org, "
                        "to put in the role's trust policy",
                        "destination.external_id",
                    )
                config = {**config, "external_id": external_id(org)}
            config = destinations.check_config(kind, config, allow_loopback=self.allow_loopback, resolve=self.resolve)
            checked["destination"] = {"kind": kind, **config}
        if "filter" in body:
            checked["filter"] = parse_stream_filter(body["filter"])[0]
        if "format" in body:
            if body["format"] not in formats.FORMATS:
                raise BadRequest(f"format must be one of {', '.join(formats.FORMATS)}", "format")
            checked["format"] = body["format"]
        return checked

    def _backfill_days(self, org: str, days: Any, field: str = "backfill_days") -> Optional[int]:
        if days is None:
            return None
        most = self.service.retention(org).hot_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= most:
            raise BadRequest(f"{field} must be a whole number of days, 1-{most} (the org's retention)", field)
        return days

    def _start_backfill(self, org: str, stream: dict, days: int, now: datetime) -> None:
        since = iso_time(now - timedelta(days=days))
        self.service.store.set_stream_state(
            org, stream["id"], backfill={"since": since, "until": iso_time(now), "state": "running", "entries": 0}
        )
        self.doorbell.ring(
            org,
            stream["id"],
            f"backfill:{int(now.timestamp() * 1000)}",
            backfill={"since": since, "until": iso_time(now), "cursor": None},
        )

    def _save(
        self,
        caller: "Caller",
        before: Optional[dict],
        after: Optional[dict],
        action: str,
        event: str,
        secret_changed: bool = False,
    ) -> dict:
        entry = self._entry(caller, before, after, action, event, secret_changed)
        where = self.service.settings_storage(caller.org)
        stream = after if after is not None else before
        assert stream is not None
        return self.service.store.save_stream(where, stream, entry, deleted=after is None)

    def _record(self, caller: "Caller", stream: dict, action: str, event: str) -> None:
        entry = self._entry(caller, stream, stream, action, event, False)
        self.service.store.put(self.service.settings_storage(caller.org), entry)

    def _entry(
        self,
        caller: "Caller",
        before: Optional[dict],
        after: Optional[dict],
        action: str,
        event: str,
        secret_changed: bool,
    ):
        from pydantic import ValidationError

        from activitylog.inputs import NewEntry

        stream = after if after is not None else before
        assert stream is not None
        shown_after = public(after) if after is not None else None
        if shown_after is not None and secret_changed:
            shown_after["secret"] = "changed"
        try:
            document = NewEntry.model_validate(
                {
                    "type": "SYSTEM_EVENT",
                    "status": "SUCCESS",
                    "action": action,
                    "actor": {"kind": "user", "id": caller.subject, "name": caller.name or caller.subject},
                    "event": event,
                    "entity": {"type": "integration", "id": f"stream:{stream['id']}", "label": stream["name"]},
                    "before": public(before) if before is not None else None,
                    "after": shown_after,
                }
            )
        except ValidationError as error:
            if any(problem.get("loc", ("",))[0] == "actor" for problem in error.errors()):
                raise BadRequest(
                    "the token's sub cannot name the actor of the change (1-128 letters, digits or _.:@+=/-)",
                    "authorization",
                ) from None
            raise
        policy = self.service.retention(caller.org)
        return new_entry(
            document,
            caller.subject,
            self.service.clock(),
            policy.hot_days,
            table_days=self.service.storage(caller.org).table_days,
        )


def _object(body: Any, allowed: set[str]) -> dict:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", "body")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"{unknown[0]} is not a field of a stream", unknown[0])
    return body


def _split(destination: dict) -> tuple[str, dict]:
    return destination["kind"], {name: value for name, value in destination.items() if name != "kind"}


def _check_secret(kind: str, secret: Any) -> None:
    if kind == "s3":
        if secret is not None:
            raise BadRequest("an s3 destination takes no secret (we assume the role you name)", "secret")
        return
    if not isinstance(secret, str) or not secret or len(secret) > SECRET_CHARACTERS:
        raise BadRequest(f"secret is required for a {kind} destination (1-{SECRET_CHARACTERS} characters)", "secret")


def _email(value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or "@" not in value or len(value) > 254 or any(c.isspace() for c in value):
        raise BadRequest("notify_email must be an email address", "notify_email")
    return value


def _from_ms(ms: int) -> datetime:
    from activitylog.store.codec import from_epoch_ms

    moment = from_epoch_ms(ms)
    assert moment is not None
    return moment


def external_id(org: str) -> str:
    """The external id an org's bucket role must trust (``sts:ExternalId``): the org's own, never one it chose."""
    return f"activitylog-{org}"
