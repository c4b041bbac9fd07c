"""In Chromium, with no worker or no broker: the pending page at once, the banner that clears, one message per fault."""

from playwright.sync_api import expect

from harness.processes import free_port, wait_until

from .chromium import new_page

NO_WORKER = "No worker is answering right now"


def open_form_until_the_banner_shows(page, base_url):
    """The worker state is asked in the background on a first visit; reload until it is known."""

    def banner_shown():
        page.goto(base_url + "/")
        return page.locator("#no-worker-banner").count() == 1

    wait_until(banner_shown, timeout=30, interval=0.5, what="the no-worker banner")


def submit(page, first, second):
    page.get_by_label("First text").fill(first)
    page.get_by_label("Second text").fill(second)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/submissions/*/")


def test_with_no_worker_submit_answers_with_the_pending_page_and_the_banner_clears_when_the_result_comes(
    make_stack, browser
):
    # A wait of RESULT_TIMEOUT would outlast Playwright's 30 s for the page: only an answer at once passes.
    # One gunicorn process, so that the process that shows the banner is the one that takes the post.
    stack = make_stack("rabbitmq", RESULT_TIMEOUT="300", GUNICORN_WORKERS="1")
    stack.start_web()
    page = new_page(browser)
    open_form_until_the_banner_shows(page, stack.base_url)

    submit(page, "late", "cats")

    expect(page.locator("#status")).to_have_text("Pending")
    expect(page.locator("#no-worker-banner")).to_contain_text(
        "No worker is answering right now; this submission waits until one starts."
    )
    page.evaluate("window.stillTheSamePage = true")

    stack.start_worker()

    expect(page.locator("#result")).to_have_text("late es cats")
    expect(page.locator("#no-worker-banner")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True

    page.get_by_role("link", name="Send another").click()
    expect(page.get_by_role("button", name="Submit")).to_be_visible()
    expect(page.locator("#no-worker-banner")).to_have_count(0)
    expect(page.locator("table.history tbody tr").first).to_contain_text("late es cats")
    assert stack.results_lines() == ["late es cats"]


def test_with_the_broker_down_the_refusal_is_the_only_message(make_stack, browser):
    nothing_listens = f"amqp://django:django@127.0.0.1:{free_port()}/rabbit"
    stack = make_stack("rabbitmq", CELERY_BROKER_URL=nothing_listens, GUNICORN_WORKERS="1")
    stack.start_web()
    page = new_page(browser)
    open_form_until_the_banner_shows(page, stack.base_url)

    page.get_by_label("First text").fill("cats")
    page.get_by_label("Second text").fill("dogs")
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Submit").click()

    assert posted.value.status == 503
    expect(page.get_by_role("alert")).to_have_text(
        "The message broker is unavailable, so nothing was sent. Please try again in a moment."
    )
    expect(page.locator("#no-worker-banner")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("wait until one starts")
    expect(page.get_by_label("First text")).to_have_value("cats")
    assert stack.submissions() == []
