"""A web process gives back what each request takes: under gevent, hundreds of submissions leave its
Redis connections, its database connections and its open files where they were.

Celery and Django keep a result backend and a database connection per thread,
which gevent makes one per greenlet, that is one per request; a web process
that kept them would hold two more Redis connections after every submission
until Redis refused everyone.
"""

import time

import pytest

from harness.processes import REDIS_URL, submit_concurrently, wait_until
from harness.resources import Holdings, gunicorn_workers, holdings, redis_clients, redis_port

WARM_UP = 80
SUBMISSIONS = 400
CLIENTS = 8
# What a process may hold more after the run than after the warm-up: connections its pools
# open for a moment of higher concurrency, and clients' kept-alive sockets not yet closed.
MAX_MORE_REDIS_CONNECTIONS = 4
MAX_MORE_OPEN_FILES = 24


def submit_all(stack, prefix: str, count: int) -> None:
    pairs = [(f"{prefix}{index}", "dogs") for index in range(count)]
    pages = submit_concurrently(stack.base_url, pairs, clients=CLIENTS)
    answered = [getattr(page, "status_code", page) for page in pages]
    assert answered == [200] * count, "every submission answered"
    without_result = [
        first for page, (first, _) in zip(pages, pairs, strict=True) if f"{first} es dogs" not in page.text
    ]
    # What the web processes said of the result store and of the workers' health.
    warnings = [
        line
        for process in stack.processes
        for line in process.log().splitlines()
        if "stays pending" in line or "Health:" in line
    ]
    assert not without_result, (
        f"{len(without_result)} answered without their result, such as {without_result[:3]}: {warnings[:3]}"
    )


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_hundreds_of_submissions_leave_a_gevent_web_process_holding_what_it_held(make_stack, database, record_property):
    stack = make_stack(database=database, GUNICORN_WORKER_CLASS="gevent", GUNICORN_WORKERS="2")
    stack.start_worker()
    web = stack.start_web()
    workers = gunicorn_workers(web.popen.pid)
    assert len(workers) == 2
    port = redis_port(REDIS_URL)
    submit_all(stack, "warm", WARM_UP)
    before = holdings(workers, port)
    clients_before = redis_clients(REDIS_URL)

    submit_all(stack, "run", SUBMISSIONS)

    def settled() -> Holdings | None:
        now = holdings(workers, port)
        bounded = (
            now.redis_connections <= before.redis_connections + MAX_MORE_REDIS_CONNECTIONS
            and now.open_files <= before.open_files + MAX_MORE_OPEN_FILES
        )
        return now if bounded else None

    started = time.monotonic()
    try:
        after = wait_until(
            settled, timeout=10, interval=0.5, what="the web processes' holdings back near the warm-up's"
        )
    except TimeoutError:
        after = holdings(workers, port)
        pytest.fail(f"{SUBMISSIONS} submissions took the web processes from {before} to {after}")
    record_property("holdings_after_warm_up", str(before))
    record_property("holdings_after_run", str(after))
    record_property("seconds_to_settle", round(time.monotonic() - started, 1))
    assert redis_clients(REDIS_URL) <= clients_before + MAX_MORE_REDIS_CONNECTIONS, "Redis's own count agrees"
    assert len(stack.results_lines()) == WARM_UP + SUBMISSIONS
