"""Take the README's screenshots with the real processes and Chromium.

.venv/bin/python -m tests.screenshots [folder]     # default docs/screenshots
"""

import sys
import tempfile
from pathlib import Path

from harness.external_services import reachable
from harness.processes import RABBITMQ_URL, REDIS_URL, REPO_DIR, wait_until

from .chromium import chromium, new_page
from .conftest import StackFactory

PAIRS = [("cats", "dogs"), ("red", "blue"), ("hello", "world"), ("Zaragoza", "Madrid")]
DESKTOP = {"viewport": {"width": 1100, "height": 760}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2}


def submit(page, stack, first, second):
    page.goto(stack.base_url + "/")
    page.get_by_label("First text").fill(first)
    page.get_by_label("Second text").fill(second)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/submissions/*/")


def take(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    transport = "rabbitmq" if reachable(RABBITMQ_URL) and reachable(REDIS_URL) else "embedded"
    stacks = StackFactory(Path(tempfile.mkdtemp(prefix="screenshots-")))
    stack = stacks(transport, RESULT_TIMEOUT="1", HEALTH_CACHE_SECONDS="1")
    try:
        worker = stack.start_worker()
        stack.start_web()
        with chromium() as browser:
            page = new_page(browser, **DESKTOP)
            for first, second in PAIRS:
                submit(page, stack, first, second)
            page.locator("#result").wait_for()
            page.screenshot(path=folder / "finished-submission.png", full_page=True)
            page.goto(stack.base_url + "/")
            page.screenshot(path=folder / "form-with-history.png", full_page=True)

            phone = new_page(browser, **PHONE)
            phone.goto(stack.base_url + "/")
            phone.screenshot(path=folder / "form-on-a-phone.png", full_page=True)

            worker.stop()

            def banner_shown():
                page.reload()
                return page.locator("#no-worker-banner").count() == 1

            wait_until(banner_shown, timeout=20, interval=0.5, what="the no-worker banner")
            submit(page, stack, "late", "cats")
            wait_until(lambda: "s" in page.locator("#waited").inner_text(), timeout=10, what="waiting time")
            page.wait_for_timeout(3000)
            page.screenshot(path=folder / "pending-submission.png", full_page=True)
    finally:
        stacks.close()


if __name__ == "__main__":
    take(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_DIR / "docs" / "screenshots")
