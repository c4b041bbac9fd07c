"""What an operator does to a running site: rotate the results file, restart RabbitMQ with
submissions queued, stop the web server while submissions wait, lock the database for a while.
Each submission's line is written once, no old line is rewritten, and no page is a 500."""

import signal
import sqlite3
import threading
import time
from contextlib import closing

from harness.external_services import rabbitmq_stopped
from harness.processes import HttpClient, post_duration, submit_concurrently, wait_until

WAITING = 8


def test_a_rotated_or_truncated_results_file_gets_each_new_line_once_and_keeps_the_old_ones(make_stack):
    stack = make_stack()
    stack.start_worker()
    stack.start_web()
    stack.start_collector()
    browser = HttpClient(stack.base_url)
    assert "one es dogs" in browser.submit("one", "dogs").text

    rotated = stack.results_file.with_name("results.txt.1")
    stack.results_file.rename(rotated)
    assert "two es dogs" in browser.submit("two", "dogs").text
    assert "three es dogs" in browser.submit("three", "dogs").text
    assert stack.results_lines() == ["two es dogs", "three es dogs"], "the new file gets the new lines only"

    copied = stack.results_file.with_name("results.txt.2")
    copied.write_bytes(stack.results_file.read_bytes())
    stack.results_file.write_bytes(b"")  # logrotate's copytruncate
    assert "four es dogs" in browser.submit("four", "dogs").text
    stack.collect_all_results()
    time.sleep(3)  # a collector sweep or two after the last line, which must not rewrite any

    assert stack.results_lines() == ["four es dogs"]
    assert rotated.read_text(encoding="utf-8").splitlines() == ["one es dogs"], "the rotated file is left alone"
    assert copied.read_text(encoding="utf-8").splitlines() == ["two es dogs", "three es dogs"]
    assert {row["status"] for row in stack.submissions()} == {"done"}


def test_rabbitmq_restarted_with_submissions_queued_loses_none_and_writes_each_once(make_stack):
    stack = make_stack(RESULT_TIMEOUT="1")
    stack.start_web()
    pages = submit_concurrently(stack.base_url, [(f"queued{index}", "dogs") for index in range(WAITING)])
    assert all(page.status_code == 200 and "Pending" in page.text for page in pages), "pending: no worker yet"

    with rabbitmq_stopped():
        pass

    stack.start_worker()
    stack.collect_all_results(timeout=90)
    assert sorted(stack.results_lines()) == sorted(f"queued{index} es dogs" for index in range(WAITING))


def test_the_web_server_stopped_while_submissions_wait_answers_each_and_loses_none(make_stack):
    stack = make_stack(RESULT_TIMEOUT="3")
    worker = stack.start_worker()
    web = stack.start_web()
    assert "before es dogs" in HttpClient(stack.base_url).submit("before", "dogs").text
    # A worker that takes no task while the web server stops: the submissions wait for their results.
    worker.signal(signal.SIGSTOP)
    answers: list = []
    submitting = threading.Thread(
        target=lambda: answers.extend(
            submit_concurrently(stack.base_url, [(f"waiting{index}", "dogs") for index in range(WAITING)])
        )
    )
    submitting.start()
    wait_until(lambda: len(stack.submissions()) == 1 + WAITING, timeout=30, what="every submission saved and sent")

    web.stop(timeout=30)  # SIGTERM: gunicorn lets the requests in hand finish
    submitting.join(60)
    worker.signal(signal.SIGCONT)

    assert [getattr(page, "status_code", page) for page in answers] == [200] * WAITING, "each answered, no 500"
    assert all("Pending" in page.text for page in answers)
    stack.start_web()
    stack.collect_all_results()
    expected = ["before es dogs", *(f"waiting{index} es dogs" for index in range(WAITING))]
    assert sorted(stack.results_lines()) == sorted(expected)


# The SQLite busy timeout of the settings, which a write waits at most, and a result's wait.
SQLITE_TIMEOUT = 20
RESULT_TIMEOUT = 5
LOCKED_SECONDS = 12


def test_the_database_write_locked_by_another_process_for_12_s_gives_200_or_503_in_time(make_stack):
    stack = make_stack(RESULT_TIMEOUT=str(RESULT_TIMEOUT))
    stack.start_worker()
    stack.start_web()
    assert "before es dogs" in HttpClient(stack.base_url).submit("before", "dogs").text
    database = stack.root / "web.sqlite3"

    with closing(sqlite3.connect(database, timeout=5, isolation_level=None)) as other_process:
        other_process.execute("BEGIN IMMEDIATE")
        answers: list = []
        submitting = threading.Thread(
            target=lambda: answers.extend(
                submit_concurrently(stack.base_url, [(f"locked{index}", "dogs") for index in range(4)], clients=4)
            )
        )
        submitting.start()
        time.sleep(LOCKED_SECONDS)
        other_process.execute("COMMIT")
    submitting.join(SQLITE_TIMEOUT + RESULT_TIMEOUT + 30)

    statuses = [getattr(page, "status_code", page) for page in answers]
    assert len(statuses) == 4 and set(statuses) <= {200, 503}, statuses
    slowest = max(post_duration(page) for page in answers)
    assert slowest <= SQLITE_TIMEOUT + RESULT_TIMEOUT + 5, f"a POST took {slowest:.1f} s"
    stack.collect_all_results()
    rows = stack.submissions()
    assert {row["status"] for row in rows} == {"done"}
    assert sorted(stack.results_lines()) == sorted(f"{row['first']} es {row['second']}" for row in rows)
    accepted = [page for page in answers if page.status_code == 200]
    assert len(rows) == 1 + len(accepted), "a refused submission left nothing behind"
