"""The page tier's pieces: Debian's Chromium, the viewports, a reader's token, and waiting for the listing.
The browser and ``open_page`` fixtures are in tests/e2e/conftest.py."""

from __future__ import annotations

import re
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (.ci/run installs it); Playwright downloads no browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WIDE, NARROW = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


def reader(stack, org: str, **kwargs) -> str:
    return stack.token(org, "u_17", scopes=["read"], name="Riley Park", **kwargs)


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def settled(page) -> None:
    """The listing under way has answered (rows, the empty state or an error)."""
    expect()(page.locator("#list-status")).to_have_text(re.compile(r"^(Showing|No entries)"))
