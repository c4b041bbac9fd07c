"""The whole flow with real processes: form → send_task → worker → result → results file."""
import pytest


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("transport", ["rabbitmq", "embedded"])
def test_a_submission_shows_the_joined_string_and_appends_it(make_stack, browser_for, transport, database):
    stack = make_stack(transport, database)
    stack.start_worker()
    stack.start_web()
    browser = browser_for(stack.base_url)

    page = browser.submit("cats", "dogs")

    assert page.status_code == 200
    assert page.history and page.history[0].status_code == 302, "POST/redirect/GET"
    assert "/submissions/" in page.url
    assert "cats es dogs" in page.text
    assert stack.results_lines() == ["cats es dogs"]

    second = browser.submit("birds", "fish")
    assert "birds es fish" in second.text
    assert stack.results_lines() == ["cats es dogs", "birds es fish"], "appended, never truncated"

    reloaded = browser.get(browser.path_of(page))
    assert "cats es dogs" in reloaded.text
    assert stack.results_lines() == ["cats es dogs", "birds es fish"], "a reload sends nothing again"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_pending_submission_completes_once_a_worker_starts(make_stack, browser_for, database):
    stack = make_stack("rabbitmq", database, RESULT_TIMEOUT="1")
    stack.start_web()
    browser = browser_for(stack.base_url)

    page = browser.submit("late", "cats")

    assert page.status_code == 200
    assert "Pending" in page.text
    assert stack.results_lines() == []

    stack.start_worker()
    done = browser.wait_until_recorded(page)
    assert "late es cats" in done
    assert "Done" in done
    browser.get(browser.path_of(page))
    assert stack.results_lines() == ["late es cats"], "written exactly once"
