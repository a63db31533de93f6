"""Alerts' notifications: new matching entries gathered per alert into a window, sent once per window.

- **Noting** (``AlertWindows.note``, in the streams' fan-out: the table's stream has two readers and stays so): an
  entry version that matches an ACTIVE alert's filter (``query.filters.matches``, the list's own) when its previous
  version did not is *new* to the alert. Its id goes into the alert's window item with one conditional update
  (``store.alerts``): the first one opens the window with ``due`` = the later of now + ``GATHER`` and the last
  notification + ``RATE``, and that entry, the window's *armer*, sends one delayed message (``AlertQueue``, SQS,
  ``DelaySeconds``) naming the window. Ids are a set: a retried stream batch adds nothing twice, and the armer's
  batch sends its message again (the duplicate is harmless, below), so a failed send loses no window.
- **Sending** (``Notifier``, the queue's function): at ``due`` the window is claimed with a conditional update over
  its due and change counter, so however many messages name it, one claims it; it is then sent (SES email to the
  owner, or a Standard Webhooks-signed ``{"text": ...}`` to the URL) and confirmed. A send that fails keeps the
  claimed window (``sending``): the message comes back and sends it again with the same ``webhook-id``, and a
  later window still unsent carries its count. A paused or deleted alert's window is dropped, unsent.

So an alert tells of a burst once ("12 new FAILED BACKGROUND_JOB entries in the last 5 minutes", with the
filtered page's link) at most every ``RATE``, within ``GATHER`` + the fan-out's delay of its first entry.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import urlencode

from activitylog.entry import iso_time
from activitylog.fifo import SqsQueue
from activitylog.mail import Mailer
from activitylog.query.filters import matches, parse_stream_filter
from activitylog.store.alerts import WINDOW_IDS

if TYPE_CHECKING:
    from activitylog.entry import Entry
    from activitylog.service import ActivityService
    from activitylog.streams.secrets import StreamSecrets

GATHER = timedelta(seconds=30)  # a window's first entry waits this long for the rest of its burst
RATE = timedelta(minutes=5)  # at most one notification per alert this often
SETTINGS_SECONDS = 30.0  # how long a fan-out container trusts what it read of an org's alerts
ATTEMPTS = 5  # conditional updates lost to a concurrent one before giving up (the batch is then retried)


def pending(window: dict) -> dict:
    """An alert's state as its owner sees it: the open window (entries gathered, when it goes) and the last send."""
    count = len(window.get("ids", ())) + int(window.get("more", 0))
    return {
        "pending": count,
        "due_at": iso_time(_at(window["due"])) if window.get("due") else None,
        "last_notified_at": iso_time(_at(window["sent"])) if window.get("sent") else None,
    }


class AlertQueue(SqsQueue):
    """The delayed messages ``{"org", "alert", "due"}`` (SQS standard; a delay is at most 15 minutes)."""

    setting = "ALERT_QUEUE_URL"

    def send(self, org: str, alert_id: str, due: int, delay_seconds: int) -> None:
        import json

        self.client.send_message(
            QueueUrl=self.url(),
            MessageBody=json.dumps({"org": org, "alert": alert_id, "due": due}),
            DelaySeconds=max(0, min(delay_seconds, 900)),
        )


