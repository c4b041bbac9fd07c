"""What a user sees, in Debian's Chromium: the form, the history, a submission's live page."""

import re

from playwright.sync_api import expect

from harness.processes import wait_until

from .chromium import new_page

TOOK = re.compile(r"^\d+ ms$|^\d+(\.\d\d)? s$|^\d+ min \d+ s$")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def submit(page, base_url, first, second):
    page.goto(base_url + "/")
    page.get_by_label("First text").fill(first)
    page.get_by_label("Second text").fill(second)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/submissions/*/")


def reload_until(page, condition, what, timeout=20):
    """Reload the page until condition() holds; the worker state is cached for a few seconds."""

    def holds():
        page.reload()
        return condition()

    return wait_until(holds, timeout=timeout, interval=0.5, what=what)


def test_a_submission_shows_its_result_and_tops_the_history(make_stack, browser):
    stack = make_stack("rabbitmq")
    stack.start_worker()
    stack.start_web()
    page = new_page(browser)

    submit(page, stack.base_url, "cats", "dogs")

    expect(page.locator("#result")).to_have_text("cats es dogs")
    expect(page.locator("#status")).to_have_text("Done")
    expect(page.get_by_text("Written to the results file.")).to_be_visible()
    assert stack.results_lines() == ["cats es dogs"]

    submit(page, stack.base_url, "birds", "fish")
    page.goto(stack.base_url + "/")

    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("birds es fish")
    expect(rows.nth(0).locator(".status")).to_have_text("Done")
    expect(rows.nth(0).locator('td[data-label="Took"]')).to_have_text(TOOK)
    expect(rows.nth(1)).to_contain_text("cats es dogs")
    expect(page.locator("#no-worker-banner")).to_have_count(0)
    rows.nth(1).get_by_role("link", name="cats es dogs").click()
    expect(page.locator("#result")).to_have_text("cats es dogs")


def test_a_pending_page_turns_to_done_by_itself_when_a_worker_starts(make_stack, browser):
    stack = make_stack("rabbitmq", RESULT_TIMEOUT="1", HEALTH_CACHE_SECONDS="1")
    worker = stack.start_worker()
    stack.start_web()
    page = new_page(browser)
    page.goto(stack.base_url + "/")
    expect(page.locator("#no-worker-banner")).to_have_count(0)

    worker.stop()
    reload_until(page, lambda: page.locator("#no-worker-banner").count() == 1, "the no-worker banner")
    expect(page.locator("#no-worker-banner")).to_contain_text("No worker is answering")

    submit(page, stack.base_url, "late", "cats")
    expect(page.locator("#status")).to_have_text("Pending")
    expect(page.locator("#status-message")).to_contain_text("Waiting for a worker for")
    first_wait = page.locator("#waited").inner_text()
    expect(page.locator("#waited")).not_to_have_text(first_wait)  # the wait counts up in place
    assert stack.results_lines() == []
    # A full reload would lose this; the page must change in place, by its script.
    page.evaluate("window.stillTheSamePage = true")

    stack.start_worker()

    expect(page.locator("#status")).to_have_text("Done")
    expect(page.locator("#result")).to_have_text("late es cats")
    expect(page.locator("#status-message")).to_have_text("Written to the results file.")
    expect(page.locator("#took")).not_to_be_empty()
    assert page.evaluate("window.stillTheSamePage") is True
    assert stack.results_lines() == ["late es cats"]

    page.reload()
    expect(page.locator("#result")).to_have_text("late es cats")
    assert stack.results_lines() == ["late es cats"], "written exactly once"
    page.goto(stack.base_url + "/")
    reload_until(page, lambda: page.locator("#no-worker-banner").count() == 0, "the banner gone")


def test_without_javascript_a_pending_page_reloads_until_done(make_stack, browser):
    stack = make_stack("rabbitmq", RESULT_TIMEOUT="1")
    stack.start_web()
    page = new_page(browser, java_script_enabled=False)

    submit(page, stack.base_url, "plain", "html")
    expect(page.locator("#status")).to_have_text("Pending")

    stack.start_worker()

    expect(page.locator("#result")).to_have_text("plain es html")
    expect(page.get_by_text("Written to the results file.")).to_be_visible()
    assert stack.results_lines() == ["plain es html"]


def test_the_pages_fit_a_phone_screen(make_stack, browser):
    stack = make_stack("rabbitmq")
    stack.start_worker()
    stack.start_web()
    page = new_page(browser, **PHONE)
    submit(page, stack.base_url, "a rather long first text to wrap", "and a second one")
    expect(page.locator("#result")).to_have_text("a rather long first text to wrap es and a second one")

    detail_path = page.url[len(stack.base_url) :]
    page.goto(stack.base_url + "/")
    expect(page.get_by_label("First text")).to_be_visible()
    expect(page.locator("table.history thead")).to_be_hidden()  # rows turn into labelled cards

    for path in ("/", detail_path):
        page.goto(stack.base_url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
