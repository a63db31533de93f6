"""Live entries on the Activity Logs page, and `activitylog tail` beside it, in Debian's Chromium.

Given the page open on a filtered view (polling every few hundred ms: ``ACTIVITY_LOG_LIVE``, set
before the page's scripts run) and ``activitylog tail`` with the same filter, when entries are
recorded through the API, then the matching ones appear at the top (behind a "new entries" bar
while the reader is scrolled down), a running job's row shows its progress and then SUCCESS, a
hidden tab asks nothing until it is shown again, the entry of another type appears in neither, and
the tail prints the same entries in the same order.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import pytest

from tests.support.page import WIDE, expect, reader, settled
from tests.support.stack import ROOT

pytestmark = pytest.mark.e2e

ORG = "org_e2e_live"
QUICK = """
globalThis.ACTIVITY_LOG_LIVE = { intervalMs: 250, idleMaxMs: 2000, errorMaxMs: 2000 };
// Every request to /activities, when it left and when its answer was read (the page's own clock).
window.calls = [];
const send = window.fetch.bind(window);
window.fetch = async (url, options) => {
  if (!String(url).startsWith('/activities')) return send(url, options);
  const call = { url: String(url), start: performance.now(), end: null };
  window.calls.push(call);
  try { return await send(url, options); } finally { call.end = performance.now(); }
};
"""
# What the browser does when the tab is switched away from and back (headless Chromium never hides a tab).
VISIBILITY = ("Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '%s' });"
              " document.dispatchEvent(new Event('visibilitychange'));")
SYSTEM = {"kind": "system", "id": "system", "name": "system"}


def record(api_stack, writer: str, **fields) -> str:
    status, answer = api_stack.request("POST", "/activities", writer, body={
        "type": "BACKGROUND_JOB", "status": "SUCCESS", "actor": SYSTEM, "action": "synced", **fields})
    assert status == 201, answer
    return answer["id"]


def until(page, condition: str, seconds: float = 30) -> None:
    """Wait for a condition on the page (wait_for_function evaluates a string, which the page's CSP refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(condition):
        assert time.monotonic() < deadline, f"not within {seconds} s: {condition}"
        page.wait_for_timeout(100)


@pytest.fixture
def tail(api_stack):
    """`activitylog tail --type BACKGROUND_JOB --json` running; its entries' ids as it prints them."""
    process = subprocess.Popen(
        [sys.executable, "-m", "activitylog_local.cli", "--data-dir", str(api_stack.data_dir), "tail", "--org", ORG,
         "--type", "BACKGROUND_JOB", "--json", "--interval", "0.25"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    printed: list[str] = []
    reading = threading.Thread(target=lambda: printed.extend(json.loads(line)["id"] for line in process.stdout), daemon=True)
    reading.start()
    yield printed
    process.terminate()
    process.wait(timeout=10)
    reading.join(timeout=5)


def test_new_entries_appear_live_a_running_job_moves_and_tail_agrees(browser, api_stack, tail):
    writer = api_stack.token(ORG, "svc_e2e_live", scopes=("read", "write"))
    status, answer = api_stack.request("POST", "/activities/batch", writer, body={"entries": [
        {"type": "BACKGROUND_JOB", "status": "SUCCESS", "actor": SYSTEM, "action": "synced", "event": f"Earlier sync {n}"}
        for n in range(40)]})
    assert status == 200, answer
    context = browser.new_context(viewport=WIDE)
    context.add_init_script(QUICK)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{api_stack.url}/?type=BACKGROUND_JOB#token={reader(api_stack, ORG)}")
    rows = page.locator("#rows tr[data-id]")
    expect()(rows).to_have_count(40, timeout=20_000)  # the first page, on a busy machine
    settled(page)

    # Nothing new: each poll waits longer than the last (x1.5 from 250 ms, up to 2 s).
    until(page, "window.calls.filter((call) => call.end !== null).length >= 6")
    calls = page.evaluate("window.calls.slice()")
    waits = [after["start"] - before["end"] for before, after in zip(calls, calls[1:], strict=False)]
    assert len(waits) >= 4 and waits[3] > 2 * waits[0], waits  # from one poll's answer to the next poll

    # At the top: a matching entry goes in at once; one of another type does not.
    job = record(api_stack, writer, status="IN_PROGRESS", action="started", event="Import started · live 1")
    other = record(api_stack, writer, type="USER_ACTION", actor={"kind": "user", "id": "u_17", "name": "Riley Park"},
                   action="updated", event="Contact updated · live")
    expect()(rows.first).to_have_attribute("data-id", job, timeout=10_000)
    expect()(page.locator("#list-status")).to_contain_text("41 entries")

    # The running job on screen: its progress, then its end.
    patched = api_stack.request("PATCH", f"/activities/{job}", writer, body={"metadata": {"processed": 268, "total": 286}})
    assert patched[0] == 200, patched
    expect()(rows.first.locator("td.status")).to_have_text(re.compile(r"IN_PROGRESS\s*268 / 286"), timeout=10_000)
    page.screenshot(path=ROOT / ".artifacts" / "screenshots" / "live-progress-1280.png")
    patched = api_stack.request("PATCH", f"/activities/{job}", writer, body={"status": "SUCCESS"})
    assert patched[0] == 200, patched
    expect()(rows.first.locator("td.status")).to_have_text("SUCCESS", timeout=10_000)

    # Scrolled down: the next one waits behind the bar, and clicking it shows it.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    second = record(api_stack, writer, event="Stock synced · live 2")
    bar = page.get_by_role("button", name="1 new entry · show")
    expect()(bar).to_be_visible(timeout=10_000)
    assert rows.first.get_attribute("data-id") == job  # not moved under the reader
    page.screenshot(path=ROOT / ".artifacts" / "screenshots" / "live-bar-1280.png")
    bar.click()
    expect()(rows.first).to_have_attribute("data-id", second)
    expect()(bar).to_be_hidden()
    assert page.evaluate("document.getElementById('rows').rows[0].getBoundingClientRect().top >= 0")
    assert page.locator(f'#rows tr[data-id="{other}"]').count() == 0

    # A hidden tab asks nothing; shown again, it looks at once.
    page.evaluate(VISIBILITY % "hidden")
    until(page, "window.calls.every((call) => call.end !== null)")  # a poll under way when it was hidden
    asked = page.evaluate("window.calls.length")
    third = record(api_stack, writer, event="Orders imported · live 3")
    page.wait_for_timeout(2_500)  # past the test's longest wait between polls
    assert page.evaluate("window.calls.length") == asked and rows.first.get_attribute("data-id") == second
    page.evaluate(VISIBILITY % "visible")
    expect()(rows.first).to_have_attribute("data-id", third, timeout=2_000)

    # The tail, with the same filter, printed the same new entries, in the same order (oldest first there).
    deadline = time.monotonic() + 15
    while third not in tail and time.monotonic() < deadline:
        time.sleep(0.2)
    recorded = {job, other, second, third}
    assert [entry_id for entry_id in tail if entry_id in recorded] == [job, second, third]
    shown = [row_id for row_id in rows.evaluate_all("rows => rows.map((row) => row.dataset.id)") if row_id in recorded]
    assert shown == [third, second, job]
    assert not errors, errors
    context.close()
