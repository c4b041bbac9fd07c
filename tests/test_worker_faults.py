"""Workers that are down, killed mid-flight, or several: no submission is lost or written twice."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.external_services import queue_depth
from harness.processes import REPO_DIR, HttpClient, post_duration, submit_concurrently, wait_until

RESULT_TIMEOUT = 2


def expected_lines(pairs):
    return sorted(f"{first} es {second}" for first, second in pairs)


def assert_each_line_once(stack, pairs):
    lines = stack.results_lines()
    assert sorted(lines) == expected_lines(pairs), "every result written, none twice"
    assert {row["status"] for row in stack.submissions()} == {"done"}


def test_with_no_worker_submissions_answer_pending_in_time_and_complete_later(make_stack):
    stack = make_stack(RESULT_TIMEOUT=str(RESULT_TIMEOUT))
    stack.start_web()
    pairs = [(f"down{index}", "cats") for index in range(6)]

    with ThreadPoolExecutor(1) as background:
        waiting = background.submit(submit_concurrently, stack.base_url, pairs, len(pairs))
        time.sleep(0.5)
        # Every submission is now waiting for a worker; the form must not wait behind them.
        form = HttpClient(stack.base_url).get("/")
        pages = waiting.result(timeout=60)

    assert form.status_code == 200
    assert form.elapsed.total_seconds() < RESULT_TIMEOUT, "the form page is not stuck behind waiting requests"
    for page in pages:
        assert page.status_code == 200
        assert "Pending" in page.text
        # Celery's result drainer checks the deadline between waits of up to a second.
        assert post_duration(page) <= RESULT_TIMEOUT + 2, "a pending page within the deadline plus a second or two"
    assert stack.results_lines() == []

    worker = stack.start_worker()
    wait_until(
        lambda: worker.log().count(" succeeded in ") >= len(pairs),
        timeout=30,
        what="the worker running every queued task",
    )
    browser = HttpClient(stack.base_url)
    by_page, by_command = pages[:3], pages[3:]
    for page in by_page:
        assert "es cats" in browser.wait_until_recorded(page)

    collected = stack.manage("collect_results")
    assert collected.returncode == 0, collected.stderr
    assert "done: 3, failed: 0, still pending: 0" in collected.stdout

    for page in by_command:
        assert "es cats" in browser.revisit(page).text
    assert_each_line_once(stack, pairs)

    again = stack.manage("collect_results")
    assert "done: 0, failed: 0, still pending: 0" in again.stdout
    assert_each_line_once(stack, pairs)


def stopped_pool(worker) -> int:
    """Freeze the worker's only pool process, so that tasks pile up queued and reserved."""
    [pool] = worker.pool_processes()
    os.kill(pool, signal.SIGSTOP)
    return pool


def test_a_pool_process_killed_with_a_task_in_hand_loses_no_task(make_stack):
    stack = make_stack(RESULT_TIMEOUT="1")
    worker = stack.start_worker("--concurrency", "1")
    stack.start_web()
    pool = stopped_pool(worker)
    try:
        pairs = [(f"pool{index}", "dogs") for index in range(6)]
        pages = submit_concurrently(stack.base_url, pairs)
        assert all("Pending" in page.text for page in pages)
        depth = wait_until(
            lambda: (depth := queue_depth(stack.queue)) and depth.unacknowledged and depth,
            timeout=10,
            what="a task reserved by the worker",
        )
        assert depth.total == len(pairs), "every task is at the broker: queued or reserved"
    finally:
        os.kill(pool, signal.SIGKILL)

    browser = HttpClient(stack.base_url)
    for page in pages:
        assert "es dogs" in browser.wait_until_recorded(page)
    worker.check_running()
    assert f"pid:{pool} exited with 'signal 9 (SIGKILL)'" in worker.log()
    assert pool not in worker.pool_processes(), "the worker replaced its killed pool process"
    assert_each_line_once(stack, pairs)


