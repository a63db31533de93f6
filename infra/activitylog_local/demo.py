"""Demo data: a wine club's month of activity, written through the service's own API.

``demo_entries`` makes the product page's five example rows at the same relative times
(2 min, 15 min, 1 hr, 1 hr and 3 hrs ago) plus realistic entries over ``days`` across
every category of the "What's logged" table, drawn from the vocabulary and busy hours
of ``generator`` (the benchmarks' data comes from the same module): contacts, releases, products,
fulfillments, payments, settings (integrations, team) and background jobs with start,
progress and completion. ``seed`` records them with ``POST /activities/batch`` and moves
jobs along with ``PATCH /activities/{id}``, the same calls any writer makes, so demo
entries are stored exactly like real ones.

>>> seed(client, demo_entries(datetime.now(timezone.utc), count=3000, days=30))
"""

from __future__ import annotations

import hashlib
import random
import string
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional, Protocol

from activitylog.jobtypes import job_type
from activitylog_local.generator import FIRST, LAST, busy_moment

DEMO_ORG = "org_demo"
BATCH = 100

TEAM = [
    ("u_17", "Riley Park"),
    ("u_23", "Jordan Lee"),
    ("u_31", "Sam Rivera"),
    ("u_42", "Taylor Brooks"),
    ("u_58", "Morgan Diaz"),
]
def email_of(member: tuple[str, str]) -> str:
    """A team member's (made-up) address: where their background exports are mailed locally."""
    return f"{member[1].lower().replace(' ', '.')}@wineclub.example"


NEW_HIRE = ("u_64", "Casey Nguyen")  # joined two days ago: "what did the new hire do today?"
SEASONAL = [("u_71", "Jesse Ortiz"), ("u_72", "Robin Alvarez"), ("u_73", "Drew Kowalski")]  # harvest help: invited, removed
RELEASES = [("rel_spring26_reds", "Spring 2026 Reds"), ("rel_holiday25_sparkling", "Holiday 2025 Sparkling"),
            ("rel_winter26_whites", "Winter 2026 Whites"), ("rel_summer26_rose", "Summer 2026 Rosé"),
            ("rel_library_cab", "Library Cabernet Collection")]
PRODUCTS = [("prod_101", "2021 Estate Pinot Noir"), ("prod_102", "2022 Reserve Chardonnay"), ("prod_103", "2020 Cabernet Sauvignon"),
            ("prod_104", "2023 Rosé of Grenache"), ("prod_105", "NV Brut Sparkling"), ("prod_106", "2019 Late Harvest Riesling"),
            ("prod_107", "2021 Syrah Block 7"), ("prod_108", "Gift Box: Founders' Trio")]
SETTINGS = [("set_shipping", "Shipping rates", "flat_rate", [15, 18, 12]), ("set_tax", "Tax collection", "mode", ["origin", "destination"]),
            ("set_club_billing_day", "Club billing day", "day_of_month", [1, 5, 15]), ("set_pickup", "Pickup locations", "count", [2, 3, 4])]
INTEGRATIONS = [("int_square", "Square"), ("int_woo", "WooCommerce"), ("int_stripe", "Stripe"), ("int_fedex", "FedEx"), ("int_mailchimp", "Mailchimp")]
TIERS = ["Cellar", "Reserve", "Grand Cru"]

SYSTEM = {"kind": "system", "id": "system", "name": "system"}
STRIPE = {"kind": "external", "id": "stripe", "name": "Stripe"}
SQUARE_ACTOR = {"kind": "external", "id": "square", "name": "Square"}
FEDEX = {"kind": "external", "id": "fedex", "name": "FedEx"}

SQUARE_STACK = """Traceback (most recent call last):
  File "/var/task/jobs/sync_square_stock.py", line 88, in run
    page = client.inventory.batch_retrieve_counts(location_ids=[location.id], cursor=cursor)
  File "/opt/python/square/api/inventory_api.py", line 412, in batch_retrieve_counts
    return self.execute_request(request)
  File "/opt/python/square/http/http_client.py", line 97, in execute_request
    raise ApiException(response.status_code, response.text)
square.exceptions.api_exception.ApiException: 401 UNAUTHORIZED: The access token has expired (code ACCESS_TOKEN_EXPIRED)
"""


@dataclass
class DemoEntry:
    """One entry as a writer records it, and the job updates that follow it."""

    document: dict
    updates: list[dict] = field(default_factory=list)

    @property
    def occurred_at(self) -> str:
        return self.document["occurred_at"]


class Client(Protocol):
    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]: ...


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user(member: tuple[str, str]) -> dict:
    return {"kind": "user", "id": member[0], "name": member[1]}


@dataclass
class _Contact:
    id: str
    name: str
    exists: bool = True  # on the books before the demo's window opens
    gone: bool = False  # deleted, or merged into another contact: nothing happens to it after
    status: str = "active"
    tier: str = "Cellar"
    email: str = ""
    tags: set = field(default_factory=set)

    @property
    def entity(self) -> dict:
        return {"type": "contact", "id": self.id, "label": self.name}

    def record(self) -> dict:
        return {"email": self.email, "club_tier": self.tier, "phone": "+1 707 555 0101"}


