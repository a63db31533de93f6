"""The Activity Logs API through the local stack, over real HTTP, as a dashboard would use it.

Given ``activitylog serve`` on template.yaml (JWT authorizer, routes and function from the
template, DynamoDB Local, moto), when a client records and lists entries with tokens
minted from the local dev key, then it sees what the product page promises.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from activitylog.scopes import ROUTE_SCOPES
from samlocal.auth import DevKey
from tests.support.entries import NOW, entry, iso

pytestmark = pytest.mark.e2e

def list_all(stack, token: str, **params) -> list[dict]:
    """Every page of a listing, following next_cursor."""
    items, cursor = [], None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        status, page = stack.request("GET", "/activities?" + urlencode(query), token)
        assert status == 200, page
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


# --- the demo organization ------------------------------------------------------------------------


def test_demo_org_shows_the_product_pages_example_rows(api_stack):
    token = api_stack.token("org_demo", "u_17", scopes=["read"])
    rows = list_all(api_stack, token)  # the default window: the last 24 hours
    chosen = {}
    expected = {
        "PROCESS_RELEASE_PAYMENTS · Spring 2026 Reds": ("BACKGROUND_JOB", "SUCCESS", "system", 2),
        "Contact updated · Alex Chen": ("USER_ACTION", "SUCCESS", "Riley Park", 15),
        "payment_intent.succeeded": ("WEBHOOK", "SUCCESS", "Stripe", 60),
        "payment_intent.payment_failed": ("WEBHOOK", "WARNING", "Stripe", 60),
        "SYNC_SQUARE_STOCK": ("BACKGROUND_JOB", "FAILED", "system", 180),
    }
    for event, (type_, status, actor, minutes_ago) in expected.items():
        matching = [row for row in rows if row["event"] == event and row["status"] == status]
        assert matching, f"no {event} {status} in the demo org"
        row = min(matching, key=lambda r: abs((NOW - datetime.fromisoformat(r["occurred_at"].replace("Z", "+00:00"))).total_seconds() / 60 - minutes_ago))
        age = (datetime.now(timezone.utc) - datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00"))).total_seconds() / 60
        assert (row["type"], row["actor"]["name"]) == (type_, actor)
        assert minutes_ago - 1 <= age <= minutes_ago + 10, (event, age)
        chosen[event] = row
    failed = chosen["SYNC_SQUARE_STOCK"]
    status, detail = api_stack.request("GET", f"/activities/{failed['id']}", token)
    assert status == 200
    assert "expired" in detail["error"]["message"] and "Traceback" in detail["error"]["stack"]
    status, detail = api_stack.request("GET", f"/activities/{chosen['Contact updated · Alex Chen']['id']}", token)
    assert detail["changes"]["/club_tier"] == {"before": "Reserve", "after": "Grand Cru"}


def test_demo_org_answers_the_issues_curl(api_stack):
    token = api_stack.token("org_demo", "u_17", scopes=["read"])
    status, page = api_stack.request("GET", "/activities?type=BACKGROUND_JOB&status=FAILED,WARNING", token)
    assert status == 200 and page["items"]
    assert all(i["type"] == "BACKGROUND_JOB" and i["status"] in ("FAILED", "WARNING") for i in page["items"])
    assert "SYNC_SQUARE_STOCK" in {i["event"] for i in page["items"]}


def test_demo_org_spans_30_days_every_category_and_job_lifecycle(api_stack):
    token = api_stack.token("org_demo", "u_17", scopes=["read"])
    rows = list_all(api_stack, token, **{"from": iso(NOW - timedelta(days=31)), "limit": 200})
    assert len(rows) >= 300
    oldest = min(datetime.fromisoformat(r["occurred_at"].replace("Z", "+00:00")) for r in rows)
    assert oldest < NOW - timedelta(days=25)
    assert {r["type"] for r in rows} == {"USER_ACTION", "BACKGROUND_JOB", "WEBHOOK", "SYSTEM_EVENT"}
    assert {r["entity"]["type"] for r in rows if r["entity"]} >= {"contact", "release", "product", "fulfillment", "payment", "setting"}
    assert len({r["actor"]["id"] for r in rows if r["actor"]["kind"] == "user"}) >= 4
    # A recent job went IN_PROGRESS -> progress -> completion through PATCH: its metadata shows it.
    jobs = [r for r in rows if r["type"] == "BACKGROUND_JOB" and r["event"].startswith("PROCESS_RELEASE_PAYMENTS · Spring")]
    status, job = api_stack.request("GET", f"/activities/{jobs[0]['id']}", token)
    assert job["status"] == "SUCCESS" and job["metadata"]["processed"] == job["metadata"]["total"]


def test_cli_token_and_query_work_against_the_stack(api_stack):
    made = api_stack.cli("token", "--org", "org_demo", "--user", "u_99", "--scope", "read")
    assert made.returncode == 0, made.stderr
    status, page = api_stack.request("GET", "/activities?type=BACKGROUND_JOB", made.stdout.strip())
    assert status == 200 and page["items"]
    shown = api_stack.cli("query", "--type", "BACKGROUND_JOB", "--status", "FAILED,WARNING")
    assert shown.returncode == 0, shown.stderr
    assert "SYNC_SQUARE_STOCK" in shown.stdout and "FAILED" in shown.stdout and "3 hrs ago" in shown.stdout
    failed_id = next(line.split()[-1] for line in shown.stdout.splitlines() if "SYNC_SQUARE_STOCK" in line and "3 hrs ago" in line)
    detail = api_stack.cli("query", "--id", failed_id)
    assert detail.returncode == 0, detail.stderr
    assert "ApiException: Square API returned 401" in detail.stdout and "Traceback" in detail.stdout and failed_id in detail.stdout


# --- record, then list by each filter axis ---------------------------------------------------------


@pytest.fixture(scope="module")
def filter_org(api_stack):
    """An org with one entry per combination worth telling apart, recorded through POST /activities."""
    token = api_stack.token("org_e2e_filters", "svc_writer", scopes=["write", "read"])
    documents = [
        entry("USER_ACTION", "SUCCESS", ("u_1", "Ann Lee"), ("contact", "c_1", "Alex Chen"), NOW - timedelta(minutes=50)),
        entry("USER_ACTION", "FAILED", ("u_2", "Bo Diaz"), ("product", "p_1", "Pinot"), NOW - timedelta(minutes=45)),
        entry("BACKGROUND_JOB", "FAILED", None, ("integration", "int_square", "Square"), NOW - timedelta(minutes=40)),
        entry("BACKGROUND_JOB", "WARNING", None, ("release", "r_1", "Spring"), NOW - timedelta(minutes=35)),
        entry("WEBHOOK", "SUCCESS", None, ("payment", "pay_1", "Order #1"), NOW - timedelta(minutes=30)),
        entry("SYSTEM_EVENT", "SUCCESS", None, None, NOW - timedelta(minutes=25)),
        entry("USER_ACTION", "WARNING", ("u_1", "Ann Lee"), ("product", "p_2", "Syrah"), NOW - timedelta(hours=30)),
        entry("USER_ACTION", "SUCCESS", ("u_1", "Ann Lee"), ("contact", "c_2", "Dana Kim"), NOW - timedelta(minutes=20)),
    ]
    recorded = []
    for document in documents:
        status, body = api_stack.request("POST", "/activities", token, document)
        assert status == 201, body
        assert body["type"] == document["type"] and body["occurred_at"] == document["occurred_at"]
        recorded.append((document, body["id"]))
    return token, recorded


@pytest.mark.parametrize("params, expected", [
    ({"type": "BACKGROUND_JOB"}, lambda d: d["type"] == "BACKGROUND_JOB"),
    ({"type": "WEBHOOK,SYSTEM_EVENT"}, lambda d: d["type"] in ("WEBHOOK", "SYSTEM_EVENT")),
    ({"status": "FAILED,WARNING"}, lambda d: d["status"] in ("FAILED", "WARNING")),
    ({"type": "BACKGROUND_JOB", "status": "FAILED"}, lambda d: (d["type"], d["status"]) == ("BACKGROUND_JOB", "FAILED")),
    ({"user": "u_1"}, lambda d: d["actor"]["id"] == "u_1"),
    ({"entity_type": "product"}, lambda d: (d.get("entity") or {}).get("type") == "product"),
    ({"entity_type": "contact", "entity_id": "c_1"}, lambda d: (d.get("entity") or {}).get("id") == "c_1"),
    ({"user": "u_1", "status": "SUCCESS"}, lambda d: d["actor"]["id"] == "u_1" and d["status"] == "SUCCESS"),
], ids=["type", "types", "statuses", "type+status", "user", "entity", "entity record", "user+status"])
def test_list_by_each_filter_axis_in_the_default_24_hours(api_stack, filter_org, params, expected):
    token, recorded = filter_org
    window = NOW - timedelta(hours=24)
    want = [entry_id for document, entry_id in sorted(recorded, key=lambda r: r[1], reverse=True)
            if expected(document) and datetime.fromisoformat(document["occurred_at"].replace("Z", "+00:00")) > window]
    assert want, "the case must select something"
    got = [item["id"] for item in list_all(api_stack, token, **params)]
    assert got == want


def test_date_range_reaches_back_past_the_default_window(api_stack, filter_org):
    token, recorded = filter_org
    older = [entry_id for document, entry_id in recorded if document["status"] == "WARNING" and document["type"] == "USER_ACTION"]
    got = list_all(api_stack, token, **{"from": iso(NOW - timedelta(days=2)), "to": iso(NOW - timedelta(hours=24))})
    assert [item["id"] for item in got] == older


def test_detail_shows_the_diff_the_service_computed(api_stack):
    token = api_stack.token("org_e2e_detail", "svc_writer", scopes=["write", "read"])
    document = entry(before={"name": "Alex Chen", "tier": "Reserve", "address": {"city": "Napa"}},
                     after={"name": "Alex Chen", "tier": "Grand Cru", "address": {"city": "Sonoma"}},
                     metadata={"request_id": "req-1"})
    status, recorded = api_stack.request("POST", "/activities", token, document)
    assert status == 201
    status, detail = api_stack.request("GET", f"/activities/{recorded['id']}", token)
    assert status == 200
    assert detail["changes"] == {"/tier": {"before": "Reserve", "after": "Grand Cru"},
                                 "/address/city": {"before": "Napa", "after": "Sonoma"}}
    assert detail["metadata"] == {"request_id": "req-1"}
    assert detail["actor"] == document["actor"] and detail["entity"] == document["entity"]


def test_a_retried_write_with_the_same_idempotency_key_is_recorded_once(api_stack):
    # Idempotency records live in the template's IdempotencyTable, made in DynamoDB Local by the stack.
    token = api_stack.token("org_e2e_retry", "svc_writer", scopes=["write", "read"])
    document = entry(event="Contact created · Once Only")
    first = api_stack.request("POST", "/activities", token, document, headers={"Idempotency-Key": "retry-1"})
    again = api_stack.request("POST", "/activities", token, document, headers={"Idempotency-Key": "retry-1"})
    assert first[0] == again[0] == 201 and first[1]["id"] == again[1]["id"]
    other = api_stack.request("POST", "/activities", token, {**document, "event": "Something else"}, headers={"Idempotency-Key": "retry-1"})
    assert other[0] == 409
    assert [i["event"] for i in list_all(api_stack, token, **{"from": iso(NOW - timedelta(days=1))})] == ["Contact created · Once Only"]


# --- paging a 30-day window --------------------------------------------------------------------------


def test_paging_a_30_day_window_has_no_duplicate_and_no_gap(api_stack):
    token = api_stack.token("org_e2e_paging", "svc_writer", scopes=["write", "read"])
    rng = random.Random(7)
    documents = []
    for _ in range(260):
        when = NOW - timedelta(seconds=rng.uniform(60, 30 * 86400))
        documents.append(entry(rng.choice(["USER_ACTION", "BACKGROUND_JOB", "WEBHOOK"]), rng.choice(["SUCCESS", "FAILED", "WARNING"]),
                               ("u_%d" % rng.randint(1, 3), "Someone"), ("contact", f"c_{rng.randint(1, 50)}", "X"), when))
    # Several at the same millisecond: the id, not the time, orders them.
    same = NOW - timedelta(days=3)
    documents += [entry(when=same) for _ in range(5)]
    ids = []
    for start in range(0, len(documents), 100):
        status, answer = api_stack.request("POST", "/activities/batch", token, {"entries": documents[start:start + 100]})
        assert status == 200 and answer["rejected"] == 0, answer
        ids += [result["id"] for result in answer["results"]]
    window = {"from": iso(NOW - timedelta(days=30, minutes=5)), "to": iso(datetime.now(timezone.utc))}
    for params, keep in (({}, lambda d: True),
                         ({"status": "FAILED,WARNING"}, lambda d: d["status"] in ("FAILED", "WARNING")),
                         ({"user": "u_2"}, lambda d: d["actor"]["id"] == "u_2")):
        want = sorted((i for i, d in zip(ids, documents, strict=True) if keep(d)), reverse=True)
        pages, cursor, got = 0, None, []
        while True:
            query = {**window, **params, "limit": 17, **({"cursor": cursor} if cursor else {})}
            status, page = api_stack.request("GET", "/activities?" + urlencode(query), token)
            assert status == 200, page
            assert len(page["items"]) <= 17
            got += [item["id"] for item in page["items"]]
            pages += 1
            cursor = page.get("next_cursor")
            if not cursor:
                break
        assert len(got) == len(set(got)), f"duplicates with {params}"
        assert got == want, f"gap or wrong order with {params}"
        assert pages >= len(want) // 17


# --- organizations are walled off ----------------------------------------------------------------------


def test_two_orgs_never_see_each_others_entries(api_stack):
    alpha = api_stack.token("org_e2e_alpha", "u_1", scopes=["read", "write"])
    beta = api_stack.token("org_e2e_beta", "u_1", scopes=["read", "write"])  # same user id, other org
    status, mine = api_stack.request("POST", "/activities", alpha, entry(user=("u_1", "Ann")))
    assert status == 201
    status, theirs = api_stack.request("POST", "/activities", beta, entry(user=("u_1", "Ann")))
    assert status == 201
    window = {"from": iso(NOW - timedelta(days=1)), "user": "u_1"}
    assert [i["id"] for i in list_all(api_stack, alpha, **window)] == [mine["id"]]
    assert [i["id"] for i in list_all(api_stack, beta, **window)] == [theirs["id"]]
    assert api_stack.request("GET", f"/activities/{mine['id']}", beta)[0] == 404
    assert api_stack.request("PATCH", f"/activities/{mine['id']}", beta, {"event": "hijacked"})[0] == 404
    assert api_stack.request("GET", f"/activities/{mine['id']}", alpha)[1]["event"] == mine["event"]
    # A cursor from one org is refused in another.
    for _ in range(3):
        api_stack.request("POST", "/activities", alpha, entry())
    status, page = api_stack.request("GET", "/activities?limit=1", alpha)
    assert page["next_cursor"]
    status, answer = api_stack.request("GET", "/activities?" + urlencode({"limit": 1, "cursor": page["next_cursor"]}), beta)
    assert status == 400 and answer["field"] == "cursor"


# --- bad input -------------------------------------------------------------------------------------------


BAD_LISTS = [
    ("type=NOPE", "type"), ("status=DONE", "status"), ("status=FAILED,NOPE", "status"), ("limit=0", "limit"),
    ("limit=abc", "limit"), ("limit=100000", "limit"), ("from=yesterday", "from"),
    ("from=2026-11-20T00:00:00Z&to=2026-11-10T00:00:00Z", "from"), ("colour=red", "colour"),
    ("entity_id=c_1", "entity_id"), ("entity_type=spaceship", "entity_type"), ("cursor=not-a-cursor", "cursor"),
    ("user=has%20space", "user"),
]


@pytest.mark.parametrize("query, field", BAD_LISTS, ids=[q for q, _ in BAD_LISTS])
def test_bad_list_parameters_are_400_naming_the_field(api_stack, query, field):
    status, answer = api_stack.request("GET", f"/activities?{query}", api_stack.token("org_e2e_bad", scopes=["read"]))
    assert status == 400, answer
    assert answer["field"] == field, answer


BAD_WRITES = [
    ("missing type", lambda e: e.pop("type"), "type"),
    ("unknown type", lambda e: e.update(type="COFFEE_BREAK"), "type"),
    ("unknown status", lambda e: e.update(status="MAYBE"), "status"),
    ("actor kind", lambda e: e.update(actor={"kind": "robot", "id": "r", "name": "R"}), "actor.kind"),
    ("entity type", lambda e: e.update(entity={"type": "spaceship", "id": "s1"}), "entity.type"),
    ("future", lambda e: e.update(occurred_at=iso(datetime.now(timezone.utc) + timedelta(days=1))), "occurred_at"),
    ("not a time", lambda e: e.update(occurred_at="last tuesday"), "occurred_at"),
    ("unknown field", lambda e: e.update(org_id="org_other"), "org_id"),
    ("action verb", lambda e: e.update(action="Did Things!"), "action"),
]


@pytest.mark.parametrize("case, change, field", BAD_WRITES, ids=[c for c, _, _ in BAD_WRITES])
def test_bad_entries_are_400_naming_the_field(api_stack, case, change, field):
    document = entry()
    change(document)
    status, answer = api_stack.request("POST", "/activities", api_stack.token("org_e2e_bad", scopes=["write"]), document)
    assert status == 400, answer
    assert answer["field"] == field, answer


def test_other_bad_requests_are_4xx(api_stack):
    writer = api_stack.token("org_e2e_bad", scopes=["write", "read"])
    assert api_stack.request("POST", "/activities", writer, raw=b"{not json")[0] == 400
    assert api_stack.request("POST", "/activities/batch", writer, {"entries": []})[0] == 400
    assert api_stack.request("POST", "/activities/batch", writer, {"entries": [entry()] * 101})[0] == 400
    assert api_stack.request("GET", "/activities/not-an-id", writer)[0] == 400
    assert api_stack.request("GET", "/activities/01ARZ3NDEKTSV4RRFFQ69G5FAV", writer)[0] == 404
    assert api_stack.request("PATCH", "/activities/01ARZ3NDEKTSV4RRFFQ69G5FAV", writer, {"status": "SUCCESS"})[0] == 404
    status, job = api_stack.request("POST", "/activities", writer, entry("BACKGROUND_JOB", "IN_PROGRESS", None))
    assert api_stack.request("PATCH", f"/activities/{job['id']}", writer, {})[0] == 400
    assert api_stack.request("PATCH", f"/activities/{job['id']}", writer, {"status": "SUCCESS"})[0] == 200
    assert api_stack.request("PATCH", f"/activities/{job['id']}", writer, {"status": "FAILED"})[0] == 409
    # a batch with one bad entry: the good one is written, the bad one named
    status, answer = api_stack.request("POST", "/activities/batch", writer, {"entries": [entry(), {**entry(), "status": "NOPE"}]})
    assert status == 207 and answer["results"][1]["field"] == "entries.1.status"
    assert api_stack.request("GET", "/nowhere", writer)[0] == 404
    assert api_stack.request("DELETE", f"/activities/{job['id']}", writer)[0] == 404


def test_authorizer_refuses_stale_foreign_and_unscoped_tokens(api_stack, tmp_path):
    path = "/activities"
    stale = api_stack.key.mint(org="org_demo", user="u_17", issuer=api_stack.issuer, audience=api_stack.audience,
                               now=time.time() - 3 * 3600, ttl_seconds=3600)
    foreign = DevKey.load_or_create(tmp_path).mint(org="org_demo", user="u_17", issuer=api_stack.issuer, audience=api_stack.audience)
    other_audience = api_stack.key.mint(org="org_demo", user="u_17", issuer=api_stack.issuer, audience="another-api")
    for token in (None, "garbage", stale, foreign, other_audience):
        status, answer = api_stack.request("GET", path, token)
        assert (status, answer) == (401, {"message": "Unauthorized"})
    reader = api_stack.token("org_demo", scopes=["read"])
    writer = api_stack.token("org_demo", scopes=["write"])
    assert api_stack.request("POST", path, reader, entry())[0] == 403
    assert api_stack.request("GET", path, writer)[0] == 403
    assert api_stack.request("GET", f"{path}?reason=ticket%204312", api_stack.token("org_demo", scopes=["support"]))[0] == 200



def test_reading_one_entry_answers_each_scope_as_the_scope_table_says(api_stack):
    # The gateway refuses by template.yaml's scopes, the function by ROUTE_SCOPES; both must let the same tokens in.
    writer = api_stack.token("org_e2e_scopes", scopes=["write"])
    status, recorded = api_stack.request("POST", "/activities", writer, entry())
    assert status == 201, recorded
    for scope in ("read", "write", "support"):
        # support's reads say why (tests/integration/test_access_reads.py); the others are not asked
        status, answer = api_stack.request("GET", f"/activities/{recorded['id']}?reason=ticket%204312",
                                           api_stack.token("org_e2e_scopes", scopes=[scope]))
        if f"activity:{scope}" in ROUTE_SCOPES["GET /activities/{id}"]:
            assert (status, answer["id"]) == (200, recorded["id"]), (scope, answer)
        else:
            assert status == 403, (scope, answer)
    status, document = api_stack.request("GET", "/openapi.json")  # Authorizer NONE in the template
    assert status == 200 and "/activities" in document["paths"]


# --- the CLI against the running stack ---------------------------------------------------------------------


def test_cli_seed_records_demo_entries_through_the_api_with_progress(api_stack):
    seeded = api_stack.cli("seed", "--org", "org_e2e_seed", "--count", "150", "--days", "5")
    assert seeded.returncode == 0, seeded.stderr
    assert "org_e2e_seed: 150 entries recorded" in seeded.stdout
    assert "seed: " in seeded.stderr and "(100%)" in seeded.stderr  # the progress bar (plain lines when not a terminal)
    token = api_stack.token("org_e2e_seed", scopes=["read"])
    rows = list_all(api_stack, token, **{"from": iso(NOW - timedelta(days=6)), "limit": 200})
    assert len(rows) == 150
    assert api_stack.request("GET", "/activities?limit=1", api_stack.token("org_e2e_other", scopes=["read"]))[1]["items"] == []


def test_cli_tail_follows_new_entries(api_stack):
    import subprocess
    import sys

    from tests.support.stack import ROOT, wait_for

    output = api_stack.data_dir / "tail.out"
    with open(output, "w") as sink:
        tail = subprocess.Popen([sys.executable, "-m", "activitylog_local.cli", "--data-dir", str(api_stack.data_dir), "tail",
                                 "--org", "org_e2e_tail", "--interval", "0.3"], stdout=sink, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        time.sleep(1.5)
        writer = api_stack.token("org_e2e_tail", scopes=["write"])
        status, _ = api_stack.request("POST", "/activities", writer, entry(when=datetime.now(timezone.utc), event="Contact created · Tail Me"))
        assert status == 201
        wait_for(lambda: "Tail Me" in output.read_text(), timeout=15)
    finally:
        tail.terminate()
        tail.wait(timeout=10)
    lines = output.read_text().splitlines()
    assert lines[0].split()[:2] == ["TIME", "TYPE"]
    assert [line for line in lines if "Tail Me" in line][0].startswith("just now")
