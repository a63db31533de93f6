"""The data generator behind the demo org and the benchmarks: one vocabulary, one shape.

A wine-club merchant's activity log: its people, records, integrations and jobs, and when
things happen (busy US hours, quieter weekends). ``infra/activitylog_local/demo.py`` tells
a coherent month from this vocabulary; ``document`` draws one entry from the measured
distribution of a real log (≈95% SUCCESS, 3% WARNING, 2% FAILED; 52% user actions, 22%
webhooks, 18% jobs, 8% system events; 30 users, a few very active; skewed record
popularity; about 1 KB per entry), which the benchmarks seed by the hundred thousand.

>>> doc, writer = document(random.Random(1), busy_moment(random.Random(1), start, now))
"""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from typing import Any, Optional

FIRST = ["Alex", "Riley", "Jordan", "Casey", "Morgan", "Taylor", "Jamie", "Avery", "Quinn", "Parker",
         "Rowan", "Sage", "Emerson", "Hayden", "Reese", "Dakota", "Skyler", "Logan", "Cameron", "Drew",
         "Elliot", "Finley", "Harper", "Kendall", "Marley", "Noel", "Oakley", "Peyton", "Remy", "Shawn"]
LAST = ["Chen", "Park", "Garcia", "Nguyen", "Smith", "Johnson", "Patel", "Kim", "Lopez", "Brown",
        "Martin", "Rossi", "Silva", "Novak", "Okafor", "Larsen", "Dubois", "Schmidt", "Tanaka", "Cohen",
        "Walsh", "Moreau", "Haddad", "Ivanova", "Fischer", "Costa", "Murphy", "Singh", "Reyes", "Young"]
USERS = [(f"u_{i + 1:02d}", f"{FIRST[(i * 7) % 30]} {LAST[(i * 11) % 30]}") for i in range(30)]
USER_WEIGHTS = [1 / (rank + 1) ** 0.8 for rank in range(30)]  # a few power users, a long tail

TYPE_WEIGHTS = {"USER_ACTION": 0.52, "BACKGROUND_JOB": 0.18, "WEBHOOK": 0.22, "SYSTEM_EVENT": 0.08}
# Statuses by type; overall ≈ 94.5% SUCCESS, 3% WARNING, 2% FAILED, 0.45% IN_PROGRESS.
STATUS_WEIGHTS = {
    "USER_ACTION": {"SUCCESS": 0.975, "WARNING": 0.015, "FAILED": 0.010},
    "BACKGROUND_JOB": {"SUCCESS": 0.860, "WARNING": 0.070, "FAILED": 0.045, "IN_PROGRESS": 0.025},
    "WEBHOOK": {"SUCCESS": 0.950, "WARNING": 0.025, "FAILED": 0.025},
    "SYSTEM_EVENT": {"SUCCESS": 0.930, "WARNING": 0.050, "FAILED": 0.020},
}
# Eight entity types, unevenly by type; None: a system event about no record.
ENTITY_WEIGHTS = {
    "USER_ACTION": {"contact": 0.45, "product": 0.15, "release": 0.12, "fulfillment": 0.10, "payment": 0.08,
                    "setting": 0.06, "integration": 0.04},
    "BACKGROUND_JOB": {"job": 0.55, "release": 0.25, "contact": 0.10, "fulfillment": 0.10},
    "WEBHOOK": {"payment": 0.60, "fulfillment": 0.25, "contact": 0.10, "integration": 0.05},
    "SYSTEM_EVENT": {"integration": 0.35, "setting": 0.25, "job": 0.20, None: 0.20},
}
ENTITY_POOL = {"contact": 25000, "payment": 30000, "fulfillment": 12000, "product": 800, "release": 60,
               "job": 3000, "integration": 12, "setting": 40}
ENTITY_PREFIX = {"contact": "c", "payment": "pay", "fulfillment": "ful", "product": "prd", "release": "rel",
                 "job": "job", "integration": "int", "setting": "set"}
