"""The page polished and accessible, at 1280 and 390 px: axe-core on every view, the layout on element boxes.

One page per width (the demo org, signed in through make dev's #token= link) walks every view the issue
lists: the list with filters chosen, the Type and Status menus open, the detail panel of a failure, of a
change (Before / After) and of a webhook, the empty state, the error state (From after To) and sign-in.
Each view is checked by axe-core (node_modules/axe-core, injected through Playwright: zero violations) and
by the boxes of its elements (bounding_box), and photographed to .artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from activitylog_local.client import HttpClient
from tests.support.page import NARROW, WIDE, expect, reader, settled

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # package.json's axe-core: make install's npm ci


@pytest.fixture(scope="module")
def examples(api_stack) -> dict[str, str]:
    """Entry ids of the demo org for the panel's three views: a failure with its stack, a change, a webhook."""
    client = HttpClient(api_stack.url, reader(api_stack, "org_demo"))

    def chained(entry: dict) -> bool:
        return len(client.request("GET", f"/activities/{entry['id']}/related")[1]["items"]) >= 2

    def first(query: str, wanted) -> str:
        _, page = client.request("GET", f"/activities?from=1970-01-01T00:00:00Z&{query}")
        for item in page["items"]:
            _, entry = client.request("GET", f"/activities/{item['id']}")
            if wanted(entry):
                return entry["id"]
        raise AssertionError(f"the demo has no entry for {query}")

    return {
        "failure": first("type=BACKGROUND_JOB&status=FAILED", lambda e: (e.get("error") or {}).get("stack")),
        "diff": first("type=USER_ACTION", lambda e: e.get("changes")),
        "webhook": first("type=WEBHOOK&status=WARNING", lambda e: True),
        "chain": first("type=BACKGROUND_JOB&status=SUCCESS", chained),
    }