class _Maker:
    """Entries made in time order over one state of the org, so every record's history holds
    together: created before anything else happens to it, each change starting where the last
    one left it, nothing after a delete, jobs only on releases still open."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.contacts = []
        for i in range(120):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            self.contacts.append(_Contact(f"c_{1000 + i}", f"{first} {last}", exists=i < 80, tier=rng.choice(TIERS),
                                          email=f"{first.lower()}@example.com"))
        # Alex Chen's history is the example row 15 min ago: kept out of the random events.
        self.contacts.pop(42)
        self.alex = _Contact("c_1042", "Alex Chen", tier="Reserve", email="alex@oldmail.com")
        self.counter = 4000
        self.releases = {release_id: status for (release_id, _), status in
                         zip(RELEASES, ["PENDING", "PENDING", "DRAFT", None, "PENDING"], strict=True)}  # None: not yet created
        self.products = {product_id: {"price": rng.choice([28, 34, 42, 55, 68, 95]), "stock": rng.randint(60, 400)}
                         for product_id, _ in PRODUCTS[:-1]}  # the gift box is created during the month
        self.settings = {setting_id: values[0] for setting_id, _, _, values in SETTINGS}
        self.mailchimp_connected = True
        self.team_roles = {member_id: ("owner" if member_id == TEAM[0][0] else "staff") for member_id, _ in TEAM}
        self.seasonal = {member_id: False for member_id, _ in SEASONAL}  # on the team now?

    def number(self) -> int:
        self.counter += self.rng.randint(1, 9)
        return self.counter

    def status(self, failed: float = 0.02, warning: float = 0.05) -> str:
        roll = self.rng.random()
        return "FAILED" if roll < failed else "WARNING" if roll < failed + warning else "SUCCESS"

    def member(self, when: datetime) -> tuple[str, str]:
        if when > self.now - timedelta(days=2) and self.rng.random() < 0.25:
            return NEW_HIRE
        return self.rng.choices(TEAM, weights=[5, 3, 3, 2, 1])[0]

    def entry(self, when: datetime, type_: str, status: str, actor: dict, action: str, event: str,
              entity: Optional[dict] = None, **extra: Any) -> DemoEntry:
        document = {"type": type_, "status": status, "actor": actor, "action": action, "event": event,
                    "occurred_at": _iso(when)}
        if entity:
            document["entity"] = entity
        document.update({k: v for k, v in extra.items() if v is not None})
        return DemoEntry(document)

    # --- categories ---------------------------------------------------------------------

    def contact(self, when: datetime) -> DemoEntry:
        who = _user(self.member(when))
        live = [c for c in self.contacts if c.exists and not c.gone]
        kind = self.rng.choices(["created", "updated", "deleted", "status_changed", "tags_added", "tags_removed", "merged"],
                                weights=[4, 8, 1, 2, 2, 1, 1])[0]
        unborn = [c for c in self.contacts if not c.exists]
        if kind == "created" and unborn:
            contact = unborn[0]
            contact.exists = True
            return self.entry(when, "USER_ACTION", "SUCCESS", who, "created", f"Contact created · {contact.name}", contact.entity,
                              after=contact.record())
        contact = self.rng.choice(live)
        name = contact.name
        if kind == "deleted" and len(live) > 40:
            contact.gone = True
            return self.entry(when, "USER_ACTION", "SUCCESS", who, "deleted", f"Contact deleted · {name}", contact.entity,
                              before=contact.record())
        if kind == "merged" and len(live) > 40:
            other = self.rng.choice([c for c in live if c is not contact])
            other.gone = True  # its history ends here: it lives on as ``contact``
            contact.tags |= other.tags
            return self.entry(when, "USER_ACTION", "SUCCESS", who, "merged", f"Contacts merged · {other.name} into {name}", contact.entity,
                              metadata={"merged_contact_id": other.id})
        if kind == "status_changed":
            before = contact.status
            contact.status = self.rng.choice([s for s in ("active", "paused", "cancelled") if s != before])
            return self.entry(when, "USER_ACTION", "SUCCESS", who, "status_changed", f"Contact status changed · {name}", contact.entity,
                              before={"status": before}, after={"status": contact.status})
        tag_choices = ["vip", "pickup-only", "gift-buyer", "allocation-list", "wholesale"]
        if kind == "tags_removed" and contact.tags:
            tag = self.rng.choice(sorted(contact.tags))
            contact.tags.discard(tag)
            return self.entry(when, "USER_ACTION", "SUCCESS", who, kind, f"Tag {tag} removed · {name}", contact.entity, metadata={"tags": [tag]})
        if kind in ("tags_added", "tags_removed") and len(contact.tags) < len(tag_choices):
            tag = self.rng.choice([t for t in tag_choices if t not in contact.tags])
            contact.tags.add(tag)
            return self.entry(when, "USER_ACTION", "SUCCESS", who, "tags_added", f"Tag {tag} added · {name}", contact.entity, metadata={"tags": [tag]})
        before = contact.record()
        contact.tier = self.rng.choice([t for t in TIERS if t != contact.tier])
        if self.rng.random() < 0.4:
            first, last = name.split()[0].lower(), name.split()[1].lower()
            contact.email = f"{first}.{last}@example.com" if contact.email == f"{first}@example.com" else f"{first}@example.com"
        return self.entry(when, "USER_ACTION", "SUCCESS", who, "updated", f"Contact updated · {name}", contact.entity,
                          before=before, after=contact.record())

    def release(self, when: datetime) -> DemoEntry:
        who = _user(self.member(when))
        label_of = dict(RELEASES)
        kind = self.rng.choices(["created", "promoted", "cancelled", "modification_added"], weights=[2, 2, 1, 4])[0]
        unborn = [r for r, status in self.releases.items() if status is None]
        drafts = [r for r, status in self.releases.items() if status == "DRAFT"]
        # Spring 2026 Reds has its payments processed 2 min ago (an example row): never cancelled.
        cancellable = [r for r, status in self.releases.items() if status in ("DRAFT", "PENDING") and r != "rel_spring26_reds"]
        if kind == "created" and unborn:
            release_id = unborn[0]
            self.releases[release_id] = "DRAFT"
            return self.entry(when, "USER_ACTION", "SUCCESS", who, "created", f"Release created · {label_of[release_id]}",
                              _release(release_id), after={"status": "DRAFT"})
        if kind == "promoted" and drafts:
            release_id = self.rng.choice(drafts)
            self.releases[release_id] = "PENDING"
            return self.entry(when, "USER_ACTION", "SUCCESS", who, "promoted", f"Release promoted to PENDING · {label_of[release_id]}",
                              _release(release_id), before={"status": "DRAFT"}, after={"status": "PENDING"})
        if kind == "cancelled" and cancellable and len(cancellable) > 2:
            release_id = self.rng.choice(cancellable)
            before, self.releases[release_id] = self.releases[release_id], "CANCELLED"
            return self.entry(when, "USER_ACTION", "SUCCESS", who, "cancelled", f"Release cancelled · {label_of[release_id]}",
                              _release(release_id), before={"status": before}, after={"status": "CANCELLED"})
        release_id = self.rng.choice(self.open_releases())
        product = self.rng.choice(PRODUCTS[:-1])
        return self.entry(when, "USER_ACTION", "SUCCESS", who, "modification_added", f"Modification added · {label_of[release_id]}",
                          _release(release_id), metadata={"product": product[1], "quantity": self.rng.randint(1, 6)})

    def open_releases(self) -> list[str]:
        return [r for r, status in self.releases.items() if status in ("DRAFT", "PENDING")]

    def pending_releases(self) -> list[str]:
        return [r for r, status in self.releases.items() if status == "PENDING"]

    def synced(self, when: datetime, source: str, product_id: Optional[str] = None, run: Optional[str] = None) -> DemoEntry:
        """A product synced from Square or WooCommerce; ``run``: the sync job run that did it (their chain, Related)."""
        product_id = product_id or self.rng.choice(sorted(self.products))
        label = dict(PRODUCTS)[product_id]
        status = self.status(0.03, 0.04)
        metadata: dict[str, Any] = {"source": source.lower(), "fields": ["price", "stock"]}
        if status == "WARNING":
            metadata["warnings"] = [f"{label}: price synced; stock left as it was ({source} has no count for it at L_WAREHOUSE)"]
        error = {"message": f"{source} answered 409 VERSION_MISMATCH for {label}: it changed during the sync; the next sync "
                            "takes the new version", "type": "ApiException"} if status == "FAILED" else None
        return self.entry(when, "BACKGROUND_JOB", status, SYSTEM, "synced", f"Product synced from {source} · {label}",
                          _product(product_id), metadata=metadata, error=error, correlation_id=run, **chain_trace(run))

    def product(self, when: datetime) -> DemoEntry:
        kind = self.rng.choices(["created", "updated", "stock_adjusted", "synced"], weights=[1, 3, 4, 4])[0]
        unborn = [(p, label) for p, label in PRODUCTS if p not in self.products]
        if kind == "created" and unborn:
            product_id, label = unborn[0]
            self.products[product_id] = {"price": 120, "stock": 48}
            return self.entry(when, "USER_ACTION", "SUCCESS", _user(self.member(when)), "created", f"Product created · {label}",
                              _product(product_id), after={**self.products[product_id], "visible": True})
        product_id = self.rng.choice(sorted(self.products))
        label, state = dict(PRODUCTS)[product_id], self.products[product_id]
        if kind == "synced":
            return self.synced(when, self.rng.choice(["Square", "WooCommerce"]), product_id)
        who = _user(self.member(when))
        if kind == "stock_adjusted":
            before = state["stock"]
            state["stock"] = max(0, before + self.rng.choice([-24, -12, -6, 6, 12, 48]))
            return self.entry(when, "USER_ACTION", "SUCCESS", who, "stock_adjusted", f"Stock adjusted · {label}", _product(product_id),
                              before={"stock": before}, after={"stock": state["stock"]},
                              metadata={"reason": self.rng.choice(["breakage", "recount", "new vintage", "sample pull"])})
        before = state["price"]
        state["price"] = before + self.rng.choice([2, 4, 5])
        return self.entry(when, "USER_ACTION", "SUCCESS", who, "updated", f"Product updated · {label}", _product(product_id),
                          before={"price": before, "visible": True}, after={"price": state["price"], "visible": True})

    def fulfillment(self, when: datetime) -> DemoEntry:
        """Each shipment is its own record, with one entry here: the moment of its history the demo shows."""
        number = self.number()
        entity = {"type": "fulfillment", "id": f"ful_{number}", "label": f"Shipment #{number}"}
        kind = self.rng.choices(["status_changed", "shipment_created", "swap_applied", "tracking"], weights=[4, 3, 1, 4])[0]
        if kind == "tracking":
            status = self.rng.choice(["in_transit", "out_for_delivery", "delivered", "exception"])
            metadata: dict[str, Any] = {"request": {"trackingNumber": f"7945{number}", "status": status}}
            if status == "exception":
                metadata["warnings"] = [f"FedEx reports a delivery exception for 7945{number}: recipient not available; "
                                        "delivery will be attempted again next business day"]
            return self.entry(when, "WEBHOOK", "WARNING" if status == "exception" else "SUCCESS", FEDEX, "received",
                              f"FedEx tracking · {status}", entity, source={"provider": "fedex", "event_id": f"trk_{number}_{status}"},
                              metadata=metadata)
        who = self.member(when)
        if kind == "status_changed":
            before, after = self.rng.choice([("PENDING", "PACKED"), ("PACKED", "SHIPPED"), ("SHIPPED", "DELIVERED")])
            return self.entry(when, "USER_ACTION", "SUCCESS", _user(who), "status_changed", f"Fulfillment {after.lower()} · #{number}", entity,
                              before={"status": before}, after={"status": after})
        if kind == "swap_applied":
            old, new = self.rng.sample(PRODUCTS, 2)
            return self.entry(when, "USER_ACTION", "SUCCESS", _user(who), "swap_applied", f"Swap applied · #{number}", entity,
                              before={"item": old[1]}, after={"item": new[1]})
        return self.entry(when, "USER_ACTION", "SUCCESS", _user(who), "created", f"Shipment created · #{number}", entity,
                          metadata={"carrier": "FedEx", "bottles": self.rng.choice([3, 6, 12])})

    def payment(self, when: datetime) -> DemoEntry:
        number = self.number()
        entity = {"type": "payment", "id": f"pay_{number}", "label": f"Order #{number}"}
        amount = self.rng.choice([8400, 12900, 15600, 21000, 32400])
        roll = self.rng.random()
        if roll < 0.55:
            failed = self.rng.random() < 0.06
            event = "payment_intent.payment_failed" if failed else "payment_intent.succeeded"
            return self.entry(when, "WEBHOOK", "WARNING" if failed else "SUCCESS", STRIPE, "received", event, entity,
                              source={"provider": "stripe", "event_id": "evt_" + "".join(self.rng.choices(string.ascii_letters + string.digits, k=24))},
                              metadata={"request": {"type": event, "data": {"object": {"amount": amount, "currency": "usd"}}},
                                        "response": {"status": 200}, **({"warnings": [CARD_DECLINED]} if failed else {})})
        if roll < 0.8:
            status = self.status(0.06, 0.0)
            return self.entry(when, "USER_ACTION", status, _user(self.member(when)), "charged", f"Charge attempted · Order #{number}", entity,
                              metadata={"amount_cents": amount},
                              error={"message": "Your card was declined.", "type": "CardError"} if status == "FAILED" else None)
        return self.entry(when, "USER_ACTION", "SUCCESS", _user(self.member(when)), "refunded", f"Refund issued · Order #{number}", entity,
                          metadata={"amount_cents": amount // 2, "reason": "damaged in transit"})

    def setting(self, when: datetime) -> DemoEntry:
        who = _user(self.member(when))
        kind = self.rng.choices(["setting", "integration", "team"], weights=[3, 1, 1])[0]
        if kind == "integration":
            # Mailchimp only: Square, WooCommerce, Stripe and FedEx feed the month's jobs and webhooks.
            verb = "disconnected" if self.mailchimp_connected else "connected"
            self.mailchimp_connected = not self.mailchimp_connected
            return self.entry(when, "USER_ACTION", "SUCCESS", who, verb, f"Integration {verb} · Mailchimp",
                              {"type": "integration", "id": "int_mailchimp", "label": "Mailchimp"})
        if kind == "team":
            return self.team(when)
        setting_id, label, name, values = self.rng.choice(SETTINGS)
        before = self.settings[setting_id]
        self.settings[setting_id] = self.rng.choice([v for v in values if v != before])
        return self.entry(when, "USER_ACTION", "SUCCESS", who, "updated", f"Setting changed · {label}",
                          {"type": "setting", "id": setting_id, "label": label}, before={name: before}, after={name: self.settings[setting_id]})

    def team(self, when: datetime, member: Optional[tuple[str, str]] = None) -> DemoEntry:
        """Riley (the owner) invites seasonal staff and removes them again, or makes a staff member a manager."""
        staff = [m for m in TEAM if self.team_roles[m[0]] == "staff"]
        if member is None and staff and self.rng.random() < 0.3:
            member = self.rng.choice(staff)
            self.team_roles[member[0]] = "manager"
            verb, before, after = "role_changed", {"role": "staff"}, {"role": "manager"}
        else:
            member = member or self.rng.choice(SEASONAL)
            joined = self.seasonal.get(member[0], False)
            self.seasonal[member[0]] = not joined
            verb, before, after = ("removed", {"role": "staff"}, None) if joined else ("invited", None, {"role": "staff"})
        return self.entry(when, "USER_ACTION", "SUCCESS", _user(TEAM[0]), verb, f"Team member {verb.replace('_', ' ')} · {member[1]}",
                          {"type": "team_member", "id": member[0], "label": member[1]}, before=before, after=after)

    def outgoing(self, when: datetime) -> DemoEntry:
        """Platform → external: the webhooks the platform sends to a member's integrations (``webhook``, as any writer records one)."""
        connected = [i for i in INTEGRATIONS if i[0] == "int_woo" or (i[0] == "int_mailchimp" and self.mailchimp_connected)]
        integration_id, label = self.rng.choice(connected)
        topic = self.rng.choice(["contact.updated", "order.created", "club_membership.renewed"])
        status = self.status(0.03, 0.06)
        code = {"SUCCESS": 200, "WARNING": 429, "FAILED": 500}[status]
        webhook = {"direction": "outgoing", "url": f"https://hooks.example.com/{integration_id}", "method": "POST",
                   "request_headers": {"content-type": "application/json", "x-signature": "sha256=" + "".join(self.rng.choices("0123456789abcdef", k=64))},
                   "request_body": {"topic": topic, "id": f"msg_{self.rng.randrange(10**8):08d}"},
                   "response": {"status_code": code, "body": {"ok": True} if code == 200 else f"{label} answered {code}"},
                   "duration_ms": self.rng.randint(40, 2500), "attempt": 1 if status == "SUCCESS" else self.rng.randint(1, 5)}
        return self.entry(when, "WEBHOOK", status, SYSTEM, "sent", f"Webhook sent · {topic} → {label}",
                          {"type": "integration", "id": integration_id, "label": label}, webhook=webhook,
                          metadata={"retry": "in 5 min", "warnings": [f"{label} answered 429 Too Many Requests; sent again in 5 min"]}
                          if status == "WARNING" else None,
                          error={"message": f"{label} answered {code}", "type": "HTTPError"} if status == "FAILED" else None)

    def system(self, when: datetime) -> DemoEntry:
        kind = self.rng.choice(["schema_migrated", "config_changed", "cache_cleared"])
        label = {"schema_migrated": "Schema migration 2026_11_add_pickup_windows applied",
                 "config_changed": "Configuration reloaded · feature flags",
                 "cache_cleared": "Product catalog cache cleared"}[kind]
        return self.entry(when, "SYSTEM_EVENT", "SUCCESS", SYSTEM, kind, label, {"type": "setting", "id": "platform", "label": "Platform"})

    # --- jobs ---------------------------------------------------------------------------

    def job(self, when: datetime, name: str, entity: dict, total: int, status: Optional[str] = None,
            error: Optional[dict] = None, running: bool = False, label: Optional[str] = None,
            live: bool = True, duration_ms: Optional[int] = None) -> DemoEntry:
        """A job run. ``live`` runs are recorded at their start and moved along by PATCH
        (progress, then completion), as a running job reports; older history is recorded
        in its final state to keep seeding fast. Its parameters are kept, so a retry runs it alike."""
        status = status or self.status(0.04, 0.05)
        event = f"{name} · {label}" if label else name
        action = job_type(name).verb  # the register's verb: a retried run reads like the original
        params = JOB_PARAMS.get(name, {})
        done: dict[str, Any] = {"job": name, "params": params, "total": total,
                                "processed": total if status == "SUCCESS" else total - self.rng.randint(1, max(1, total // 10)),
                                "duration_ms": duration_ms or self.rng.randint(4000, JOB_MAX_MS)}
        if status == "WARNING":
            done["skipped"] = total - done["processed"]
            done["warnings"] = [f"{done['skipped']} of {total} {JOB_RECORDS.get(name, 'records')} skipped: {JOB_SKIPS.get(name, 'they failed validation')}"]
        failure = (error or {"message": "upstream timed out after 30 s", "type": "TimeoutError"}) if status == "FAILED" else None
        finished = _iso(min(when + timedelta(milliseconds=done["duration_ms"]), self.now))
        if not live and not running:
            chain = square_chain(when) if name == "SYNC_SQUARE_STOCK" else None  # shared with the products it synced
            demo = self.entry(when, "BACKGROUND_JOB", status, SYSTEM, action, event, entity, metadata=done, error=failure,
                              correlation_id=chain, **chain_trace(chain))
            demo.document["finished_at"] = finished
            return demo
        demo = self.entry(when, "BACKGROUND_JOB", "IN_PROGRESS", SYSTEM, action, event, entity,
                          metadata={"job": name, "params": params, "total": total, "processed": 0})
        demo.updates.append({"metadata": {"processed": total // 3}})
        if running:
            return demo
        final: dict[str, Any] = {"status": status, "metadata": done, "finished_at": finished}
        if failure:
            final["error"] = failure
        demo.updates.append(final)
        return demo


def square_chain(run: datetime) -> str:
    """The correlation id of a Square stock sync run started at ``run``."""
    return f"run_sync_square_stock_{run:%Y%m%d%H%M}"


def chain_trace(chain: Optional[str]) -> dict:
    """The W3C trace a chain's entries were written under (the Square sync's request started it): derived from the chain,
    so the demo stays the same for a seed."""
    if not chain:
        return {}
    digest = hashlib.sha256(chain.encode()).hexdigest()
    return {"trace_id": digest[:32], "span_id": digest[32:48]}


def _release(release_id: str) -> dict:
    return {"type": "release", "id": release_id, "label": dict(RELEASES)[release_id]}


def _product(product_id: str) -> dict:
    return {"type": "product", "id": product_id, "label": dict(PRODUCTS)[product_id]}


CARD_DECLINED = "Card declined (card_declined): the member's bank refused the charge; Stripe tries it again in 24 h"
# What a job's WARNING says it skipped, and why.
JOB_RECORDS = {"PROCESS_RELEASE_PAYMENTS": "payments", "SYNC_SQUARE_STOCK": "items", "SYNC_WOO_ORDERS": "orders",
               "GENERATE_FULFILLMENT_BATCH": "shipments", "SEND_CLUB_REMINDERS": "reminders", "NIGHTLY_CONTACT_DEDUPE": "contacts"}
JOB_SKIPS = {"PROCESS_RELEASE_PAYMENTS": "the card on file expires before the ship date",
             "SYNC_SQUARE_STOCK": "no SKU matches a product here",
             "SYNC_WOO_ORDERS": "the order was refunded in WooCommerce during the sync",
             "GENERATE_FULFILLMENT_BATCH": "the shipping address failed FedEx validation",
             "SEND_CLUB_REMINDERS": "the member unsubscribed from club emails",
             "NIGHTLY_CONTACT_DEDUPE": "two or more contacts match with different club tiers; left for a person to merge"}
# What each job is run with (metadata.params): what Retry runs again.
JOB_PARAMS = {"SYNC_SQUARE_STOCK": {"location_ids": ["L_TASTING_ROOM", "L_WAREHOUSE"]},
              "SYNC_WOO_ORDERS": {"since": "last_sync"}, "NIGHTLY_CONTACT_DEDUPE": {"match_on": ["email", "phone"]}}
JOBS = [  # (name, every hours, at hour, entity maker)
    ("PROCESS_RELEASE_PAYMENTS", 24, 6),
    ("SYNC_SQUARE_STOCK", 3, 0),
    ("SYNC_WOO_ORDERS", 6, 1),
    ("GENERATE_FULFILLMENT_BATCH", 24, 8),
    ("SEND_CLUB_REMINDERS", 24, 15),
    ("NIGHTLY_CONTACT_DEDUPE", 24, 3),
]


JOB_MAX_MS = 240_000  # runs of one job never overlap: the most frequent runs every 3 h


def demo_entries(now: datetime, count: int = 3000, days: int = 30, seed: int = 2026, history_count: int = 0,
                 history_from: Optional[datetime] = None, skip: Optional[tuple[datetime, datetime]] = None) -> list[DemoEntry]:
    """The five example rows plus about ``count`` entries over ``days``, oldest first; with ``history_count``,
    about that many more from ``history_from`` to ``days`` ago (the org's older history, none inside ``skip``).
    One org made in time order: the history's records are the ones the recent weeks go on with."""
    rng = random.Random(seed)
    make = _Maker(rng, now)
    examples = _example_rows(make, now)
    start = now - timedelta(days=days)
    # Every entry is made at its moment, oldest first, from the org's state then.
    planned: list[tuple[datetime, Callable[[], DemoEntry]]] = []
    if history_count and history_from is not None:
        older = _plan(make, history_from, start, history_count, [])
        planned += [(when, made) for when, made in older if skip is None or not skip[0] <= when < skip[1]]
    # Scheduled jobs on their schedules, newest few minutes excluded (the example rows own them).
    example_runs = [(e.document["event"].split(" · ")[0], _parse(e.occurred_at)) for e in examples if e.document["type"] == "BACKGROUND_JOB"]
    joined = now - timedelta(days=2, hours=2)  # Casey Nguyen is on the team before their first action
    recent = [(joined, lambda: make.team(joined, NEW_HIRE))]
    one_time = _one_time_syncs(now)
    planned += _plan(make, start, now, count, example_runs, made=len(examples) + len(recent) + len(one_time)) + recent
    planned.sort(key=lambda item: item[0])
    entries = [make_entry() for _, make_entry in planned] + examples + one_time
    entries.sort(key=lambda e: e.occurred_at)
    return entries


def _one_time_syncs(now: datetime) -> list[DemoEntry]:
    """Two one-time syncs that failed today: they cannot be retried from the log, only re-triggered from their
    integration page (the product page's "Investigating failures"). Made apart from the random draws, so
    the rest of the demo is as it was."""
    def failed(when: datetime, name: str, entity: dict, total: int, processed: int, error: dict) -> DemoEntry:
        document = {"type": "BACKGROUND_JOB", "status": "FAILED", "actor": SYSTEM, "action": job_type(name).verb,
                    "event": name, "entity": entity, "occurred_at": _iso(when),
                    "finished_at": _iso(when + timedelta(minutes=4, seconds=12)),
                    "metadata": {"job": name, "params": {}, "total": total, "processed": processed, "duration_ms": 252_000},
                    "error": error}
        return DemoEntry(document)

    return [
        failed(now - timedelta(hours=5, minutes=12), "INITIAL_SQUARE_IMPORT", {"type": "integration", "id": "int_square", "label": "Square"},
               1840, 612, {"message": "Square API returned 403 INSUFFICIENT_SCOPES: the connection lacks INVENTORY_READ; "
                                      "reconnect Square with inventory access, then start the import again",
                           "type": "ApiException"}),
        failed(now - timedelta(hours=7, minutes=40), "IMPORT_CONTACTS", {"type": "integration", "id": "int_mailchimp", "label": "Mailchimp"},
               2400, 0, {"message": "the uploaded file has no email column (found: name, phone, club_tier); "
                                    "map a column to email and import it again", "type": "ImportError"}),
    ]


def _plan(make: _Maker, start: datetime, end: datetime, count: int, example_runs: list[tuple[str, datetime]],
          made: int = 0) -> list[tuple[datetime, Callable[[], DemoEntry]]]:
    """About ``count`` entries between ``start`` and ``end`` (the last minutes excluded), ``made`` of them planned
    elsewhere, each made when its turn comes: scheduled job runs (a sample, so jobs stay about a quarter of the
    entries) and every category."""
    rng = make.rng
    planned: list[tuple[datetime, Callable[[], DemoEntry]]] = []
    days = (end - start) / timedelta(days=1)
    runs = sum(int(days * 24) // every for _, every, _ in JOBS)
    keep = min(1.0, count * 0.25 / max(1, runs))
    for name, every, at in JOBS:
        moment = start.replace(hour=at, minute=0, second=0, microsecond=0) + timedelta(minutes=rng.randint(0, 3))
        while moment < end - timedelta(minutes=20):
            # An example row is its job's newest run (the page's tests open "the newest failed SYNC_SQUARE_STOCK").
            near_example = any(job == name and moment > when - timedelta(hours=every / 2) for job, when in example_runs)
            if moment > start and not near_example and (keep >= 1 or rng.random() < keep):
                planned.append((moment, _scheduled_run(make, name, moment, make.now)))
                if name == "SYNC_SQUARE_STOCK" and moment < make.now - timedelta(days=2):  # a finished run: what it synced
                    for minutes in (1, 2):
                        synced = moment + timedelta(minutes=minutes, seconds=17)
                        planned.append((synced, lambda at=synced, run=moment: make.synced(at, "Square", run=square_chain(run))))
            moment += timedelta(hours=every, minutes=rng.randint(-2, 2))
    makers: list[tuple[Callable[[datetime], DemoEntry], int]] = [
        (make.contact, 30), (make.release, 6), (make.product, 12), (make.fulfillment, 16),
        (make.payment, 18), (make.setting, 4), (make.outgoing, 4), (make.system, 2),
    ]
    functions, weights = zip(*makers)
    for index in range(max(0, count - made - len(planned))):
        when = busy_moment(rng, start, end - timedelta(minutes=1))
        maker = functions[index] if index < len(functions) else rng.choices(functions, weights=weights)[0]  # every category
        planned.append((when, lambda maker=maker, when=when: maker(when)))
    return planned


def _scheduled_run(make: _Maker, name: str, moment: datetime, now: datetime) -> Callable[[], DemoEntry]:
    def run() -> DemoEntry:
        label, entity = None, {"type": "job", "id": name.lower(), "label": name}
        if name == "PROCESS_RELEASE_PAYMENTS":  # only a release still waiting for its payments
            release_id = make.rng.choice(make.pending_releases())
            label, entity = dict(RELEASES)[release_id], _release(release_id)
        elif name == "SYNC_SQUARE_STOCK":
            entity = {"type": "integration", "id": "int_square", "label": "Square"}
        elif name == "SYNC_WOO_ORDERS":
            entity = {"type": "integration", "id": "int_woo", "label": "WooCommerce"}
        elif name == "GENERATE_FULFILLMENT_BATCH":
            entity = {"type": "fulfillment", "id": f"batch_{moment:%Y%m%d}", "label": f"Batch {moment:%b %d}"}
        running = moment > now - timedelta(minutes=45) and name == "SYNC_WOO_ORDERS"
        return make.job(moment, name, entity, make.rng.randint(40, 900), running=running, label=label,
                        live=moment > now - timedelta(days=2))

    return run


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _example_rows(make: _Maker, now: datetime) -> list[DemoEntry]:
    """The product page's five example rows, at their relative times."""
    rows = [
        make.job(now - timedelta(minutes=2), "PROCESS_RELEASE_PAYMENTS",
                 _release("rel_spring26_reds"), 412, status="SUCCESS", label="Spring 2026 Reds",
                 duration_ms=118_000),  # started 2 min ago, finished as the demo is seeded
        make.entry(now - timedelta(minutes=15), "USER_ACTION", "SUCCESS", _user(TEAM[0]), "updated", "Contact updated · Alex Chen",
                   make.alex.entity,
                   before={"email": "alex@oldmail.com", "club_tier": "Reserve", "phone": "+1 707 555 0142", "tags": ["vip"]},
                   after={"email": "alex.chen@example.com", "club_tier": "Grand Cru", "phone": "+1 707 555 0142", "tags": ["vip", "allocation-list"]}),
        make.entry(now - timedelta(minutes=61), "WEBHOOK", "SUCCESS", STRIPE, "received", "payment_intent.succeeded",
                   {"type": "payment", "id": "pay_3981", "label": "Order #3981"},
                   source={"provider": "stripe", "event_id": "evt_3QkDemoSucceeded000001"},
                   metadata={"request": {"type": "payment_intent.succeeded", "data": {"object": {"id": "pi_3QkDemo01", "amount": 15600, "currency": "usd"}}},
                             "response": {"status": 200, "body": {"received": True}}}),
        make.entry(now - timedelta(minutes=64), "WEBHOOK", "WARNING", STRIPE, "received", "payment_intent.payment_failed",
                   {"type": "payment", "id": "pay_3979", "label": "Order #3979"},
                   source={"provider": "stripe", "event_id": "evt_3QkDemoFailed0000002"},
                   metadata={"request": {"type": "payment_intent.payment_failed",
                                         "data": {"object": {"id": "pi_3QkDemo02", "amount": 21000, "last_payment_error": {"code": "card_declined"}}}},
                             "response": {"status": 200}, "retry": "scheduled in 24 h", "warnings": [CARD_DECLINED]}),
        make.job(now - timedelta(hours=3), "SYNC_SQUARE_STOCK", {"type": "integration", "id": "int_square", "label": "Square"}, 286,
                 status="FAILED", error={"message": "Square API returned 401 UNAUTHORIZED: the access token has expired",
                                         "type": "ApiException", "stack": SQUARE_STACK}),
    ]
    return rows


# --- writing through the API ----------------------------------------------------------------


class SeedError(RuntimeError):
    pass


def seed(client: Client, entries: list[DemoEntry], progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """Record ``entries`` in batches of 100, then apply each job's updates in order."""
    total = len(entries) + sum(len(e.updates) for e in entries)
    done = 0
    ids: list[Optional[str]] = []
    for start in range(0, len(entries), BATCH):
        chunk = entries[start:start + BATCH]
        status, answer = _request(client, "POST", "/activities/batch", {"entries": [e.document for e in chunk]})
        if status not in (200, 207):
            raise SeedError(f"POST /activities/batch answered {status}: {answer}")
        for result in answer["results"]:
            if result["status"] != "accepted":
                raise SeedError(f"demo entry rejected: {result.get('field')}: {result.get('reason')}")
            ids.append(result["id"])
        done += len(chunk)
        if progress:
            progress(done, total)
    for entry, entry_id in zip(entries, ids, strict=True):
        for update in entry.updates:
            status, answer = _request(client, "PATCH", f"/activities/{entry_id}", update)
            if status != 200:
                raise SeedError(f"PATCH /activities/{entry_id} answered {status}: {answer}")
            done += 1
            if progress and done % 25 == 0:
                progress(done, total)
    if progress:
        progress(total, total)
    return {"entries": len(entries), "updates": total - len(entries)}


RETRY_WAITS = (1.0, 2.0, 4.0, 8.0)  # seconds before each new try of a 503


def _request(client: Client, method: str, path: str, body: dict) -> tuple[int, Any]:
    """One request, tried again after a 503: the API answers it when the table did not answer in time
    (a loaded machine), having written nothing, so the same request is safe to send again."""
    for wait in (*RETRY_WAITS, None):
        status, answer = client.request(method, path, body)
        if status != 503 or wait is None:
            return status, answer
        time.sleep(wait)
    raise AssertionError("unreachable")


# --- the older history, as production holds it ----------------------------------------------

HISTORY_COUNT = 1500  # entries over the two years before the table's days (the warm tier's part)
HISTORY_DAYS = 729  # within the default two-year retention: all of it listed


def history_cut(now: datetime, hot_table_days: int) -> tuple[datetime, datetime]:
    """(end of the warm tier's part, start of what the API may record): entries up to the end of the day
    compaction reaches are archived as if they left the table long ago; entries from HotTableDays - 1 days
    ago on are recorded through the API; none between (where production would hold entries in both)."""
    from activitylog.warm.compact import compactable_through

    through = compactable_through(now, hot_table_days)
    warm_end = datetime(through.year, through.month, through.day, tzinfo=timezone.utc) + timedelta(days=1)
    return warm_end, now - timedelta(days=hot_table_days - 1)


def archive_history(archive: Any, org: str, entries: list[DemoEntry], now: datetime, hot_table_days: int,
                    retention_days: int = 730, writer: str = "svc_demo_seed", seal: Optional[Callable[[list], list]] = None) -> dict:
    """Write ``entries`` into the archive bucket as the ArchiveFunction would have over the years: each
    entry's INSERT (as the API would have stored it, recorded a moment after it occurred), and its EXPIRE
    once the table's Time to Live removed it, in hourly objects tagged with the org's archive retention,
    then one manifest naming every line (what the DigestFunction signs). Ids derive from each entry's
    place, so the same entries give the same objects. ``archive``: an ``ArchiveStore``; ``seal``: the store's
    sealing of personal fields (``SubjectKeys.seal``), so the history holds what the API would have stored."""
    from activitylog import ids
    from activitylog.archive import layout
    from activitylog.archive.lines import EXPIRE, INSERT, version_line
    from activitylog.archive.writer import manifest_body, objects_of
    from activitylog.inputs import NewEntry
    from activitylog.retention_policy import archive_tag
    from activitylog.rules import new_entry

    inserts, expiries, built, recorded_at = [], [], [], []
    for number, demo in enumerate(entries):
        new = NewEntry.model_validate(demo.document)
        recorded_at.append(new.occurred_at + timedelta(milliseconds=300 + number % 700))
        entry = new_entry(new, writer, recorded_at[-1], retention_days, table_days=hot_table_days,
                          entry_id=ids.derived_id(new.occurred_at, f"{org}/demo-history/{number}"))
        entry.stalls_at = None
        built.append(entry)
    if seal is not None:
        built = seal(built)
    for entry, recorded in zip(built, recorded_at, strict=True):
        inserts.append(version_line(org, entry, f"{len(inserts) + 1:021d}", INSERT, recorded))
        expired = datetime.fromtimestamp(entry.expires_at, timezone.utc) + timedelta(hours=3)  # TTL deletes within hours
        if expired < now:
            expiries.append((expired, entry))
    expiries.sort(key=lambda pair: pair[0])
    lines = inserts + [version_line(org, entry, f"{len(inserts) + n + 1:021d}", EXPIRE, when)
                       for n, (when, entry) in enumerate(expiries)]
    tag = archive_tag(retention_days)
    # One object per hour for both (production writes an entry's expiry years later, into an object of its own):
    # half the objects to write and to compact, the same lines for verify, the digests and compaction.
    grouped = objects_of(lines)
    with ThreadPoolExecutor(8) as pool:  # hundreds of small objects: their round trips overlap
        list(pool.map(lambda key: archive.put_lines(key, grouped[key], tag), grouped))
    placed = [(key, line) for key, together in grouped.items() for line in together]
    if placed:
        archive.put(layout.manifest_key(now, lines[0].sequence), manifest_body(placed))
    return {"entries": len(inserts), "expired": len(expiries), "objects": len({key for key, _ in placed}), "built": built}
