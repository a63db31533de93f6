"""The local stack, started once per session as ``activitylog serve`` and driven over HTTP.

Each stack is a real subprocess (its own DynamoDB Local in memory, moto, free ports, a
temporary data folder with its own dev key), exactly what ``make dev`` runs; tests mint
tokens with that key and talk to it with plain HTTP.
"""

from __future__ import annotations

import pytest

from tests.support.page import CHROMIUM, CHROMIUM_ARGS, WIDE, reader
from tests.support.stack import DEMO_SEED, EXPORT_INLINE_ROWS, FIXTURE_TEMPLATE, start_stack, stop_stack


@pytest.fixture(scope="session")
def api_stack(tmp_path_factory):
    """template.yaml's stack with the demo organization seeded (DEMO_SEED entries over 30 days); expired
    entries are deleted within a second, as TTL does in AWS within days.

    Exports of more than EXPORT_INLINE_ROWS rows run in the background (the page's Export CSV shows both kinds).
    """
    # Failed webhook writes come back after 1 s, 2 s, 4 s … (not 10 s, …): the DLQ is reached in seconds.
    stack = start_stack(tmp_path_factory.mktemp("api-stack"), "--seed-count", str(DEMO_SEED), "--seed-days", "30",
                   "--parameter", "WebhookRetrySeconds=1", "--parameter", f"ExportInlineRows={EXPORT_INLINE_ROWS}",
                   "--ttl-sweep-seconds", "1", "--poll-seconds", "0.2")
    yield stack
    stop_stack(stack)
    assert stack.process.returncode == 0, stack.log.read_text()[-4000:]


@pytest.fixture(scope="session")
def sources_stack(tmp_path_factory):
    """The fixture template's stack: a scheduled function, an SQS consumer with a DLQ, and more."""
    stack = start_stack(tmp_path_factory.mktemp("sources-stack"), "--template", str(FIXTURE_TEMPLATE), "--no-seed", "--poll-seconds", "0.1")
    yield stack
    stop_stack(stack)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "the browser tests need Debian's chromium: apt-get install chromium (.ci/run does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, api_stack):
    """open_page(path, token=None, org=..., viewport=WIDE): a new tab (new session); signed in through make dev's #token= link."""
    contexts = []

    def open_(path: str = "/", *, org: str = "org_demo", token: str | None = "reader", viewport: dict = WIDE):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        if token == "reader":
            token = reader(api_stack, org)
        page.goto(api_stack.url + path + (f"#token={token}" if token else ""))
        return page

    yield open_
    for context in contexts:
        for page in context.pages:
            assert not page.errors, f"the page raised: {page.errors}"
        context.close()
