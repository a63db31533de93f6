"""The User filter finds team members by name on the server, and the date presets Today and Yesterday are the
reader's own calendar days (issue 21, item 1), in Debian's Chromium against the seeded demo org.

Each page runs in a time zone far from UTC, so a "Today" computed in UTC (or as the last 24 hours) is caught.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.support.page import expect, settled

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"
ZONE = "Pacific/Kiritimati"  # UTC+14: its day and UTC's differ for most of every day
CASEY = ("u_64", "Casey Nguyen")  # the demo's new hire (infra/activitylog_local/demo.py)


@pytest.fixture
def zoned_page(open_page):
    """zoned_page(path): a new tab in ZONE, signed in as a reader of the demo org."""
    return lambda path: open_page(path, timezone_id=ZONE)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def listed(page, action) -> dict:
    """Run ``action``; the page of entries the page then asked for: its items and query."""
    with page.expect_response(lambda r: urlsplit(r.url).path == "/activities") as answer:
        action()
    assert answer.value.status == 200, answer.value.text()
    settled(page)
    return {"items": answer.value.json()["items"], "query": query_of(answer.value.url)}


def first_listing(page) -> None:
    """The first page of a fresh tab has answered: its functions may start cold on a busy machine."""
    expect()(page.locator("#list-status")).to_have_text(re.compile(r"^(Showing|No entries)"), timeout=30_000)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_member_found_by_name_on_a_fresh_filtered_link_an_unmatched_name_is_said_and_today_is_the_local_day(zoned_page):
    page = zoned_page("/?status=FAILED,WARNING")
    first_listing(page)
    box = page.get_by_role("combobox", name="User")
    listings: list[str] = []
    page.on("request", lambda request: listings.append(request.url) if urlsplit(request.url).path == "/activities" else None)

    # The first keystroke asks the server, whatever the rows loaded: Casey is suggested by name
    box.click()
    with page.expect_response(lambda r: urlsplit(r.url).path == "/members" and query_of(r.url).get("q") == "C") as asked:
        box.press_sequentially("C")
    assert asked.value.status == 200 and {"id": CASEY[0], "name": CASEY[1]} in asked.value.json()["items"]
    expect()(page.get_by_role("option", name=CASEY[1])).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "members-suggested-1280.png")

    # Typing the name and pressing Enter applies the member's id, and the box shows their name
    box.press_sequentially("asey")
    answer = listed(page, lambda: box.press("Enter"))
    assert answer["query"]["user"] == CASEY[0] and answer["query"]["status"] == "FAILED,WARNING"
    assert query_of(page.url) == {"status": "FAILED,WARNING", "user": CASEY[0]}
    assert all(item["actor"]["id"] == CASEY[0] for item in answer["items"])
    page.keyboard.press("Tab")
    expect()(box).to_have_value(CASEY[1])

    # A name that matches nobody is said, and never applied as if it were an id
    box.fill("Zed")  # a word an id could be: applied before as user=Zed
    before = len(listings)
    box.press("Enter")
    expect()(page.get_by_role("status").filter(has_text="No team member matches “Zed”")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "members-unmatched-1280.png")
    page.wait_for_timeout(300)  # a listing, if one were asked, would have left by now
    assert len(listings) == before and query_of(page.url)["user"] == CASEY[0]
    page.keyboard.press("Tab")  # leaving the box shows the filter as it is
    expect()(box).to_have_value(CASEY[1])
    expect()(page.locator("#user-message")).to_be_hidden()

    # Today: from the reader's midnight (UTC+14 here), to now; Yesterday: that whole local day
    midnight = datetime.now(ZoneInfo(ZONE)).replace(hour=0, minute=0, second=0, microsecond=0)
    today = listed(page, lambda: page.get_by_label("Date range").select_option("today"))
    assert instant(today["query"]["from"]) == midnight and "to" not in today["query"]
    assert query_of(page.url)["range"] == "today"
    assert all(instant(item["occurred_at"]) >= midnight for item in today["items"])
    yesterday = listed(page, lambda: page.get_by_label("Date range").select_option("yesterday"))
    assert instant(yesterday["query"]["from"]) == midnight - timedelta(days=1)
    assert instant(yesterday["query"]["to"]) == midnight - timedelta(milliseconds=1)
    # The presets in the product's order; 24 h stays the default
    assert page.get_by_label("Date range").locator("option").all_inner_texts() == [
        "Today", "Yesterday", "Last 24 hours", "Last 7 days", "Last 30 days", "All time", "Custom…"]


def test_a_link_to_a_members_entries_names_them_before_any_row_does_and_lists_only_theirs(zoned_page):
    # Casey records no webhooks: no row can tell the page their name, the server does
    page = zoned_page(f"/?user={CASEY[0]}&type=WEBHOOK&range=7d")
    first_listing(page)
    expect()(page.get_by_text("No entries match these filters")).to_be_visible()
    expect()(page.get_by_role("combobox", name="User")).to_have_value(CASEY[1])

    # The same member's entries of every type: theirs alone, named in every row
    page.get_by_role("button", name="Type: WEBHOOK").click()
    answer = listed(page, lambda: page.get_by_role("checkbox", name="WEBHOOK").uncheck())
    assert answer["items"], "the demo's new hire has entries in the last 7 days"
    assert {item["actor"]["id"] for item in answer["items"]} == {CASEY[0]}
    assert set(page.locator("#rows td.actor").all_inner_texts()) == {CASEY[1]}
    assert datetime.now(timezone.utc) - instant(answer["items"][-1]["occurred_at"]) <= timedelta(days=7)
