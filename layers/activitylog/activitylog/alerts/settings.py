"""``/alerts``: an org's members save a filter as an alert, told by email or an HTTPS webhook when new entries match.

Any reader (``activity:read``) creates alerts and lists, changes, pauses and deletes their own; an admin
(``activity:admin``) sees everyone's and pauses, resumes or deletes any (changing one stays its owner's: an email
alert goes to its owner). Another member's alert is a 404 to a reader, as another org's is to anyone.

Every change is a SYSTEM_EVENT entry (before and after, never the secret) written in one transaction with the
alert's settings, as a stream's is (``streams.settings``). The filter is the list's own (``parse_stream_filter``);
an https destination's URL passes the streams' SSRF guard, and its signing secret (Standard Webhooks, as the
streams sign) goes to Secrets Manager under ``activitylog/alerts/{org}/{id}``: made for the owner when not given,
and answered once, on create.
"""

from __future__ import annotations

import base64
import secrets as random_secrets
import socket
from typing import TYPE_CHECKING, Any, Callable, Optional

from activitylog import ids
from activitylog.entry import iso_time
from activitylog.errors import BadRequest, Forbidden, NotFound
from activitylog.query.filters import parse_stream_filter
from activitylog.rules import new_entry
from activitylog.scopes import ADMIN, READ

if TYPE_CHECKING:
    from activitylog.service import ActivityService, Caller
    from activitylog.streams.secrets import StreamSecrets

ACTIVE, PAUSED = "ACTIVE", "PAUSED"
KINDS = ("email", "https")
NAME_CHARACTERS = 100
FIELDS = {"name", "filter", "destination", "secret"}
_SCOPE = frozenset({READ, ADMIN})


def public(alert: dict) -> dict:
    """What its owner, an admin and the log see of an alert: never its secret, only that one is set."""
    return {
        "id": alert["id"],
        "name": alert["name"],
        "filter": alert["filter"],
        "destination": alert["destination"],
        "status": alert["status"],
        "secret": "set" if alert.get("has_secret") else "none",
        "owner": alert["owner"],
        "created_at": alert["created_at"],
        "paused_reason": alert.get("paused_reason"),
    }


