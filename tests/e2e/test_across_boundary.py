"""The demo org across the tiers' boundary, through the served stack (``activitylog serve``, as ``make dev`` runs it).

The api_stack keeps HotTableDays=90 days in the table; the demo's older history was archived as the
ArchiveFunction writes it, signed by the DigestFunction and compacted into the warm tier at start. A window from
300 to 60 days ago crosses the boundary (the day after the manifest's ``through``, about 91 days ago):
``GET /activities``, ``activitylog query --all --json`` and exports (inline and in the background) answer
the same entries, newest first, from both tiers, with their details.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from activitylog.exports.csvfile import COLUMNS
from activitylog.warm.compact import compactable_through
from tests.support.kit import HttpClient
from tests.support.page import reader
from tests.support.stack import EXPORT_INLINE_ROWS, HOT_TABLE_DAYS, wait_for

pytestmark = pytest.mark.e2e

ORG = "org_demo"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def boundary_day() -> date:
    """The first day the table answers for (the manifest's ``through`` + 1, as the stack compacted at start)."""
    return compactable_through(datetime.now(timezone.utc), HOT_TABLE_DAYS) + timedelta(days=1)


def across(older: int = 300, newer: int = 60) -> dict:
    now = datetime.now(timezone.utc)
    return {"from": iso(now - timedelta(days=older)), "to": iso(now - timedelta(days=newer))}


def list_all(api_stack, params: dict, limit: int = 50) -> list[dict]:
    items, cursor = [], None
    while True:
        query = "&".join(f"{k}={v}" for k, v in {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}.items())
        status, page = api_stack.request("GET", "/activities?" + query.replace("+", "%2B"), reader(api_stack, ORG))
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def sides(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """(warm, hot): the items that occurred before the boundary day, and on or after it."""
    first = boundary_day().isoformat()
    return [i for i in items if i["occurred_at"][:10] < first], [i for i in items if i["occurred_at"][:10] >= first]


def test_the_demo_org_holds_two_years_the_older_part_compacted_into_the_warm_tier_and_verified(api_stack):
    everything = list_all(api_stack, {"from": iso(datetime.now(timezone.utc) - timedelta(days=729))}, limit=200)
    warm, hot = sides(everything)
    oldest = datetime.fromisoformat(everything[-1]["occurred_at"].replace("Z", "+00:00"))
    assert datetime.now(timezone.utc) - oldest > timedelta(days=700), oldest
    assert len(warm) > 300 and len(hot) > 300, (len(warm), len(hot))
    assert [i["id"] for i in everything] == sorted((i["id"] for i in everything), reverse=True)
    assert {i["type"] for i in warm} == {"USER_ACTION", "BACKGROUND_JOB", "WEBHOOK", "SYSTEM_EVENT"}

    # The members directory vouches for the history too: what a member recorded only before the table's days
    # is found by a filter pair, never answered "none" from the directory; what they never recorded is.
    def kinds(items: list[dict]) -> set[tuple[str, str, str]]:
        return {(i["actor"]["id"], key, value) for i in items if i["actor"]["kind"] == "user"
                for key, value in (("type", i["type"]), ("entity_type", (i["entity"] or {}).get("type")))}
    warm_only = sorted(kinds(warm) - kinds(hot))
    assert warm_only, "the demo's history holds no pair the table does not: the check would prove nothing"
    two_years = iso(datetime.now(timezone.utc) - timedelta(days=729))
    for user, key, value in warm_only[:4]:
        status, page = api_stack.request("GET", f"/activities?user={user}&{key}={value}&from={two_years}&limit=1",
                                         reader(api_stack, ORG))
        assert status == 200 and (page["items"] or page["next_cursor"]), (user, key, value, page)
    status, page = api_stack.request("GET", f"/activities?user=u_64&type=WEBHOOK&from={two_years}", reader(api_stack, ORG))
    assert (status, page) == (200, {"items": [], "next_cursor": None})

    # Support finds a warm entry in the archive, expired from the table long ago, with its detail.
    support = api_stack.token(ORG, "u_support", scopes=("support",))
    entry = next(i for i in reversed(warm) if i["type"] == "USER_ACTION")  # the oldest: its expiry is long past
    status, found = api_stack.request("GET", f"/support/activities/{entry['id']}?reason=ticket%204312", support)
    assert status == 200 and found["found_in"] == "archive" and found["expired_at"], found
    status, detail = api_stack.request("GET", f"/activities/{entry['id']}", reader(api_stack, ORG))
    assert status == 200 and detail["event"] == entry["event"] == found["event"], detail

    # The DigestFunction signed the history as it was archived: verify passes over it.
    verified = api_stack.cli("verify", "--org", ORG, "--from", "729d", "--to", f"{HOT_TABLE_DAYS + 5}d")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK: every archived version is the one its digest signed" in verified.stdout

    # The history holds what the API would have stored: a team member's name sealed under their own key
    # (activitylog.privacy), opened only where shown (the list above shows names)
    raw = api_stack.cli("archive", "query", "--org", ORG, "--from", "729d", "--to", "400d", "--json", "--reason", "ticket 4312")
    assert raw.returncode == 0, raw.stderr
    names = {json.loads(line)["actor"]["name"] for line in raw.stdout.splitlines()
             if json.loads(line)["actor"]["kind"] == "user"}
    assert names and all(name.startswith("pd1~") for name in names), sorted(names)[:3]
    assert not any(i["actor"]["name"].startswith("pd1~") for i in warm)


def test_query_all_json_over_a_crossing_window_answers_the_apis_entries(api_stack):
    window = across()
    expected = list_all(api_stack, window)
    warm, hot = sides(expected)
    assert warm and hot, "the window must hold entries from both tiers"

    shown = api_stack.cli("query", "--org", ORG, "--from", window["from"], "--to", window["to"], "--all", "--json", "--limit", "20")
    assert shown.returncode == 0, shown.stderr
    pages = [json.loads(line) for line in shown.stdout.splitlines()]
    assert len(pages) > 2  # paged through, across the boundary
    assert [item["id"] for page in pages for item in page["items"]] == [item["id"] for item in expected]


def rows_of(text: str) -> list[dict]:
    lines = csv.reader(io.StringIO(text, newline=""))
    assert next(lines) == list(COLUMNS)
    return [dict(zip(COLUMNS, cells, strict=True)) for cells in lines]


def assert_rows_are_the_entries(api_stack, rows: list[dict], items: list[dict]) -> None:
    assert [r["id"] for r in rows] == [i["id"] for i in items]
    for row, item in zip(rows, items, strict=True):
        assert (row["time"], row["type"], row["status"], row["event"], row["actor_id"]) == \
            (item["occurred_at"], item["type"], item["status"], item["event"], item["actor"]["id"])
    warm, hot = sides(items)
    for item in warm[:15] + hot[:5]:  # details: from the warm tier's files and from the table
        row = next(r for r in rows if r["id"] == item["id"])
        status, detail = api_stack.request("GET", f"/activities/{item['id']}", reader(api_stack, ORG))
        assert status == 200, detail
        assert row["changed_fields"] == (json.dumps(list(detail["changes"]), ensure_ascii=False) if detail["changes"] else "")
        assert row["error_message"] == ((detail["reason"] or {}).get("message") or (detail["error"] or {}).get("message") or "")
        assert row["correlation_id"] == (detail["correlation_id"] or "")
    assert any(r["changed_fields"] for r in rows if r["id"] in {i["id"] for i in warm})


def test_an_inline_export_over_a_crossing_window_is_the_csv_of_the_lists_rows(api_stack):
    window = across(200, 70)
    filters = {**window, "type": ["USER_ACTION"]}
    items = list_all(api_stack, {**window, "type": "USER_ACTION"})
    warm, hot = sides(items)
    assert warm and hot and len(items) <= EXPORT_INLINE_ROWS, (len(warm), len(hot))

    status, headers, data = HttpClient(api_stack.url).send("POST", "/exports", json.dumps({"filters": filters}).encode(),
                                                           {"content-type": "application/json"}, token=reader(api_stack, ORG))
    assert status == 200 and headers["content-type"] == "text/csv; charset=utf-8", data[:300]
    assert_rows_are_the_entries(api_stack, rows_of(data.decode("utf-8")), items)


def test_a_background_export_over_a_crossing_window_holds_the_lists_rows(api_stack):
    window = across()
    items = list_all(api_stack, window)
    assert len(items) > EXPORT_INLINE_ROWS
    token = api_stack.token(ORG, "u_exporter", name="Riley Park", scopes=("read",), email="riley.park@wineclub.example")
    status, export = api_stack.request("POST", "/exports", token, body={"filters": window})
    assert status == 202, export

    def done():
        status, answer = api_stack.request("GET", f"/exports/{export['export_id']}", token)
        assert status == 200, answer
        return answer if answer["status"] != "IN_PROGRESS" else None

    final = wait_for(done, timeout=120, interval=0.5)
    assert (final["status"], final["rows"]) == ("SUCCESS", len(items)), final
    status, _, data = HttpClient(api_stack.url).send("GET", final["download_url"].removeprefix(api_stack.url))
    assert status == 200, data[:300]
    assert_rows_are_the_entries(api_stack, rows_of(data.decode("utf-8")), items)


def test_seed_keeps_within_the_tables_days_when_asked_for_more(api_stack):
    seeded = api_stack.cli("seed", "--org", "org_e2e_seed_cap", "--count", "60", "--days", str(HOT_TABLE_DAYS + 30))
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "org_e2e_seed_cap: 60 entries recorded" in seeded.stdout
    status, page = api_stack.request("GET", f"/activities?from={iso(datetime.now(timezone.utc) - timedelta(days=729))}&limit=200",
                                     reader(api_stack, "org_e2e_seed_cap"))
    assert status == 200 and len(page["items"]) == 60, page
    oldest = datetime.fromisoformat(page["items"][-1]["occurred_at"].replace("Z", "+00:00"))
    assert datetime.now(timezone.utc) - oldest < timedelta(days=HOT_TABLE_DAYS - 1), oldest