def test_a_whole_worker_killed_with_tasks_reserved_loses_no_task(make_stack):
    stack = make_stack(RESULT_TIMEOUT="1")
    # Prefetch 4: the worker holds several tasks unacknowledged when it dies.
    worker = stack.start_worker("--concurrency", "1", env={**stack.env, "CELERY_WORKER_PREFETCH_MULTIPLIER": "4"})
    stack.start_web()
    stopped_pool(worker)
    pairs = [(f"whole{index}", "fish") for index in range(8)]
    pages = submit_concurrently(stack.base_url, pairs)
    assert all("Pending" in page.text for page in pages)
    reserved = wait_until(
        lambda: (depth := queue_depth(stack.queue)) and depth.unacknowledged == 4 and depth,
        timeout=10,
        what="four tasks reserved by the worker",
    )
    assert reserved.ready == 4

    worker.signal(signal.SIGKILL)
    worker.popen.wait(timeout=10)
    given_back = wait_until(
        lambda: (depth := queue_depth(stack.queue)) and depth.unacknowledged == 0 and depth,
        timeout=10,
        what="the broker taking the reserved tasks back",
    )
    assert given_back.ready == len(pairs), "no task lost with the worker"

    stack.start_worker()
    browser = HttpClient(stack.base_url)
    for page in pages:
        assert "es fish" in browser.wait_until_recorded(page)
    assert_each_line_once(stack, pairs)


def test_two_workers_on_one_queue_share_the_load_and_each_result_is_written_once(make_stack):
    stack = make_stack()
    workers = [stack.start_worker("--concurrency", "1", "-n", f"{stack.queue}-{name}@%h") for name in ("one", "two")]
    stack.start_web()
    pairs = [(f"shared{index}", "birds") for index in range(16)]

    pages = submit_concurrently(stack.base_url, pairs)

    assert all(page.status_code == 200 for page in pages)
    browser = HttpClient(stack.base_url)
    for page in pages:
        browser.wait_until_recorded(page)
    done_by = [worker.log().count(" succeeded in ") for worker in workers]
    assert all(done_by), f"both workers took tasks: {done_by}"
    assert sum(done_by) == len(pairs)
    assert_each_line_once(stack, pairs)


CRASHING_INPUT = "crash"


@pytest.mark.parametrize("transport", ["rabbitmq", "embedded"])
def test_a_task_that_kills_its_pool_process_fails_after_three_crashes_and_the_rest_are_served(make_stack, transport):
    stack = make_stack(transport, RESULT_TIMEOUT="1")
    python_path = os.pathsep.join(filter(None, [str(REPO_DIR), stack.env.get("PYTHONPATH")]))
    worker = stack.start_worker(
        "--concurrency",
        "1",
        "--include",
        "harness.crashing_inputs",
        env={**stack.env, "PYTHONPATH": python_path, "E2E_CRASHING_INPUT": CRASHING_INPUT},
    )
    stack.start_web()
    crasher = HttpClient(stack.base_url)
    crashing = crasher.submit(CRASHING_INPUT, "cats")
    pairs = [(f"served{index}", "dogs") for index in range(4)]
    pages = submit_concurrently(stack.base_url, pairs)

    browser = HttpClient(stack.base_url)
    for page in pages:
        assert "es dogs" in browser.wait_until_recorded(page)
    failed = crasher.wait_until_recorded(crashing, timeout=60)

    assert "the task crashed its worker 3 times; it is not run again" in failed
    [row] = [row for row in stack.submissions() if row["first"] == CRASHING_INPUT]
    assert row["status"] == "failed"
    assert row["error"] == "CrashedItsWorker: the task crashed its worker 3 times; it is not run again"
    assert worker.log().count("exited with 'signal 9 (SIGKILL)'") == 3, "three runs, each killing its pool process"
    worker.check_running()
    assert sorted(stack.results_lines()) == expected_lines(pairs)
    assert {row["status"] for row in stack.submissions() if row["first"] != CRASHING_INPUT} == {"done"}
    if transport == "rabbitmq":
        depth = wait_until(
            lambda: (depth := queue_depth(stack.queue)) and depth.total == 0 and depth,
            timeout=10,
            what="the queue empty",
        )
        assert depth.total == 0, "the queue keeps no message of the crashing task"
    collected = stack.manage("collect_results")
    assert "done: 0, failed: 0, still pending: 0" in collected.stdout, "nothing left for the collector to send again"
