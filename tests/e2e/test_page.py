"""The Activity Logs page in a real browser: Debian's Chromium driven by Playwright against the local stack.

Given ``activitylog serve`` (the session's ``api_stack``: the demo org, plus an org this module
seeds through the API with the shared demo generator), when a person signs in, filters, scrolls
and opens entries, then the page shows what the API answers for exactly the filter set the URL
holds. One browser for the module, a fresh context (its own sessionStorage) per test.
Screenshots at 1280 and 390 px wide are saved under .artifacts/screenshots (git-ignored).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from activitylog_local.cli import ago
from activitylog_local.client import HttpClient
from activitylog_local.demo import demo_entries, seed
from tests.support.page import NARROW, WIDE, expect, reader, settled
from tests.support.stack import EXPORT_INLINE_ROWS

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
ORG = "org_e2e_page"
DEMO_ROWS = [  # the product page's example rows, newest first: minutes before seeding, event, type, actor, status
    (2, "PROCESS_RELEASE_PAYMENTS · Spring 2026 Reds", "BACKGROUND_JOB", "system", "SUCCESS"),
    (15, "Contact updated · Alex Chen", "USER_ACTION", "Riley Park", "SUCCESS"),
    (61, "payment_intent.succeeded", "WEBHOOK", "Stripe", "SUCCESS"),
    (64, "payment_intent.payment_failed", "WEBHOOK", "Stripe", "WARNING"),
    (180, "SYNC_SQUARE_STOCK", "BACKGROUND_JOB", "system", "FAILED"),
]


@pytest.fixture(scope="module")
def page_org(api_stack):
    """An org of its own, seeded through the API with the demo generator: about 160 entries over 3 days."""
    writer = HttpClient(api_stack.url, api_stack.token(ORG, "svc_e2e_seed", scopes=("read", "write")))
    seed(writer, demo_entries(datetime.now(timezone.utc), count=160, days=3))
    return ORG


def listed(page, action) -> dict:
    """Run ``action`` and return the page of entries the page asked the API for (its JSON and query)."""
    with page.expect_response(lambda r: urlsplit(r.url).path == "/activities") as answer:
        action()
    response = answer.value
    assert response.status == 200, response.text()
    settled(page)
    return {"items": response.json()["items"], "next_cursor": response.json()["next_cursor"],
            "query": {k: v[0] for k, v in parse_qs(urlsplit(response.url).query).items()}}


def row_ids(page) -> list[str]:
    return page.locator("#rows tr").evaluate_all("rows => rows.map(r => r.dataset.id)")


def column(page, name: str) -> list[str]:
    return page.locator(f"#rows td.{name}").all_inner_texts()


def url_params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


# --- the local stack serves the page ------------------------------------------------------------


def test_the_stack_serves_the_page_beside_the_api(api_stack):
    client = HttpClient(api_stack.url)
    status, headers, body = client.send("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"<h1>Activity Logs</h1>" in body
    status, headers, _ = client.send("GET", "/js/app.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")  # a module script needs a JS type
    assert headers["x-content-type-options"] == "nosniff"
    for outside in ("/../template.yaml", "/%2e%2e/template.yaml", "/js/../../README.md"):
        assert client.send("GET", outside)[0] == 404, outside
    assert client.send("GET", "/activities")[0] == 401  # still the API, behind its authorizer
    assert client.send("POST", "/")[0] == 404


# --- done when: the demo rows, and failed jobs of the last 7 days down to a stack trace ----------


def example_rows(rows: list[dict]) -> list[dict]:
    """The five example rows among the demo's generated history, which may hold the same events (a Stripe failure
    minutes ago): the rows that sit at the examples' offsets from one seeding moment."""
    def at(row):
        return datetime.fromisoformat(row["at"].replace("Z", "+00:00"))

    def matches(row, event, status):
        return row["event"] == event and row["status"] == status

    _, first_event, _, _, first_status = DEMO_ROWS[0]
    for first in (r for r in rows if matches(r, first_event, first_status)):
        seeded = at(first) + timedelta(minutes=DEMO_ROWS[0][0])
        picked = [next((r for r in rows if matches(r, event, status)
                       and abs(at(r) - (seeded - timedelta(minutes=minutes))) < timedelta(seconds=1)), None)
                  for minutes, event, _, _, status in DEMO_ROWS]
        if None not in picked:
            return picked
    raise AssertionError(f"the product page's example rows are not all on the first page: {rows}")