class AlertWindows:
    """The fan-out's part: each batch's new matching entries into their alerts' windows."""

    def __init__(
        self,
        service: "ActivityService",
        queue: AlertQueue,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service, self.queue, self.monotonic = service, queue, monotonic
        self._alerts: dict[str, tuple[float, list[dict]]] = {}

    def alerts(self, org: str) -> list[dict]:
        """The org's ACTIVE alerts, read at most every ``SETTINGS_SECONDS`` per container."""
        cached = self._alerts.get(org)
        if cached is None or self.monotonic() - cached[0] >= SETTINGS_SECONDS:
            found = [a for a in self.service.store.alerts(org) if a["status"] == "ACTIVE"]
            cached = (self.monotonic(), found)
            self._alerts[org] = cached
        return cached[1]

    def forget(self, org: str) -> None:
        """An alert of ``org`` changed (its SYSTEM_EVENT went by): read its alerts again now."""
        self._alerts.pop(org, None)

    def new_matches(self, org: str, entry: "Entry", before: Optional["Entry"]) -> list[str]:
        """The ids of ``org``'s alerts ``entry`` is new to: it matches their filter and its previous version did not."""
        found = []
        for alert in self.alerts(org):
            wanted = parse_stream_filter(alert["filter"])[1]
            if matches(wanted, entry) and (before is None or not matches(wanted, before)):
                found.append(alert["id"])
        return found

    def note(self, org: str, alert_id: str, entry_ids: list[str]) -> None:
        """Add ``entry_ids`` to the alert's window, opening it if none is open (see the module)."""
        store = self.service.store
        entry_ids = sorted(set(entry_ids))
        for _ in range(ATTEMPTS):
            window = store.alert_window(org, alert_id)
            fresh = [i for i in entry_ids if i not in window.get("prev", ()) and i not in window.get("ids", ())]
            if not fresh:  # all told already or waiting: a retried batch, whose message goes again if it opened it
                if window.get("due") and window.get("armer") in entry_ids:
                    self._ring(org, alert_id, window["due"])
                return
            sent = window.get("sent")
            now = _ms(self.service.clock())
            due = max(now + _ms_of(GATHER), (sent or 0) + _ms_of(RATE))
            room = WINDOW_IDS - len(window.get("ids", ()))
            noted = store.note_alert_matches(org, alert_id, fresh, due, now, sent, room)
            if noted is None:
                continue  # a notification went out meanwhile: the window's due moves
            if noted.get("armer") in entry_ids:  # this batch opened the window: its message
                self._ring(org, alert_id, noted["due"])
            return
        raise RuntimeError(f"alert {alert_id}: the window kept changing; the batch is retried")

    def _ring(self, org: str, alert_id: str, due: int) -> None:
        self.queue.send(org, alert_id, due, math.ceil((due - _ms(self.service.clock())) / 1000))


class Notifier:
    """The queue's part: a due window claimed once, then told."""

    def __init__(
        self,
        service: "ActivityService",
        secrets: "StreamSecrets",
        queue: AlertQueue,
        mailer: Mailer,
        page_url: Optional[str],
        allow_loopback: bool = False,
        resolve: Optional[Callable[..., Any]] = None,
    ) -> None:
        self.service, self.secrets, self.queue, self.mailer = service, secrets, queue, mailer
        self.page_url, self.allow_loopback, self.resolve = page_url, allow_loopback, resolve

    def handle(self, message: dict) -> dict:
        """One message ``{org, alert, due}``; raises when the send failed (the message comes back, the window kept)."""
        org, alert_id, due = message["org"], message["alert"], int(message["due"])
        store = self.service.store
        alert = store.alert(org, alert_id)
        if alert is None:
            store.forget_alert_window(org, alert_id)
            return {"sent": False, "skipped": "deleted"}
        for _ in range(ATTEMPTS):
            window = store.alert_window(org, alert_id)
            sending = window.get("sending")
            if sending and window.get("sdue") == due:
                return self._send(org, alert, sending, due)  # claimed before, its send failed: again
            if window.get("due") != due:
                return {"sent": False, "skipped": "not this window"}  # a repeat of a message already handled
            if alert["status"] != "ACTIVE":
                store.clear_alert_window(org, alert_id)
                return {"sent": False, "skipped": "paused"}
            now = self.service.clock()
            if _ms(now) < due:  # early (a clock apart, a message redriven): wait the rest
                self.queue.send(org, alert_id, due, math.ceil((due - _ms(now)) / 1000))
                return {"sent": False, "skipped": "early"}
            told = self._window(window, now)
            if store.claim_alert_window(org, alert_id, told, due, int(window.get("n", 0)), _ms(now)):
                return self._send(org, alert, told, due)
        raise RuntimeError(f"alert {alert_id}: its window kept changing while it was claimed")

    def _window(self, window: dict, now: datetime) -> dict:
        """What is told: how many, since when, and the ids (kept as the next window's ``prev``)."""
        entry_ids = sorted(window.get("ids", ()))
        count = len(entry_ids) + int(window.get("more", 0))
        since = int(window.get("opened") or _ms(now))
        unsent = window.get("sending")  # a window whose send kept failing: told with this one, not lost
        if unsent:
            count += int(unsent["count"])
            since = min(since, int(unsent["since"]))
        return {"count": count, "since": since, "until": _ms(now), "ids": entry_ids}

    def _send(self, org: str, alert: dict, window: dict, due: int) -> dict:
        text, link = message(alert, window, self.page_url)
        destination = alert["destination"]
        if destination["kind"] == "email":
            self.mailer.send(destination["to"], f"Activity log alert: {text}", f"{text}\n\nOpen them: {link}\n")
        else:
            from activitylog.streams import destinations

            options: dict[str, Any] = {"allow_loopback": self.allow_loopback}
            if self.resolve is not None:
                options["resolve"] = self.resolve
            secret = self.secrets.get(org, alert["id"])
            config = {name: value for name, value in destination.items() if name != "kind"}
            target = destinations.destination("https", config, secret, **options)
            assert isinstance(target, destinations.WebhookDestination)
            document = {
                "text": f"{text} <{link}|Open them>",
                "alert": {"id": alert["id"], "name": alert["name"]},
                "count": window["count"],
                "since": iso_time(_at(window["since"])),
                "until": iso_time(_at(window["until"])),
                "link": link,
            }
            # One id per window: a send repeated after a failure is the same message to the receiver.
            message_id = "msg_" + hashlib.sha256(f"{org} {alert['id']} {due}".encode()).hexdigest()[:32]
            outcome = target.send_document(document, message_id)
            if not outcome.ok:
                raise Undelivered(f"the alert's URL answered {outcome.status}: {outcome.detail}")
        self.service.store.confirm_alert_sent(org, alert["id"], due)
        return {"sent": True, "count": window["count"]}


class Undelivered(Exception):
    """The alert's URL did not take the notification: the message comes back and it is sent again."""


def message(alert: dict, window: dict, page_url: Optional[str]) -> tuple[str, str]:
    """("12 new FAILED BACKGROUND_JOB entries in the last 5 minutes", the filtered page's link over that time)."""
    count = int(window["count"])
    chosen = alert["filter"]
    words = [" or ".join(chosen.get("status", [])), " or ".join(chosen.get("type", []))]
    label = " ".join(word for word in words if word) or "matching"
    minutes = max(1, math.ceil((int(window["until"]) - int(window["since"])) / 60000))
    span = "minute" if minutes == 1 else f"{minutes} minutes"
    text = f"“{alert['name']}”: {count} new {label} {'entry' if count == 1 else 'entries'} in the last {span}"
    return text, page_link(page_url, chosen, window)


def page_link(page_url: Optional[str], chosen: dict, window: dict) -> str:
    """The Activity Logs page filtered as the alert is, over the window (the page's own URL keys: web/js/filters.js
    ``writeUrl``): type and status comma-separated, user, entity_type, entity_id, ``range=custom`` with from and to."""
    params: dict[str, str] = {}
    for key in ("type", "status", "user", "entity_type", "entity_id"):
        if chosen.get(key):
            params[key] = ",".join(chosen[key])
    since = _at(int(window["since"])) - timedelta(minutes=1)  # the entries that opened it, with a margin
    until = _at(int(window["until"])) + timedelta(minutes=1)
    params.update(range="custom", **{"from": _iso_ms(since), "to": _iso_ms(until)})
    return f"{(page_url or '').rstrip('/')}/?{urlencode(params, safe=',:')}"


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def handle_messages(notifier: Notifier, event: dict, context: Any) -> Any:
    """The queue's batch: each message handled; a failed one (its send refused) is reported and comes back."""
    import json

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event,
        record_handler=lambda record: notifier.handle(json.loads(record.body)),
        processor=processor,
        context=context,
    )
