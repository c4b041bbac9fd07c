"""Debian's Chromium driven by Playwright; with CI=true a missing Chromium fails the run."""

import os
import shutil
from contextlib import contextmanager

from harness.external_services import unavailable

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Milliseconds Playwright waits for a page, a click or an element before failing.
ACTION_TIMEOUT_MS = 30_000


def require_chromium():
    """Skip (or, with CI=true, fail) when Debian's Chromium is not installed."""
    if os.access(CHROMIUM_PATH, os.X_OK) or shutil.which(CHROMIUM_PATH):
        return
    unavailable("Chromium", f"not installed at {CHROMIUM_PATH} (apt-get install chromium)")


@contextmanager
def chromium():
    """A running headless Chromium; closed on leaving the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, timeout=ACTION_TIMEOUT_MS
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, **context_options):
    """A page in a fresh context (its own cookies), with bounded waits."""
    page = browser.new_context(**context_options).new_page()
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    return page
