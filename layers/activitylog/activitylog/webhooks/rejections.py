"""Refused deliveries: how many warnings each provider may record per org and minute, and the summary of the rest.

Each provider has its own quota (``REJECTIONS_PER_MINUTE`` per org and minute), so a flood of
forgeries at one provider's URL cannot crowd out another's warnings. What a quota does not
record is counted in its window's item; once the minute is over, the sweeper's schedule
(``summarize``) records one SYSTEM_EVENT WARNING with the count ("37 more rejected deliveries
from Stripe in the last minute"), once per provider and minute.

>>> quota("stripe")
'webhook-rejections:stripe'

The receiver records a warning with ``service.record_within_quota(org, warning, recorded_by,
quota=quota(provider), limit=REJECTIONS_PER_MINUTE)``; the sweeper calls ``summarize(service, now)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Optional

from activitylog.webhooks.providers import PROVIDERS

if TYPE_CHECKING:
    from activitylog.inputs import NewEntry
    from activitylog.service import ActivityService

REJECTIONS_PER_MINUTE = 5
QUOTA = "webhook-rejections"


def quota(provider: str) -> str:
    """The name of ``provider``'s rejection quota (one per org, provider and minute)."""
    return f"{QUOTA}:{provider}"


def summary(name: str, unrecorded: int, end: datetime) -> Optional[tuple["NewEntry", str]]:
    """The entry that reports ``unrecorded`` rejections a quota did not record, and who records it; None for another quota."""
    from activitylog.inputs import NewEntry

    kind, _, provider_name = name.partition(":")
    provider = PROVIDERS.get(provider_name)
    if kind != QUOTA or provider is None:
        return None
    document = {
        "type": "SYSTEM_EVENT",
        "status": "WARNING",
        "action": "webhook_rejections_not_recorded",
        "actor": {"kind": "system", "id": "system", "name": "system"},
        "event": f"{unrecorded} more rejected deliveries from {provider.display} in the last minute",
        "entity": {"type": "integration", "id": provider.name, "label": provider.display},
        "occurred_at": end.isoformat(),
        "metadata": {
            "webhook": {
                "direction": "incoming",
                "provider": provider.name,
                "rejections_not_recorded": unrecorded,
                "recorded_per_minute": REJECTIONS_PER_MINUTE,
                "minute_ending": end.isoformat(),
            }
        },
    }
    return NewEntry.model_validate(document), f"webhooks:{provider.name}"


def summarize(service: "ActivityService", now: datetime) -> int:
    """Record the summary of every rejection quota that is over and was exceeded; answers how many were written."""
    return service.close_quotas(now, summary)
