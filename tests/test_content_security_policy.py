"""The Content-Security-Policy on every page, and the pages, the admin's included, working under it in Chromium."""

import pytest
import requests
from playwright.sync_api import expect

from .chromium import new_page

POLICY = "default-src 'self'"
ADMIN_PASSWORD = "csp-admin-password"


@pytest.fixture(scope="module")
def stack_without_worker(make_module_stack):
    stack = make_module_stack(
        "rabbitmq", RESULT_TIMEOUT="1", HEALTH_CACHE_SECONDS="1", DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD
    )
    stack.start_web()
    created = stack.manage("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com")
    assert created.returncode == 0, created.stderr
    return stack


def watch_for_violations(page) -> list[str]:
    """Every Content-Security-Policy violation Chromium reports on the page, as it reports them."""
    violations: list[str] = []

    def keep_violation(message):
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", keep_violation)
    return violations


@pytest.mark.parametrize("path", ["/", "/healthz", "/admin/login/", "/no-such-page/", "/static/submissions/status.js"])
def test_every_answer_carries_the_policy(stack_without_worker, path):
    response = requests.get(stack_without_worker.base_url + path, timeout=30)

    assert POLICY in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_admin_works_under_the_policy(stack_without_worker, browser):
    stack = stack_without_worker
    page = new_page(browser)
    violations = watch_for_violations(page)

    page.goto(stack.base_url + "/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto(stack.base_url + "/admin/submissions/submission/")
    expect(page.locator("#changelist")).to_be_visible()
    page.goto(stack.base_url + "/admin/auth/user/1/change/")
    expect(page.locator("#user_form")).to_be_visible()

    assert violations == []


def test_a_pending_page_turns_to_done_under_the_policy(stack_without_worker, browser):
    stack = stack_without_worker
    page = new_page(browser)
    violations = watch_for_violations(page)

    page.goto(stack.base_url + "/")
    page.get_by_label("First text").fill("strict")
    page.get_by_label("Second text").fill("policy")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/submissions/*/")
    expect(page.locator("#status")).to_have_text("Pending")
    worker = stack.start_worker()
    try:
        expect(page.locator("#result")).to_have_text("strict es policy")
    finally:
        worker.stop()

    assert violations == []
