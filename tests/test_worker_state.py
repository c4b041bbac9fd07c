"""Every web process tells the same about the workers: once one of them has seen that no worker
answers, a POST to any of them shows the pending page at once instead of waiting RESULT_TIMEOUT."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.processes import HttpClient, post_duration, wait_until

WEB_PROCESSES = "4"
# Long enough that a POST which waits for its result is told apart from one that does not.
RESULT_TIMEOUT = 30
# An answer at once, on a busy machine: the read of the shared state, the send, the page.
AT_ONCE = 5
POSTS = 16
NO_WORKER = "No worker is answering"


def banner_seen_by_one_process(stack) -> None:
    """Reload the form on one kept-alive connection, so one gunicorn process, until it shows the banner."""
    one_connection = HttpClient(stack.base_url)
    wait_until(lambda: NO_WORKER in one_connection.get("/").text, timeout=30, interval=0.2, what="the banner")


def post_from_new_connections(stack, prefix: str) -> list:
    """POSTs from as many new connections at once, spread over the web processes by their accepts."""

    def submit(index):
        return HttpClient(stack.base_url).submit(f"{prefix}{index}", "dogs", timeout=RESULT_TIMEOUT + 30)

    with ThreadPoolExecutor(POSTS) as pool:
        return list(pool.map(submit, range(POSTS)))


def assert_all_pending_at_once(pages) -> None:
    assert [page.status_code for page in pages] == [200] * POSTS
    assert all("Pending" in page.text for page in pages)
    slowest = max(post_duration(page) for page in pages)
    assert slowest < AT_ONCE, f"a POST waited {slowest:.1f} s: its process did not know what another had seen"


@pytest.mark.parametrize("worker_at_first", [False, True], ids=["no-worker-yet", "worker-stopped"])
def test_what_one_web_process_saw_of_the_workers_every_other_one_knows(make_stack, worker_at_first, record_property):
    stack = make_stack(GUNICORN_WORKERS=WEB_PROCESSES, RESULT_TIMEOUT=str(RESULT_TIMEOUT))
    stack.start_web()
    if worker_at_first:
        worker = stack.start_worker()
        # The processes may still hold the "no worker" their first pages found, before the worker started,
        # and answer this POST pending at once: its page then reads the result the worker stores.
        browser = HttpClient(stack.base_url)
        assert "before es dogs" in browser.wait_until_recorded(browser.submit("before", "dogs"), timeout=30)
        worker.stop()
    banner_seen_by_one_process(stack)

    pages = post_from_new_connections(stack, "waiting")

    record_property("slowest_post_seconds", round(max(post_duration(page) for page in pages), 2))
    assert_all_pending_at_once(pages)
    stack.start_worker()
    stack.collect_all_results()
    expected = [f"waiting{index} es dogs" for index in range(POSTS)]
    if worker_at_first:
        expected.append("before es dogs")
    assert sorted(stack.results_lines()) == sorted(expected), "each written once when a worker came"
