"""Two visitors in Chromium, each in a browser context of their own: neither sees the other's inputs."""

from playwright.sync_api import expect

from .chromium import new_page
from .test_browser import submit


def test_one_visitors_inputs_never_reach_another_visitor(make_stack, browser):
    stack = make_stack("rabbitmq")
    stack.start_worker()
    stack.start_web()
    alice, bob = new_page(browser), new_page(browser)

    submit(alice, stack.base_url, "alice-first", "alice-second")
    expect(alice.locator("#result")).to_have_text("alice-first es alice-second")
    alices_page = alice.url
    alices_status = alices_page + "status.json"
    submit(bob, stack.base_url, "bob-first", "bob-second")
    expect(bob.locator("#result")).to_have_text("bob-first es bob-second")

    # Each form page lists its own visitor's submission, and only that.
    alice.goto(stack.base_url + "/")
    bob.goto(stack.base_url + "/")
    expect(alice.locator("table.history tbody tr")).to_have_count(1)
    expect(alice.locator("table.history")).to_contain_text("alice-first")
    expect(bob.locator("table.history tbody tr")).to_have_count(1)
    assert "alice" not in bob.content()

    # Alice's submission's URL and its status.json answer Bob with a 404 that holds nothing of hers.
    page_answer = bob.goto(alices_page)
    assert page_answer is not None and page_answer.status == 404
    assert "alice" not in bob.content()
    status_answer = bob.request.get(alices_status)
    assert status_answer.status == 404 and "alice" not in status_answer.text()

    # Her own browser still opens both.
    own_answer = alice.goto(alices_page)
    assert own_answer is not None and own_answer.status == 200
    expect(alice.locator("#result")).to_have_text("alice-first es alice-second")
    assert alice.request.get(alices_status).json()["result"] == "alice-first es alice-second"