def test_the_demo_org_shows_the_product_pages_five_rows_at_their_relative_times(open_page):
    page = open_page("/")
    # The tier's first page load (cold functions: the vocabulary, then the list) took over 5 s at load average 20
    expect()(page.locator("#list-status")).to_have_text(re.compile("^Showing"), timeout=30_000)
    settled(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Activity Logs"
    assert page.get_by_text("Tracking all system activities and events across your organization").is_visible()
    assert "#token" not in page.url  # the token left the address bar for sessionStorage
    rows = page.locator("#rows tr").evaluate_all("""rows => rows.map(r => ({
        time: r.querySelector('time').textContent, at: r.querySelector('time').dateTime, exact: r.querySelector('time').title,
        type: r.cells[1].textContent, actor: r.cells[2].textContent, event: r.cells[3].textContent, status: r.cells[4].textContent}))""")
    now = datetime.now(timezone.utc)
    found = []
    for row, (_, event, type_, actor, status) in zip(example_rows(rows), DEMO_ROWS):
        at = datetime.fromisoformat(row["at"].replace("Z", "+00:00"))
        assert (row["event"], row["type"], row["actor"], row["status"]) == (event, type_, actor, status)
        assert row["time"] in {ago(at, now), ago(at, now - timedelta(minutes=1))}, row  # "2 min ago", "1 hr ago", "3 hrs ago"
        assert row["at"] in row["exact"]  # the exact time on hover
        found.append(rows.index(row))
    assert found == sorted(found)  # newest first
    assert [datetime.fromisoformat(r["at"].replace("Z", "+00:00")) for r in rows] == sorted(
        (datetime.fromisoformat(r["at"].replace("Z", "+00:00")) for r in rows), reverse=True)


def test_failed_background_jobs_of_the_last_7_days_open_to_a_stack_trace(open_page):
    page = open_page("/")
    settled(page)
    page.get_by_role("button", name="Type: All").click()
    listed(page, lambda: page.get_by_role("checkbox", name="BACKGROUND_JOB").check())
    page.get_by_role("button", name=re.compile("^Status")).click()
    listed(page, lambda: page.get_by_role("checkbox", name="FAILED").check())
    answer = listed(page, lambda: page.get_by_label("Date range").select_option("7d"))
    assert answer["query"]["type"] == "BACKGROUND_JOB" and answer["query"]["status"] == "FAILED"
    assert set(column(page, "type")) == {"BACKGROUND_JOB"} and set(column(page, "status")) == {"FAILED"}
    assert url_params(page) == {"type": "BACKGROUND_JOB", "status": "FAILED", "range": "7d"}
    page.get_by_role("row", name=re.compile("SYNC_SQUARE_STOCK")).first.click()
    stack = page.get_by_label("Stack trace")
    expect()(stack).to_contain_text("Traceback (most recent call last)")
    expect()(page.locator("#detail .error-message")).to_contain_text("the access token has expired")
    assert page.get_by_role("dialog").get_by_role("heading", level=2).inner_text() == "SYNC_SQUARE_STOCK"


# --- filters, the URL, paging ----------------------------------------------------------------------


def test_each_filter_changes_the_rows_and_the_url_to_what_the_api_answers(open_page, page_org):
    page = open_page("/?range=7d", org=page_org)
    settled(page)
    all_rows = row_ids(page)
    assert len(all_rows) == 50

    def check(answer, url, predicate):
        assert answer["items"], f"the seed has nothing for {answer['query']}: the check would prove nothing"
        assert row_ids(page) == [item["id"] for item in answer["items"]]
        assert row_ids(page) != all_rows
        assert all(predicate(item) for item in answer["items"])
        assert url_params(page) == url

    page.get_by_role("button", name="Type: All").click()
    answer = listed(page, lambda: page.get_by_role("checkbox", name="WEBHOOK").check())
    check(answer, {"type": "WEBHOOK", "range": "7d"}, lambda i: i["type"] == "WEBHOOK")
    assert answer["query"]["type"] == "WEBHOOK"
    assert set(column(page, "type")) == {"WEBHOOK"}

    answer = listed(page, lambda: page.get_by_role("button", name="Reset filters").click())
    assert url_params(page) == {} and answer["query"].keys() == {"from"}
    listed(page, lambda: page.get_by_label("Date range").select_option("7d"))

    page.get_by_role("button", name="Status: All").click()
    answer = listed(page, lambda: page.get_by_role("button", name="FAILED + WARNING").click())
    check(answer, {"status": "FAILED,WARNING", "range": "7d"}, lambda i: i["status"] in ("FAILED", "WARNING"))
    assert page.get_by_role("checkbox", name="FAILED").is_checked() and page.get_by_role("checkbox", name="WARNING").is_checked()
    listed(page, lambda: page.get_by_role("button", name="Reset filters").click())
    listed(page, lambda: page.get_by_label("Date range").select_option("7d"))

    # User: the box suggests the team members seen in the entries loaded so far.
    member = next(item["actor"] for item in listed(page, lambda: page.reload())["items"] if item["actor"]["kind"] == "user")
    box = page.get_by_role("combobox", name="User")
    box.fill(member["name"][:3].lower())
    option = page.get_by_role("option", name=re.compile(member["name"]))
    expect()(option).to_be_visible()
    answer = listed(page, lambda: option.click())
    check(answer, {"user": member["id"], "range": "7d"}, lambda i: i["actor"]["id"] == member["id"])
    assert set(column(page, "actor")) == {member["name"]} and box.input_value() == member["name"]
    listed(page, lambda: page.get_by_role("button", name="Reset filters").click())
    listed(page, lambda: page.get_by_label("Date range").select_option("7d"))

    # Entity type: the vocabulary's list, read from the org's catalogue (GET /catalog), labels and all.
    fetched = page.evaluate("performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)")
    assert "/catalog" in fetched and "/openapi.json" not in fetched, fetched
    options = page.get_by_label("Entity").locator("option")
    assert options.evaluate_all("os => os.map(o => o.value)") == ["", "contact", "release", "product", "fulfillment", "payment",
                                                                  "setting", "integration", "team_member", "job", "export", "entry"]
    assert options.all_inner_texts() == ["All entities", "Contact", "Release", "Product", "Fulfillment", "Payment", "Setting",
                                         "Integration", "Team member", "Job", "Export", "Entry"]  # shown by their labels
    answer = listed(page, lambda: page.get_by_label("Entity").select_option("product"))
    check(answer, {"entity_type": "product", "range": "7d"}, lambda i: i["entity"]["type"] == "product")

    # Date range: 24 h is the default, and narrower than 7 days.
    listed(page, lambda: page.get_by_role("button", name="Reset filters").click())
    day = listed(page, lambda: page.get_by_label("Date range").select_option("24h"))
    since = datetime.fromisoformat(day["query"]["from"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - timedelta(hours=24) - since).total_seconds()) < 60
    assert url_params(page) == {} and page.get_by_label("Date range").input_value() == "24h"
    assert row_ids(page) == [item["id"] for item in day["items"]]
    assert all(datetime.fromisoformat(item["occurred_at"].replace("Z", "+00:00")) >= since for item in day["items"])
    week = listed(page, lambda: page.get_by_label("Date range").select_option("7d"))
    since = datetime.fromisoformat(week["query"]["from"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - timedelta(days=7) - since).total_seconds()) < 60
    assert url_params(page) == {"range": "7d"}


def test_a_copied_url_restores_the_filters_the_rows_and_the_open_entry(open_page, page_org, api_stack):
    page = open_page("/", org=page_org)
    settled(page)
    page.get_by_role("button", name="Type: All").click()
    listed(page, lambda: page.get_by_role("checkbox", name="USER_ACTION").check())
    listed(page, lambda: page.get_by_label("Entity").select_option("contact"))
    listed(page, lambda: page.get_by_label("Date range").select_option("30d"))
    shown = row_ids(page)
    page.locator("#rows tr").nth(2).click()
    expect()(page.locator("#detail-body dl")).to_be_visible()
    title = page.locator("#detail-title").inner_text()
    copied = page.url
    assert url_params(page) == {"type": "USER_ACTION", "entity_type": "contact", "range": "30d", "entry": shown[2]}

    fresh = open_page(copied.removeprefix(api_stack.url), org=page_org, token=None)  # a new session: sign in first
    expect()(fresh.get_by_role("heading", name="Sign in")).to_be_visible()
    fresh.get_by_label("Access token").fill(f"export TOKEN={reader(api_stack, page_org)}")  # make dev's line, as pasted
    answer = listed(fresh, lambda: fresh.get_by_role("button", name="Sign in").click())
    assert row_ids(fresh) == shown == [item["id"] for item in answer["items"]]
    assert fresh.get_by_role("button", name="Type: USER_ACTION").is_visible()
    assert fresh.locator("#type-menu input[value=USER_ACTION]").is_checked()
    assert fresh.get_by_label("Entity").input_value() == "contact" and fresh.get_by_label("Date range").input_value() == "30d"
    expect()(fresh.locator("#detail-title")).to_have_text(title)
    assert fresh.url == copied


def test_scrolling_loads_the_next_pages_with_no_gap_or_repeat(open_page, page_org, api_stack):
    page = open_page("/?range=7d", org=page_org)
    pages = []
    page.on("response", lambda r: pages.append(r) if urlsplit(r.url).path == "/activities" else None)
    settled(page)
    assert len(row_ids(page)) == 50 and len(pages) == 1  # the next page waits for the reader to scroll
    for _ in range(10):  # about 165 entries: four pages
        if "Showing all" in page.locator("#list-status").inner_text():
            break
        count = len(row_ids(page))
        page.mouse.wheel(0, 30000)
        expect()(page.locator("#rows tr")).not_to_have_count(count)
        settled(page)
    shown = row_ids(page)
    first = parse_qs(urlsplit(pages[0].url).query)
    assert all("cursor" in parse_qs(urlsplit(r.url).query) for r in pages[1:]) and len(pages) >= 3
    assert [item["id"] for r in pages for item in r.json()["items"]] == shown
    # Independently, every entry of that filter set, page after page through the API itself.
    everything, cursor = [], None
    while True:
        query = f"/activities?from={first['from'][0]}&limit=200" + (f"&cursor={cursor}" if cursor else "")
        status, answer = api_stack.request("GET", query.replace("+", "%2B"), reader(api_stack, page_org))
        assert status == 200, answer
        everything += [item["id"] for item in answer["items"]]
        cursor = answer.get("next_cursor")
        if not cursor:
            break
    assert shown == everything and len(set(shown)) == len(shown) > 100
    assert page.get_by_role("button", name="Load more entries").is_hidden()


# --- the detail panel ----------------------------------------------------------------------------


def test_the_detail_shows_the_diff_side_by_side_and_links_to_the_records_history(open_page, page_org):
    page = open_page("/", org=page_org)
    settled(page)
    page.get_by_role("row", name=re.compile("Contact updated · Alex Chen")).click()
    diff = page.get_by_role("table", name="Changed fields, before and after")
    tier = diff.get_by_role("row", name=re.compile("club_tier"))
    assert tier.locator("td.before").inner_text() == "Reserve" and tier.locator("td.after").inner_text() == "Grand Cru"
    assert diff.get_by_role("row", name=re.compile("email")).locator("td").all_inner_texts() == ["alex@oldmail.com", "alex.chen@example.com"]
    facts = page.locator("#detail dl").inner_text()
    assert "Riley Park (user, u_17)" in facts and "updated" in facts

    answer = listed(page, lambda: page.get_by_role("link", name="Alex Chen").click())
    assert url_params(page) == {"entity_type": "contact", "entity_id": "c_1042", "range": "all"}
    assert answer["query"]["entity_id"] == "c_1042" and len(answer["items"]) >= 1
    assert all(item["entity"]["id"] == "c_1042" for item in answer["items"])
    assert row_ids(page) == [item["id"] for item in answer["items"]]
    expect()(page.locator("#record-filter")).to_contain_text("History of Alex Chen")
    assert page.get_by_role("dialog").is_hidden()


def test_the_detail_shows_the_error_stack_trace_and_folding_metadata(open_page, page_org):
    page = open_page("/", org=page_org)
    settled(page)
    page.get_by_role("row", name=re.compile("SYNC_SQUARE_STOCK.*FAILED")).first.click()
    expect()(page.get_by_label("Stack trace")).to_contain_text("square.exceptions.api_exception.ApiException: 401 UNAUTHORIZED")
    assert page.locator("#detail .error-message").inner_text() == (
        "ApiException: Square API returned 401 UNAUTHORIZED: the access token has expired")
    metadata = page.locator("#detail .json > details")
    assert metadata.get_attribute("open") is not None and "processed: " in metadata.inner_text()
    metadata.locator("summary").first.click()
    assert metadata.get_attribute("open") is None  # collapsible
    assert page.get_by_role("toolbar", name="Entry actions").get_by_role("button", name="Copy entry ID").is_visible()


def test_rows_and_the_panel_work_from_the_keyboard(open_page, page_org):
    page = open_page("/", org=page_org)
    settled(page)
    ids = row_ids(page)
    page.locator("#rows tr").first.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.id") == ids[1]
    page.keyboard.press("Enter")
    expect()(page.get_by_role("dialog")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "detail-title"
    assert url_params(page)["entry"] == ids[1]
    page.keyboard.press("Escape")
    expect()(page.get_by_role("dialog")).to_be_hidden()
    assert page.evaluate("document.activeElement.dataset.id") == ids[1] and "entry" not in url_params(page)


# --- sign-in, states -------------------------------------------------------------------------------


def test_a_bad_or_expired_token_shows_the_sign_in_again(open_page, api_stack, page_org):
    page = open_page("/", token=None)
    expect()(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Access token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect()(page.locator("#signin-message")).to_contain_text("was not accepted")
    assert page.locator("#app").is_hidden()

    expired = reader(api_stack, page_org, ttl_seconds=-60)
    page = open_page("/?type=WEBHOOK", token=expired)
    expect()(page.locator("#signin-message")).to_contain_text("expired")
    assert page.evaluate("sessionStorage.length") == 0

    # Signed in, then the token expires: the next request shows the sign-in, and the view survives it.
    page = open_page("/?range=7d", org=page_org)
    settled(page)
    page.evaluate("token => sessionStorage.setItem('activitylog.token', token)", expired)
    page.get_by_role("button", name="Type: All").click()
    page.get_by_role("checkbox", name="WEBHOOK").check()
    expect()(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Access token").fill(reader(api_stack, page_org))
    answer = listed(page, lambda: page.get_by_role("button", name="Sign in").click())
    assert answer["query"]["type"] == "WEBHOOK" and set(column(page, "type")) == {"WEBHOOK"}


def test_loading_empty_and_error_states_are_shown(open_page, page_org):
    page = open_page("/?user=u_nobody&range=7d", org=page_org)
    expect()(page.get_by_text("No entries match these filters")).to_be_visible()
    assert page.locator("#entries").is_hidden()

    # From after To is said at once in the range's words: no request, and no "Try again" that could not help.
    page.get_by_label("Date range").select_option("custom")
    page.get_by_label("From", exact=True).fill("2026-03-02T10:00")
    page.get_by_label("To", exact=True).fill("2026-03-01T10:00")
    asked = []
    page.on("request", lambda request: asked.append(request.url) if urlsplit(request.url).path == "/activities" else None)
    page.get_by_role("button", name="Apply").click()
    expect()(page.get_by_role("alert").filter(has_text="From is after To: choose a From earlier than the To")).to_be_visible()
    assert page.get_by_role("button", name="Try again").is_hidden() and asked == []

    # The API's refusal is shown with the field it names (and no "Try again": it would answer the same).
    page.goto(page.url.split("?")[0] + "?range=custom&from=not-a-date")
    expect()(page.get_by_role("alert").filter(has_text=re.compile(r"ISO 8601.*\(from\)"))).to_be_visible()
    assert page.get_by_role("button", name="Try again").is_hidden()

    # Loading, then a failure answered by the service, then trying again.
    held = []
    listing = lambda url: urlsplit(url).path == "/activities"  # noqa: E731
    page.route(listing, lambda route: held.append(route))
    page.get_by_role("button", name="Reset filters").click()
    expect()(page.locator("#list-status")).to_have_text("Loading entries…")
    while not held:
        page.wait_for_timeout(50)
    assert page.locator("#entries").get_attribute("aria-busy") == "true"
    held.pop().fulfill(status=500, json={"message": "Internal Server Error"})
    expect()(page.get_by_role("alert").filter(has_text="Internal Server Error")).to_be_visible()
    page.unroute(listing)
    listed(page, lambda: page.get_by_role("button", name="Try again").click())
    assert row_ids(page) and page.locator("#problem").is_hidden()


def test_the_layout_holds_at_1280_and_390_px_with_screenshots(open_page, page_org):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for viewport in (WIDE, NARROW):
        width = viewport["width"]
        page = open_page("/", viewport=viewport)
        settled(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing spills sideways
        for name in ("Type: All", "Status: All"):
            box = page.get_by_role("button", name=name).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
        page.screenshot(path=SCREENSHOTS / f"page-{width}.png", full_page=False)
        page.get_by_role("row", name=re.compile("SYNC_SQUARE_STOCK.*FAILED")).first.click()
        expect()(page.get_by_label("Stack trace")).to_be_visible()
        panel = page.get_by_role("dialog").bounding_box()
        assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width
        page.screenshot(path=SCREENSHOTS / f"detail-{width}.png", full_page=False)
        assert (SCREENSHOTS / f"page-{width}.png").stat().st_size > 10_000


# --- Export CSV on the toolbar ------------------------------------------------------------------------


def exported_rows(data: bytes) -> list[dict]:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows and list(rows[0]) == ["id", "time", "type", "status", "actor_kind", "actor_id", "actor_name", "action", "event",
                                      "entity_type", "entity_id", "entity_label", "changed_fields", "error_message", "correlation_id",
                                      "trace_id", "span_id"]
    return rows


def api_ids(stack, org: str, filters: dict) -> list[str]:
    """Every id GET /activities answers for an export's filter set (type and status lists joined as the API takes them)."""
    query = {k: ",".join(v) if isinstance(v, list) else v for k, v in filters.items()}
    client, found, cursor = HttpClient(stack.url, reader(stack, org)), [], None
    while True:
        params = "&".join(f"{k}={quote(v)}" for k, v in {**query, "limit": "200", **({"cursor": cursor} if cursor else {})}.items())
        status, page = client.request("GET", f"/activities?{params}")
        assert status == 200, page
        found += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_export_csv_downloads_a_small_export_of_the_current_filters(open_page, page_org, api_stack):
    # Given the failed and warning entries of all time on the page (fewer than the stack's threshold)
    page = open_page("/?status=FAILED,WARNING&range=all", org=page_org)
    settled(page)
    shown = row_ids(page)
    assert 0 < len(shown) <= EXPORT_INLINE_ROWS

    # When Export CSV is clicked
    with page.expect_request(lambda r: urlsplit(r.url).path == "/exports") as sent, page.expect_download() as downloaded:
        page.get_by_role("button", name="Export CSV").click()

    # Then the page's own filter set was sent, and the file downloaded is the API's rows for it
    filters = sent.value.post_data_json["filters"]
    assert filters["status"] == ["FAILED", "WARNING"] and "from" in filters and "type" not in filters
    download = downloaded.value
    assert download.suggested_filename.startswith(f"activity-log-{page_org}-") and download.suggested_filename.endswith(".csv")
    rows = exported_rows(Path(download.path()).read_bytes())
    assert [row["id"] for row in rows] == shown == api_ids(api_stack, page_org, filters)
    expect()(page.locator("#export-status")).to_have_text(f"Downloaded {download.suggested_filename}.")


def test_export_csv_of_a_large_set_says_a_link_is_emailed_and_shows_its_progress(open_page, page_org, api_stack):
    # Given every entry of the org on the page (more than the threshold), and a token that names an email
    email = "riley.park@e2e.example"
    page = open_page("/?range=all", org=page_org, token=reader(api_stack, page_org, email=email))
    settled(page)

    # When Export CSV is clicked
    with page.expect_response(lambda r: urlsplit(r.url).path == "/exports" and r.request.method == "POST") as answered:
        page.get_by_role("button", name="Export CSV").click()

    # Then it runs in the background: the page says the link will be emailed, and follows its progress to the end
    assert answered.value.status == 202
    export_id = answered.value.json()["export_id"]
    status = page.locator("#export-status")
    expect()(status).to_contain_text(f"We'll email you a link at {email} when it is ready.")
    expect()(status).to_contain_text("Exported so far:")
    expect()(status).to_contain_text("Your export is ready:", timeout=60_000)
    link = page.get_by_role("link", name="Download the CSV")
    href = link.get_attribute("href")
    assert href.startswith(f"{api_stack.url}/exports/{export_id}/download?token=")
    # And the link (no bearer token) downloads the export's rows; the email to the requester holds one too
    status_code, _, data = HttpClient(api_stack.url).send("GET", href[len(api_stack.url):])
    assert status_code == 200
    rows = exported_rows(data)
    assert f"{len(rows):,} rows" in status.inner_text() and len(rows) > EXPORT_INLINE_ROWS
    _, outbox = HttpClient(api_stack.url).request("GET", "/_local/outbox")
    assert any(m["to"] == email and "is ready" in m["subject"] for m in outbox["messages"])


def test_export_csv_shows_why_a_large_export_cannot_start(open_page, page_org):
    # A token without an email claim: a background export would have nowhere to send its link
    page = open_page("/?range=all", org=page_org)
    settled(page)
    page.get_by_role("button", name="Export CSV").click()
    expect()(page.locator("#export-status")).to_contain_text("Export failed: this export holds more than 50 rows")
    assert "failed" in page.locator("#export-status").get_attribute("class")


# --- across the tiers' boundary ------------------------------------------------------------------


def test_a_range_across_the_warm_boundary_pages_to_the_apis_rows_and_a_warm_entry_opens_with_its_chain(open_page, api_stack):
    """The demo org's history: the table holds HotTableDays (90 here), older entries are the warm tier's."""
    from activitylog.warm.compact import compactable_through
    from tests.support.stack import HOT_TABLE_DAYS

    now = datetime.now(timezone.utc)
    low, high = (now - timedelta(days=300)).isoformat(timespec="seconds"), (now - timedelta(days=60)).isoformat(timespec="seconds")
    low, high = low.replace("+00:00", "Z"), high.replace("+00:00", "Z")
    page = open_page(f"/?range=custom&from={quote(low)}&to={quote(high)}")
    pages = []
    page.on("response", lambda r: pages.append(r) if urlsplit(r.url).path == "/activities" else None)
    settled(page)
    for _ in range(20):  # about 150 entries: three or four pages
        if "Showing all" in page.locator("#list-status").inner_text():
            break
        count = len(row_ids(page))
        page.mouse.wheel(0, 30000)
        expect()(page.locator("#rows tr")).not_to_have_count(count)
        settled(page)
    shown = row_ids(page)
    assert len(pages) >= 3 and all("cursor" in parse_qs(urlsplit(r.url).query) for r in pages[1:])
    asked = parse_qs(urlsplit(pages[0].url).query)
    assert (asked["from"][0][:19], asked["to"][0][:19]) == (low[:19], high[:19])

    everything, cursor = [], None  # the API itself, page after page, for the same window
    while True:
        query = f"/activities?from={quote(low)}&to={quote(high)}&limit=200" + (f"&cursor={cursor}" if cursor else "")
        status, answer = api_stack.request("GET", query, reader(api_stack, "org_demo"))
        assert status == 200, answer
        everything += answer["items"]
        cursor = answer.get("next_cursor")
        if not cursor:
            break
    assert shown == [item["id"] for item in everything] == sorted(shown, reverse=True) and len(set(shown)) == len(shown)
    first_hot = (compactable_through(now, HOT_TABLE_DAYS) + timedelta(days=1)).isoformat()
    warm = [item for item in everything if item["occurred_at"][:10] < first_hot]
    hot = [item for item in everything if item["occurred_at"][:10] >= first_hot]
    assert len(warm) > 50 and hot, (len(warm), len(hot))

    # A warm entry in a chain (a Square stock sync and the products it synced) opens with its Related chain.
    def chain_of(item: dict) -> list[dict]:
        status, answer = api_stack.request("GET", f"/activities/{item['id']}/related", reader(api_stack, "org_demo"))
        assert status == 200, answer
        return answer["items"]

    runs = [item for item in warm if item["event"] == "SYNC_SQUARE_STOCK" or item["event"].startswith("Product synced from Square")]
    chained, chain = next((item, chain) for item in runs if len(chain := chain_of(item)) > 1)
    page.locator(f"#rows tr[data-id='{chained['id']}']").scroll_into_view_if_needed()
    page.locator(f"#rows tr[data-id='{chained['id']}']").click()
    expect()(page.locator("#detail-title")).to_have_text(re.compile(re.escape(chained["event"].split(" · ")[0])))
    related = page.get_by_role("heading", name="Related")
    expect()(related).to_be_visible()
    expect()(page.locator("ol.related li")).to_have_count(len(chain))
    expect()(page.locator("ol.related [aria-current=true]")).to_contain_text("(this entry)")
    assert url_params(page)["entry"] == chained["id"]