TITLE = {"contact": "Contact", "payment": "Payment", "fulfillment": "Fulfillment", "product": "Product",
         "release": "Release", "job": "Job", "integration": "Integration", "setting": "Setting"}
USER_ACTIONS = {"updated": 0.45, "created": 0.15, "tags_added": 0.10, "status_changed": 0.09, "adjusted": 0.05,
                "deleted": 0.04, "tags_removed": 0.04, "promoted": 0.03, "merged": 0.02, "cancelled": 0.03}
JOBS = ["PROCESS_RELEASE_PAYMENTS", "SYNC_INVENTORY", "SEND_RELEASE_EMAILS", "IMPORT_CONTACTS",
        "EXPORT_ORDERS", "RECALCULATE_TAX", "GENERATE_SHIPMENTS"]
RELEASES = [f"{season} {year} {kind}" for year in (2025, 2026) for season in ("Spring", "Summer", "Fall", "Winter")
            for kind in ("Reds", "Whites", "Mixed", "Reserve", "Sparkling", "Cellar Club", "Rosé", "Library")]
WINES = ["Estate Pinot Noir", "Reserve Chardonnay", "Old Vine Zinfandel", "Sauvignon Blanc", "Cabernet Sauvignon",
         "Grenache Rosé", "Brut Sparkling", "Late Harvest Riesling", "Syrah", "Merlot"]
PROVIDERS = {"stripe": ("Stripe", 0.55), "shopify": ("Shopify", 0.25), "shipstation": ("ShipStation", 0.12),
             "mailchimp": ("Mailchimp", 0.08)}
WEBHOOK_EVENTS = {
    "stripe": ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded", "customer.updated",
               "invoice.paid", "charge.dispute.created"],
    "shopify": ["orders/create", "orders/updated", "customers/update", "inventory_levels/update"],
    "shipstation": ["SHIP_NOTIFY", "ITEM_SHIP_NOTIFY", "ORDER_NOTIFY"],
    "mailchimp": ["subscribe", "unsubscribe", "profile", "cleaned"],
}
INTEGRATIONS = ["Shopify", "ShipStation", "Mailchimp", "QuickBooks", "Stripe", "Avalara", "Klaviyo", "Zapier",
                "Salesforce", "HubSpot", "Xero", "Slack"]
SETTINGS = ["Shipping rates", "Tax settings", "Club tiers", "Email templates", "Payment methods", "Team roles",
            "Checkout", "Inventory alerts"]
USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
]
# UTC hours: the merchants are in the Americas, so the log is busy 14:00-03:00 UTC.
HOUR_WEIGHTS = [6, 5, 4, 3, 2, 1.5, 1.2, 1, 1, 1.2, 2, 4, 7, 9, 11, 12, 12, 12, 11, 11, 10, 9, 8, 7]