class AlertSettings:
    def __init__(
        self,
        service: "ActivityService",
        secrets: "StreamSecrets",
        allow_loopback: bool = False,
        resolve: Callable[..., Any] = socket.getaddrinfo,
    ) -> None:
        self.service, self.secrets = service, secrets
        self.allow_loopback, self.resolve = allow_loopback, resolve

    # -- reads ----------------------------------------------------------------------------

    def list(self, caller: "Caller") -> dict:
        caller.require(_SCOPE)
        mine = [a for a in self.service.store.alerts(caller.org) if _sees(caller, a)]
        return {"items": [self._view(caller.org, alert) for alert in mine]}

    def get(self, caller: "Caller", alert_id: str) -> dict:
        caller.require(_SCOPE)
        return self._view(caller.org, self._alert(caller, alert_id))

    def _alert(self, caller: "Caller", alert_id: str) -> dict:
        alert = self.service.store.alert(caller.org, alert_id) if ids.is_entry_id(alert_id) else None
        if alert is None or not _sees(caller, alert):  # another org's key starts with that org: not there either
            raise NotFound(f"no alert {alert_id!r} of yours in this organization", "id")
        return alert

    def _view(self, org: str, alert: dict) -> dict:
        from activitylog.alerts.windows import pending

        window = self.service.store.alert_window(org, alert["id"])
        return {**public(alert), "state": pending(window)}

    # -- changes --------------------------------------------------------------------------

    def create(self, caller: "Caller", body: Any) -> dict:
        caller.require(_SCOPE)
        body = _object(body)
        for required in ("name", "filter", "destination"):
            if required not in body:
                raise BadRequest(f"{required} is required", required)
        now = self.service.clock()
        alert: dict[str, Any] = {
            "id": ids.new_id(now),
            "status": ACTIVE,
            "created_at": iso_time(now),
            "owner": caller.subject,
        }
        alert.update(self._checked(caller, body))
        secret = self._secret(alert["destination"]["kind"], body.get("secret"), "secret" in body)
        alert["has_secret"] = secret is not None
        if secret is not None:
            self.secrets.put(caller.org, alert["id"], secret)
        try:
            saved = self._save(caller, None, alert, "created", f"Alert “{alert['name']}” created")
        except Exception:
            if secret is not None:
                self.secrets.delete(caller.org, alert["id"])  # no secret outlives an alert that was never saved
            raise
        view = self._view(caller.org, saved)
        if secret is not None and "secret" not in body:
            view["signing_secret"] = secret  # made here: shown this once, to verify the webhook's signature
        return view

    def change(self, caller: "Caller", alert_id: str, body: Any) -> dict:
        caller.require(_SCOPE)
        current = self._alert(caller, alert_id)
        if current["owner"] != caller.subject:
            raise Forbidden("only its owner changes an alert; an admin may pause, resume or delete it", "id")
        body = _object(body)
        updated = {**current, **self._checked(caller, body)}
        kind = updated["destination"]["kind"]
        secret = None
        if "secret" in body or (kind == "https" and not current.get("has_secret")):
            secret = self._secret(kind, body.get("secret"), "secret" in body)
        if kind == "email" and current.get("has_secret"):
            updated["has_secret"] = False
        previous = None
        if secret is not None:
            previous = self.secrets.get(caller.org, alert_id, fresh=True) if current.get("has_secret") else None
            self.secrets.put(caller.org, alert_id, secret)
            updated["has_secret"] = True
        try:
            saved = self._save(caller, current, updated, "updated", f"Alert “{updated['name']}” changed")
        except Exception:
            if secret is not None:  # the settings were not changed: neither is the secret
                if previous is None:
                    self.secrets.delete(caller.org, alert_id)
                else:
                    self.secrets.put(caller.org, alert_id, previous)
            raise
        if kind == "email" and current.get("has_secret"):
            self.secrets.delete(caller.org, alert_id)  # an email alert signs nothing: its old secret goes
        view = self._view(caller.org, saved)
        if secret is not None and "secret" not in body:
            view["signing_secret"] = secret
        return view

    def delete(self, caller: "Caller", alert_id: str) -> dict:
        caller.require(_SCOPE)
        current = self._alert(caller, alert_id)
        self._save(caller, current, None, "deleted", f"Alert “{current['name']}” deleted")
        if current.get("has_secret"):
            self.secrets.delete(caller.org, alert_id)
        return {"id": alert_id, "deleted": True}

    def pause(self, caller: "Caller", alert_id: str) -> dict:
        """Nothing is sent while paused, and what matched meanwhile is not told later: resuming starts afresh."""
        caller.require(_SCOPE)
        current = self._alert(caller, alert_id)
        if current["status"] == PAUSED:
            return self._view(caller.org, current)
        updated = {**current, "status": PAUSED, "paused_reason": f"paused by {caller.name or caller.subject}"}
        saved = self._save(caller, current, updated, "paused", f"Alert “{current['name']}” paused")
        self.service.store.clear_alert_window(caller.org, alert_id)
        return self._view(caller.org, saved)

    def resume(self, caller: "Caller", alert_id: str) -> dict:
        caller.require(_SCOPE)
        current = self._alert(caller, alert_id)
        if current["status"] == ACTIVE:
            return self._view(caller.org, current)
        updated = {**current, "status": ACTIVE, "paused_reason": None}
        return self._view(
            caller.org, self._save(caller, current, updated, "resumed", f"Alert “{current['name']}” resumed")
        )

    # -- helpers --------------------------------------------------------------------------

    def _checked(self, caller: "Caller", body: dict) -> dict:
        from activitylog.streams import destinations

        checked: dict[str, Any] = {}
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > NAME_CHARACTERS:
                raise BadRequest(f"name must be 1-{NAME_CHARACTERS} characters", "name")
            checked["name"] = name.strip()
        if "filter" in body:
            saved, _ = parse_stream_filter(body["filter"])
            if not saved:  # an alert on every entry is a mistake, not a choice
                raise BadRequest("filter must name at least one of the list's keys (type, status, ...)", "filter")
            checked["filter"] = saved
        if "destination" in body:
            destination = body["destination"]
            if not isinstance(destination, dict) or destination.get("kind") not in KINDS:
                raise BadRequest(f"destination.kind must be one of {', '.join(KINDS)}", "destination.kind")
            config = {name: value for name, value in destination.items() if name != "kind"}
            if destination["kind"] == "email":
                if config:
                    raise BadRequest(
                        f"destination.{sorted(config)[0]}: an email alert goes to its owner's address (the token's)",
                        f"destination.{sorted(config)[0]}",
                    )
                if not caller.email:
                    raise BadRequest(
                        "destination: this token carries no email claim to send the alert to; use an https destination",
                        "destination",
                    )
                checked["destination"] = {"kind": "email", "to": caller.email}
            else:
                config = destinations.check_config(
                    "https", config, allow_loopback=self.allow_loopback, resolve=self.resolve
                )
                checked["destination"] = {"kind": "https", **config}
        return checked

    @staticmethod
    def _secret(kind: str, given: Any, named: bool) -> Optional[str]:
        from activitylog.streams import destinations

        if kind == "email":
            if named:
                raise BadRequest("an email alert takes no secret", "secret")
            return None
        if not named:
            return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()
        if not isinstance(given, str):
            raise BadRequest("the signing secret must be whsec_ and the base64 of 24 to 64 bytes", "secret")
        destinations.check_secret("https", given)
        return given

    def _save(self, caller: "Caller", before: Optional[dict], after: Optional[dict], action: str, event: str) -> dict:
        from pydantic import ValidationError

        from activitylog.inputs import NewEntry

        alert = after if after is not None else before
        assert alert is not None
        try:
            document = NewEntry.model_validate(
                {
                    "type": "SYSTEM_EVENT",
                    "status": "SUCCESS",
                    "action": action,
                    "actor": {"kind": "user", "id": caller.subject, "name": caller.name or caller.subject},
                    "event": event[:500],
                    "entity": {"type": "integration", "id": f"alert:{alert['id']}", "label": alert["name"]},
                    "before": public(before) if before is not None else None,
                    "after": public(after) if after is not None else None,
                }
            )
        except ValidationError as error:
            if any(problem.get("loc", ("",))[0] == "actor" for problem in error.errors()):
                raise BadRequest(
                    "the token's sub cannot name the actor of the change (1-128 letters, digits or _.:@+=/-)",
                    "authorization",
                ) from None
            raise
        where = self.service.settings_storage(caller.org)
        entry = new_entry(
            document,
            caller.subject,
            self.service.clock(),
            self.service.retention(caller.org).hot_days,
            table_days=where.table_days,
        )
        return self.service.store.save_alert(where, alert, entry, deleted=after is None)


def _sees(caller: "Caller", alert: dict) -> bool:
    return ADMIN in caller.scopes or alert["owner"] == caller.subject


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", "body")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadRequest(f"{unknown[0]} is not a field of an alert", unknown[0])
    return body
