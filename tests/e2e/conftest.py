"""The local stack, started once per session as ``activitylog serve`` and driven over HTTP.

Each stack is a real subprocess (its own DynamoDB Local in memory, moto, free ports, a
temporary data folder with its own dev key), exactly what ``make dev`` runs; tests mint
tokens with that key and talk to it with plain HTTP.
"""

from __future__ import annotations

import pytest

from tests.support.page import CHROMIUM, CHROMIUM_ARGS, WIDE, reader
from tests.support.stack import FIXTURE_TEMPLATE, api_stack, provider_api, start_stack, stop_stack  # noqa: F401 - the fixtures (the fuzz tier starts its own stack)


@pytest.fixture(scope="session")  # once per worker, as api_stack (tests/support/stack.py)
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
    """open_page(path, token=None, org=..., viewport=WIDE, **context): a new tab (new session) signed in through
    make dev's #token= link; ``context``: more of Playwright's new_context options (timezone_id, …)."""
    contexts = []

    def open_(path: str = "/", *, org: str = "org_demo", token: str | None = "reader", viewport: dict = WIDE, **options):
        context = browser.new_context(viewport=viewport, **options)
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