def _pick(rng: random.Random, weights: dict) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _hex(rng: random.Random, n: int) -> str:
    return rng.randbytes((n + 1) // 2).hex()[:n]


def _entity_index(rng: random.Random, entity_type: str) -> int:
    # Skewed: a few records (a VIP contact, the current release) collect long histories.
    return int(ENTITY_POOL[entity_type] * rng.random() ** 2)


def _entity(rng: random.Random, entity_type: str) -> dict:
    index = _entity_index(rng, entity_type)
    entity_id = f"{ENTITY_PREFIX[entity_type]}_{index:05d}"
    if entity_type == "contact":
        label = f"{FIRST[index % 30]} {LAST[(index // 30) % 30]}"
    elif entity_type == "release":
        label = RELEASES[index % len(RELEASES)]
    elif entity_type == "product":
        label = f"{2018 + index % 7} {WINES[index % len(WINES)]}"
    elif entity_type == "integration":
        label = INTEGRATIONS[index % len(INTEGRATIONS)]
    elif entity_type == "setting":
        label = SETTINGS[index % len(SETTINGS)]
    elif entity_type == "job":
        label = f"{JOBS[index % len(JOBS)]} run {index}"
    elif entity_type == "payment":
        label = f"${10 + index % 490}.{index % 100:02d} · order #{40000 + index}"
    else:
        label = f"Shipment #{48000 + index}"
    return {"type": entity_type, "id": entity_id, "label": label}


def _record(rng: random.Random, entity: dict) -> dict:
    """A plausible document of the record, for before/after on updates."""
    kind, index = entity["type"], int(entity["id"].split("_")[1])
    if kind == "contact":
        first, last = entity["label"].split(" ", 1)
        return {
            "first_name": first, "last_name": last,
            "email": f"{first.lower()}.{last.lower()}{index}@example.com",
            "phone": f"+1-707-555-{index % 10000:04d}",
            "address": {"line1": f"{100 + index % 900} Vineyard Ave", "city": "Healdsburg", "region": "CA",
                        "postal_code": f"95{index % 1000:03d}", "country": "US"},
            "club": {"tier": ["Silver", "Gold", "Platinum"][index % 3], "shipments_per_year": 4, "member_since": "2022-03-14"},
            "marketing": {"email_opt_in": index % 4 != 0, "sms_opt_in": index % 5 == 0},
            "tags": ["club", "local"] if index % 2 else ["club"],
        }
    if kind == "product":
        return {"sku": f"WN-{index:05d}", "name": entity["label"], "price_cents": 2500 + (index % 60) * 100,
                "inventory": {"on_hand": 40 + index % 400, "reserved": index % 30, "warehouse": "HBG-1"},
                "status": "active", "allocation_limit": 6}
    if kind == "release":
        return {"name": entity["label"], "status": "scheduled", "ship_date": "2026-12-04", "members": 1800 + index,
                "pricing": {"discount_pct": 15, "shipping_cents": 0}, "selection": ["WN-00012", "WN-00044", "WN-00107"]}
    if kind == "fulfillment":
        return {"status": "pending", "carrier": "UPS", "service": "Ground", "tracking_number": None,
                "ship_to": {"city": "Portland", "region": "OR", "postal_code": "97205"}, "bottles": 6}
    if kind == "payment":
        return {"status": "authorized", "amount_cents": 1000 + index % 49000, "refunded_cents": 0, "method": "card"}
    if kind == "setting":
        return {"shipping": {"flat_rate_cents": 1500, "free_over_cents": 15000}, "tax": {"provider": "Avalara"},
                "notify": ["ops@example.com"]}
    return {"enabled": True, "sync_interval_minutes": 15, "scopes": ["read_orders", "write_inventory"]}


def _mutate(rng: random.Random, document: dict) -> dict:
    """A copy with one to three leaf fields changed (nested fields too)."""
    after = json.loads(json.dumps(document))
    leaves = []
    for key, value in after.items():
        if isinstance(value, dict):
            leaves += [(value, inner) for inner in value]
        else:
            leaves.append((after, key))
    for parent, key in rng.sample(leaves, min(len(leaves), rng.choice((1, 1, 2, 2, 3)))):
        value = parent[key]
        if isinstance(value, bool):
            parent[key] = not value
        elif isinstance(value, int):
            parent[key] = value + rng.choice((-1, 1)) * rng.randint(1, 50)
        elif isinstance(value, list):
            parent[key] = value + [rng.choice(["vip", "wholesale", "allocation", "gift", "hold"])]
        else:
            parent[key] = f"{value or ''}{rng.choice(['', ' Jr.', ' (updated)', '-2'])}".strip() or _hex(rng, 12)
    return after


def _request_metadata(rng: random.Random, method: str, path: str) -> dict:
    return {
        "request": {"id": f"req_{_hex(rng, 24)}", "method": method, "path": path,
                    "ip": f"203.0.113.{rng.randint(1, 254)}", "user_agent": rng.choice(USER_AGENTS)},
        "client": {"app": "dashboard", "version": f"4.{rng.randint(10, 14)}.{rng.randint(0, 9)}"},
        "session_id": f"sess_{_hex(rng, 20)}",
    }


def _stack(rng: random.Random, error_type: str, message: str) -> str:
    frames = [("handlers/jobs.py", "run", 88), ("activitylog/jobs/payments.py", "process_batch", 142),
              ("activitylog/jobs/payments.py", "charge_member", 201), ("stripe/_api_requestor.py", "request", 197),
              ("stripe/_api_requestor.py", "_interpret_response", 880)]
    lines = ["Traceback (most recent call last):"]
    for path, function, line in frames[: rng.randint(3, 5)]:
        lines.append(f'  File "/var/task/{path}", line {line + rng.randint(0, 9)}, in {function}')
        lines.append(f"    result = {function}(batch, attempt={rng.randint(1, 3)})")
    lines.append(f"{error_type}: {message}")
    return "\n".join(lines)


def _error(rng: random.Random, status: str) -> Optional[dict]:
    if status != "FAILED":
        return None
    error_type, message = rng.choice([
        ("CardError", f"Your card was declined (decline_code=insufficient_funds) for member c_{rng.randint(0, 24999):05d}"),
        ("TimeoutError", "Upstream carrier API did not answer within 10 s"),
        ("ValidationError", "address.postal_code: does not match the region"),
        ("RateLimitError", "429 Too Many Requests from the provider; retry after 30 s"),
    ])
    return {"message": message, "type": error_type, "stack": _stack(rng, error_type, message)}


def document(rng: random.Random, occurred: datetime) -> tuple[dict, str]:
    """One entry as its writer sends it (a ``NewEntry`` body) and the writer's subject."""
    entry_type = _pick(rng, TYPE_WEIGHTS)
    status = _pick(rng, STATUS_WEIGHTS[entry_type])
    entity_type = _pick(rng, ENTITY_WEIGHTS[entry_type])
    entity = _entity(rng, entity_type) if entity_type else None
    doc: dict[str, Any] = {"type": entry_type, "status": status, "occurred_at": occurred.isoformat()}
    if entity:
        doc["entity"] = entity
    user_id, user_name = rng.choices(USERS, weights=USER_WEIGHTS)[0]
    if entry_type == "USER_ACTION":
        action = _pick(rng, USER_ACTIONS)
        doc |= {"actor": {"kind": "user", "id": user_id, "name": user_name}, "action": action,
                "event": f"{TITLE[entity_type]} {action.replace('_', ' ')} · {entity['label']}"}
        method = {"created": "POST", "deleted": "DELETE"}.get(action, "PATCH")
        doc["metadata"] = _request_metadata(rng, method, f"/api/{entity_type}s/{entity['id']}")
        if action in ("updated", "status_changed", "adjusted", "tags_added", "tags_removed", "promoted"):
            before = _record(rng, entity)
            doc |= {"before": before, "after": _mutate(rng, before)}
        error = _error(rng, status)
        if error:
            doc["error"] = error
        if status == "WARNING":
            doc["metadata"]["warnings"] = ["Saved, but the change did not reach Mailchimp (rate limited); it will retry"]
        return doc, "svc_dashboard"
    if entry_type == "BACKGROUND_JOB":
        job = rng.choice(JOBS)
        label = entity["label"] if entity else job
        by_user = rng.random() < 0.4
        actor = {"kind": "user", "id": user_id, "name": user_name} if by_user else {"kind": "system", "id": "system", "name": "system"}
        total = rng.randint(20, 4000)
        failed = 0 if status == "SUCCESS" else rng.randint(1, max(1, total // 20))
        processed = rng.randint(0, total) if status == "IN_PROGRESS" else total - failed
        doc |= {"actor": actor, "action": "processed" if job != "SYNC_INVENTORY" else "synced",
                "event": f"{job} · {label}", "correlation_id": f"run_{_hex(rng, 16)}",
                "metadata": {"job": {"name": job, "run_id": f"run_{_hex(rng, 16)}", "trigger": "user" if by_user else "schedule",
                                     "attempt": rng.randint(1, 3), "worker": f"jobs-{rng.randint(1, 8)}"},
                             "records": {"total": total, "processed": processed, "failed": failed, "skipped": rng.randint(0, 5)},
                             "totals": {"gross_cents": total * 8900, "fees_cents": total * 261, "currency": "USD"},
                             "batches": math.ceil(total / 100), "duration_ms": rng.randint(800, 600000)}}
        error = _error(rng, status)
        if error:
            doc["error"] = error
        if status == "WARNING":
            doc["metadata"]["warnings"] = [f"c_{rng.randint(0, 24999):05d}: card expires before ship date" for _ in range(3)]
        return doc, "svc_jobs"
    if entry_type == "WEBHOOK":
        provider = _pick(rng, {key: weight for key, (_, weight) in PROVIDERS.items()})
        name = rng.choice(WEBHOOK_EVENTS[provider])
        event_id = f"evt_{_hex(rng, 24)}"
        doc |= {"actor": {"kind": "external", "id": provider, "name": PROVIDERS[provider][0]},
                "action": "processed", "event": name, "source": {"provider": provider, "event_id": event_id},
                "metadata": {
                    "request": {"headers": {"user-agent": f"{PROVIDERS[provider][0]}/1.0 (+https://example.com/webhooks)",
                                            "content-type": "application/json",
                                            "signature": f"t={int(occurred.timestamp())},v1={_hex(rng, 64)}"}},
                    "body": {"id": event_id, "type": name, "created": int(occurred.timestamp()), "livemode": True,
                             "data": {"object": {"id": f"pi_{_hex(rng, 24)}", "amount": rng.randint(1000, 50000),
                                                 "currency": "usd", "customer": f"cus_{_hex(rng, 14)}",
                                                 "status": "succeeded" if status == "SUCCESS" else "requires_payment_method",
                                                 "metadata": {"order_id": str(rng.randint(40000, 90000)),
                                                              "release": rng.choice(RELEASES)}}}},
                    "response": {"status": 200 if status == "SUCCESS" else 422, "duration_ms": rng.randint(20, 900)}}}
        error = _error(rng, status)
        if error:
            doc["error"] = error
        return doc, "svc_ingest"
    # SYSTEM_EVENT
    label = entity["label"] if entity else "Nightly maintenance"
    action = rng.choice(["synced", "synced", "connected", "disconnected", "updated"])
    doc |= {"actor": {"kind": "system", "id": "system", "name": "system"}, "action": action,
            "event": f"{TITLE.get(entity_type, 'System')} {action} · {label}",
            "metadata": {"trigger": "schedule", "host": f"ip-10-0-{rng.randint(0, 255)}-{rng.randint(0, 255)}",
                         "counts": {"checked": rng.randint(10, 5000), "changed": rng.randint(0, 40)},
                         "duration_ms": rng.randint(50, 30000), "region": "us-west-2"}}
    error = _error(rng, status)
    if error:
        doc["error"] = error
    return doc, "svc_system"




def busy_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in (start, end): a uniform day, a busy hour (HOUR_WEIGHTS), weekends quieter."""
    days = max(1, math.ceil((end - start) / timedelta(days=1)))
    while True:
        midnight = (end - timedelta(days=rng.randrange(days))).replace(hour=0, minute=0, second=0, microsecond=0)
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        moment = midnight + timedelta(hours=hour, milliseconds=rng.randrange(3_600_000))
        if (moment.weekday() < 5 or rng.random() < 0.55) and start < moment < end:
            return moment