# Every later load of the page answers the filters' vocabulary (the OpenAPI document or the catalogue) 0.8 s late.
VOCABULARY_HELD = """{ const fetch = window.fetch; window.fetch = (url, options) =>
    /\\/(openapi\\.json|catalog)(\\?|$)/.test(String(url)) ? new Promise((r) => setTimeout(r, 800)).then(() => fetch(url, options))
        : fetch(url, options); }"""


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now (every rule axe runs by default)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => (await axe.run(document)).violations.map(v => ({
        rule: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map(n => n.target.join(' '))}))""")


def box(page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found, f"{selector} is not laid out"
    return found


def no_sideways_scroll(page, selector: str) -> None:
    spill = page.locator(selector).evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert spill[0] <= spill[1], f"{selector} scrolls sideways: {spill}"


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_every_view_is_clean_under_axe_and_laid_out_at_both_widths(browser, api_stack, examples, viewport):
    assert AXE.exists(), "axe-core is not installed: make install (npm ci) installs package.json's axe-core"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = viewport["width"]
    context = browser.new_context(viewport=viewport, bypass_csp=True)  # the page's CSP would refuse axe's script
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    found: dict[str, list] = {}

    def view(name: str) -> None:
        found[name] = axe_violations(page)
        page.screenshot(path=SCREENSHOTS / f"polish-{name}-{width}.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name}: the page scrolls sideways"

    def go(search: str) -> None:
        page.goto(f"{api_stack.url}/{search}")

    try:
        # The list, a filter chosen on each menu: the toolbar keeps one row at 1280 px
        page.goto(f"{api_stack.url}/?type=BACKGROUND_JOB,WEBHOOK&status=FAILED,WARNING&range=30d#token={reader(api_stack, 'org_demo')}")
        expect()(page.locator("#list-status")).to_have_text(re.compile("^Showing"), timeout=30_000)  # the first load reads the vocabulary too
        expect()(page.locator("#rows tr").first).to_be_visible()
        toolbar = [page.locator(s).bounding_box() for s in
                   ("#type-button", "#status-button", "#user", "#entity", "#range", "#reset", "#toolbar-actions button")]
        if width == 1280:
            assert len({round(b["y"] + b["height"]) for b in toolbar}) == 1, f"the toolbar wraps at 1280 px: {toolbar}"
            before = [b["width"] for b in toolbar]
        assert all(b["x"] >= 0 and b["x"] + b["width"] <= width for b in toolbar), toolbar
        # A row's smaller monospace Type sits on the row's baseline (it sat higher than the Event)
        first = page.locator("#rows tr").first
        if width == 1280:
            baseline = first.evaluate("""tr => ['type', 'event'].map(name => {
                const range = document.createRange(); range.selectNodeContents(tr.querySelector('td.' + name));
                return range.getClientRects()[0].bottom; })""")
            assert abs(baseline[0] - baseline[1]) <= 2, f"Type and Event text are not on one line: {baseline}"
            columns = page.locator("#entries th").evaluate_all("ths => ths.map(th => th.getBoundingClientRect().width)")
        view("list")

        # The menus: each checkbox beside its label (it sat ~90 px away)
        for menu in ("type", "status"):
            page.locator(f"#{menu}-button").click()
            expect()(page.locator(f"#{menu}-menu")).to_be_visible()
            for label in page.locator(f"#{menu}-menu .options label").all():
                checkbox, text = label.evaluate("""l => { const box = l.querySelector('input').getBoundingClientRect();
                    const range = document.createRange(); range.selectNodeContents(l.lastChild);
                    return [box.right, range.getBoundingClientRect().left]; }""")
                assert 0 <= text - checkbox <= 12, f"{menu}: the checkbox is {text - checkbox} px from its label"
            assert box(page, f"#{menu}-menu")["x"] + box(page, f"#{menu}-menu")["width"] <= width
            view(f"{menu}-menu")
            page.keyboard.press("Escape")

        if width == 1280:  # another result set keeps the columns where they were
            with page.expect_response(lambda r: r.url.split("?")[0].endswith("/activities")):
                page.locator("#range").select_option("7d")
            settled(page)
            assert page.locator("#entries th").evaluate_all("ths => ths.map(th => th.getBoundingClientRect().width)") == columns
            assert [page.locator(s).bounding_box()["width"] for s in ("#type-button", "#status-button", "#user", "#entity",
                                                                      "#range", "#reset", "#toolbar-actions button")] == before

        # The detail panel: a failure (its stack wrapped, the last line in view), a change, a webhook, a chain.
        # A link's panel opens only once the filters' vocabulary is read; it is held 0.8 s on every load from here,
        # so each view waits for the open panel itself (its title alone is empty, not "Loading", before it opens).
        page.add_init_script(VOCABULARY_HELD)
        for name, entry in examples.items():
            go(f"?range=all&entry={entry}")
            title = page.locator("#detail-title")
            expect()(page.locator("#detail:not([aria-busy])")).to_be_visible()
            expect()(title).not_to_have_text(re.compile("^(Loading|No such|The entry could not)"))
            related = page.get_by_role("region", name="Related")
            if name == "chain":  # the chain is read after the entry: every box below is measured with it in
                expect()(related).to_be_visible()
            panel = box(page, "#detail")
            assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width
            no_sideways_scroll(page, "#detail-body")
            for element in page.locator("#detail-body *").all()[:400]:
                seen = element.bounding_box()
                if seen and seen["width"]:
                    assert seen["x"] + seen["width"] <= panel["x"] + panel["width"] + 0.5, f"{name}: spills out of the panel"
            facts = page.locator("#detail .facts").inner_text()
            assert "system (system)" not in facts and "took 0 s" not in facts, facts
            if name == "chain":  # the demo's Square sync chain was written under a W3C trace: one fact row shows it
                assert re.search(r"Trace\s+[0-9a-f]{32} · span [0-9a-f]{16}", facts), facts
            # An ISO instant is never broken mid-token: one line box each
            for lines in page.locator("#detail .facts .iso").evaluate_all("es => es.map(e => e.getClientRects().length)"):
                assert lines == 1, "an ISO timestamp wraps"
            # One style for links and buttons: the entity link is the action buttons' colour (it was browser blue)
            colours = page.evaluate("""() => [document.querySelector('#detail .entity-link'), document.querySelector('#detail .copy')]
                .map(e => e && getComputedStyle(e).color)""")
            assert colours[0] and colours[0] == colours[1], colours
            # An action's note says nothing until it has something to say: no empty amber bar (Retry pending)
            assert page.evaluate("""() => { const note = document.createElement('p'); note.className = 'notice action-note';
                document.getElementById('detail-actions').append(note); const height = note.getBoundingClientRect().height;
                note.remove(); return height; }""") == 0
            if name == "failure":
                stack = page.get_by_label("Stack trace")
                no_sideways_scroll(page, "#detail .stack")
                last = stack.evaluate("""pre => { const text = pre.firstChild; const range = document.createRange();
                    range.setStart(text, text.length - 1); range.setEnd(text, text.length); return range.getBoundingClientRect().right; }""")
                assert last <= box(page, "#detail .stack")["x"] + box(page, "#detail .stack")["width"], "the stack's last line is cut"
                # The JSON view of the whole entry, with Copy
                expect()(page.get_by_role("button", name="Copy JSON")).to_be_visible()
            if name == "chain":  # the chain as a timeline: each step its time, what (a link), who and status, inside the panel
                steps = related.get_by_role("listitem")
                for step in steps.all():
                    assert step.locator("time").count() == 1 and step.locator(".badge").count() == 1, step.inner_text()
                    inside = step.locator(".badge").bounding_box()
                    assert inside["x"] + inside["width"] <= panel["x"] + panel["width"], "a status badge spills out of the panel"
            if name == "webhook":  # the whole entry as JSON, opened: wrapped inside the panel
                page.get_by_text("The whole entry").click()
                expect()(page.get_by_label("The entry as JSON")).to_contain_text(f'"id": "{entry}"')
                no_sideways_scroll(page, "#detail .json-text")
            view(f"detail-{name}")
            if name == "chain":
                related.scroll_into_view_if_needed()
                page.screenshot(path=SCREENSHOTS / f"polish-detail-related-{width}.png")
            page.locator("#detail-close").click()

        # The loading skeleton while the first page is on its way (held here), then the empty state
        held, listing = [], re.compile(r"/activities\?")

        def hold(route):
            held.append(route)
        page.route(listing, hold)
        go("?user=nobody_at_all")
        expect()(page.locator("#skeleton")).to_be_visible()
        expect()(page.locator("#rows tr")).to_have_count(0)
        assert page.locator("#more").is_hidden()  # the skeleton sits right under the table's header, nothing between
        assert box(page, "#skeleton")["y"] - (box(page, "#entries")["y"] + box(page, "#entries")["height"]) < 24
        page.screenshot(path=SCREENSHOTS / f"polish-loading-{width}.png")
        for route in held:
            route.continue_()
        page.unroute(listing, hold)
        settled(page)
        expect()(page.locator("#skeleton")).to_be_hidden()
        expect()(page.locator("#empty")).to_be_visible()
        view("empty")
        go("?range=custom&from=2026-12-02T00:00:00.000Z&to=2026-12-01T00:00:00.000Z")
        problem = page.locator("#problem")
        expect()(problem).to_be_visible()
        expect()(problem).to_contain_text("From")
        assert page.get_by_role("button", name="Try again").is_hidden()
        view("error")

        # Sign-in (signed out)
        page.get_by_role("button", name="Sign out").click()
        expect()(page.locator("#signin")).to_be_visible()
        view("signin")
    finally:
        context.close()

    assert not errors, f"the page raised: {errors}"
    bad = {name: violations for name, violations in found.items() if violations}
    assert bad == {}, json.dumps(bad, indent=1)
