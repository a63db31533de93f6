"""POST /recoveries/{provider}: the events a provider holds for the org that are not in its log.

When our webhook URL was down (or a deploy refused deliveries), the provider's own API still lists the
events. An admin (``activity:admin``) names a provider and a window ``{from, to}``:

- ``preview: true`` answers ``{provider, from, to, available, missing, already_recorded}`` and writes nothing;
- otherwise the missing events are recorded, and the answer adds ``recorded`` and ``id``, the recovery's own
  entry (a SYSTEM_EVENT naming who asked, the provider, the window and the counts).

A recovered event is recorded exactly as its delivery would have been: the same mapping
(``mapping.entry_document``: same entry, same id), written by ``ActivityService.record_events`` with the
same marker keyed by the provider's event id. So an event already in the log (delivered, recovered before,
or arriving right now from the provider's own retry) is never recorded twice, and a replay of a recovery
records nothing. Its ``metadata.webhook`` says it was fetched (``recovered``), not delivered: there is no
signature to check on what the provider's API answered over TLS with the org's key.

What each provider allows is its plug-in's (``providers/``): Stripe lists the events whose delivery failed
(30 days), Square lists every event (28 days) and the markers say which are missing, FedEx lists none (the
answer says where they wait: ``recovery_elsewhere``). The org's key for the provider's API is a
SecureString beside the signing secrets (``PROVIDER_KEYS_PATH``/{org}/{provider}, ``secrets``), read
only by the recovery function.

A recovery answers within the API's time, synchronously: ``bench/recovery.py`` records a window of 1,000
missed events from the local fake in about 6.5 s on DynamoDB Local (listing 0.2 s, preview 1 s), and
Stripe's real paging adds about 0.3-0.5 s per 100. So a window lists at most ``MAX_EVENTS`` events (about
13 s recorded, plus 20 pages); one holding more is refused naming ``from``, before anything is written:
split it into shorter windows.

>>> parse_window({"from": "2026-11-26T09:00:00Z", "to": "2026-11-26T10:00:00Z"}, 30, datetime(2026, 11, 26, 12, tzinfo=timezone.utc))[:2]
(datetime.datetime(2026, 11, 26, 9, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2026, 11, 26, 10, 0, tzinfo=datetime.timezone.utc))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Optional

from activitylog.errors import BadRequest, NotFound, Unavailable
from activitylog.observability import logger
from activitylog.scopes import ROUTE_SCOPES, WRITE
from activitylog.webhooks.mapping import entry_document, redacted_request, source_event_id
from activitylog.webhooks.providers import PROVIDERS, Identity, Provider, Rejected

if TYPE_CHECKING:
    from activitylog.service import ActivityService, Caller
    from activitylog.webhooks.secrets import ProviderKeys

ROUTE = "POST /recoveries/{provider}"
MAX_EVENTS = 2_000  # listed and recorded well within the API's 29 s (bench/recovery.py: ~6.5 s per 1,000 locally)
FUTURE_SLACK = timedelta(minutes=5)
BODY_FIELDS = ("from", "to", "preview")


@dataclass
class Recovery:
    service: "ActivityService"
    keys: "ProviderKeys"  # the orgs' API keys per provider (PROVIDER_KEYS_PATH), never in the table or logs
    api_bases: dict[str, str] = field(default_factory=dict)  # provider -> its API's address (tests: the fake)
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)

    def run(self, caller: "Caller", provider_name: str, body: Any) -> dict:
        caller.require(ROUTE_SCOPES[ROUTE])
        provider = PROVIDERS.get(provider_name)
        if provider is None:
            raise NotFound(f"no webhook provider {provider_name!r}: one of {', '.join(PROVIDERS)}", "provider")
        if provider.recovery_days is None:
            raise BadRequest(
                provider.recovery_elsewhere
                or f"not available for {provider.display}: it has no API listing missed events",
                "provider",
            )
        now = self.clock()
        start, end, preview = parse_window(body, provider.recovery_days, now, provider.display)
        key = self.keys.get(caller.org, provider.name)
        if key is None:
            raise BadRequest(
                f"no {provider.display} API key is set for this organization: an operator sets it with "
                f"`activitylog secrets set --org {caller.org} --provider {provider.name} --api-key --value …` "
                f"(in AWS, the SecureString {provider.name} under the stack's provider-keys path)",
                "provider",
            )
        listed = self._listed(provider, key, start, end)
        recorded_before = self.service.events_recorded(
            caller.org, provider.name, [source_event_id(identity.event_id) for _, identity in listed]
        )
        missing = [
            (event, identity) for event, identity in listed if source_event_id(identity.event_id) not in recorded_before
        ]
        answer: dict[str, Any] = {
            "provider": provider.name,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "preview": preview,
            "available": len(listed),
            "missing": len(missing),
            "already_recorded": len(listed) - len(missing),
        }
        if preview:
            return answer
        answer["recorded"] = self._record(caller, provider, missing, start, end, now)
        answer["id"] = self._record_recovery(caller, provider, answer).id
        return answer

    def _listed(self, provider: Provider, key: str, start: datetime, end: datetime) -> list[tuple[dict, Identity]]:
        """The provider's events of the window, each once, read as its webhooks would be."""
        found: dict[str, tuple[dict, Identity]] = {}
        try:
            for event in provider.missed_events(key, start, end, self.api_bases.get(provider.name)):
                if len(found) >= MAX_EVENTS:
                    raise BadRequest(
                        f"the window holds more than {MAX_EVENTS} {provider.display} events, more than one request "
                        "records in time: split it into shorter windows",
                        "from",
                    )
                try:
                    _, identity = provider.identity(json.dumps(event).encode())
                except Rejected:
                    logger.warning("a listed %s event has no id or type: skipped", provider.display)
                    continue
                found.setdefault(identity.event_id, (event, identity))
        except Rejected as refused:
            raise BadRequest(refused.reason, refused.field) from None
        except ConnectionError as error:
            raise Unavailable(f"{error}; nothing was recorded, retry shortly", "provider") from None
        return list(found.values())

    def _record(
        self,
        caller: "Caller",
        provider: Provider,
        missing: list[tuple[dict, Identity]],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> int:
        """Record the missing events as their deliveries would have been: same entry, same marker."""
        from activitylog.inputs import NewEntry

        how = {"by": caller.subject, "from": start.isoformat(), "to": end.isoformat()}
        entries = []
        for event, identity in missing:
            request = redacted_request({}, json.dumps(event).encode(), provider.api_base, method="GET")
            document = entry_document(provider, event, identity, request, now)
            # Fetched with the org's key over TLS, not delivered: no signature to check.
            document["metadata"]["webhook"] |= {"signature_verified": False, "recovered": how}
            entries.append(NewEntry.model_validate(document))
        results = self.service.record_events(caller.org, entries, recorded_by="webhooks")
        return sum(1 for _, recorded in results if recorded)

    def _record_recovery(self, caller: "Caller", provider: Provider, answer: dict) -> Any:
        from activitylog.inputs import NewEntry
        from activitylog.service import Caller as Writer

        counts = {name: answer[name] for name in ("available", "missing", "already_recorded", "recorded")}
        document = {
            "type": "SYSTEM_EVENT",
            "status": "SUCCESS",
            "action": "recovered",
            "actor": {"kind": "user", "id": caller.subject, "name": caller.name or caller.subject},
            "event": f"Missed {provider.display} webhooks recovered · {answer['recorded']} recorded, "
            f"{answer['already_recorded']} already in the log · {answer['from']} – {answer['to']}",
            "entity": {"type": "integration", "id": provider.name, "label": provider.display},
            "metadata": {"recovery": {"provider": provider.name, "from": answer["from"], "to": answer["to"]} | counts},
        }
        return self.service.record(
            Writer(caller.org, caller.subject, frozenset({WRITE}), caller.name), NewEntry.model_validate(document)
        )


def parse_window(body: Any, days: int, now: datetime, display: str = "the provider") -> tuple[datetime, datetime, bool]:
    """``(from, to, preview)`` of a request body; ``BadRequest`` naming the field for anything wrong."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object: {from, to, preview}", "body")
    for name in body:
        if name not in BODY_FIELDS:
            raise BadRequest(f"unknown field {name!r}: the body takes {', '.join(BODY_FIELDS)}", str(name))
    start = _moment(body.get("from"), "from")
    if start is None:
        raise BadRequest("from is required: the window's start, an ISO 8601 time with its zone", "from")
    end = _moment(body.get("to"), "to") or now
    preview = body.get("preview", False)
    if not isinstance(preview, bool):
        raise BadRequest("preview must be true or false", "preview")
    if end > now + FUTURE_SLACK:
        raise BadRequest("to is in the future", "to")
    if start >= end:
        raise BadRequest("from must be before to", "from")
    earliest = now - timedelta(days=days)
    if start < earliest:
        raise BadRequest(
            f"{display} lists events of the last {days} days: from must be after {earliest.isoformat(timespec='seconds')}",
            "from",
        )
    return start, end, preview


def _moment(value: Any, name: str) -> Optional[datetime]:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest(f"{name} must be an ISO 8601 time with its zone (2026-11-26T09:00:00Z)", name)
    return moment.astimezone(timezone.utc)
