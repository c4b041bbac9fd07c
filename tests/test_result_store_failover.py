"""The result store replicated under Redis Sentinel, its primary SIGKILLed under load: clear pages meanwhile,
every process following the promoted replica by itself, every result written once.

A primary, a replica and three sentinels of the test's own (redis-server), with the real gunicorn,
worker, collector and RabbitMQ. The result backend, the shared health state and the rate limit's cache
all reach Redis through the sentinels.
"""

import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import pytest
import requests

from harness.external_services import require_program
from harness.processes import HttpClient, RedisUnderSentinel, post_duration, wait_until

RESULT_TIMEOUT = 3
CLIENTS = 4
# The longest the site may take to answer a submission with its result again after the kill.
RECOVERY_TIMEOUT = 60
BACKEND_UNAVAILABLE = "The result store is unavailable"


@pytest.fixture
def redis_under_sentinel(tmp_path):
    require_program("redis-server", "redis-server (Redis and Sentinel)")
    replicated = RedisUnderSentinel(tmp_path / "redis")
    try:
        yield replicated.start()
    finally:
        replicated.stop()


@dataclass
class Answer:
    """One submission of the load: what was posted, when, and the page it got (or the error)."""

    first: str
    started: float
    finished: float
    page: requests.Response | None = None
    error: str = ""

    @property
    def with_result(self) -> bool:
        return self.page is not None and self.page.status_code == 200 and f"{self.first} es failover" in self.page.text


def submit_until(base_url: str, client: int, stop: threading.Event, answers: list[Answer]) -> None:
    """Submit one after the other, each with a name of its own, until told to stop."""
    browser = HttpClient(base_url)
    number = 0
    while not stop.is_set():
        first = f"load{client}x{number}"
        number += 1
        started = time.monotonic()
        try:
            page = browser.submit(first, "failover")
            answers.append(Answer(first, started, time.monotonic(), page=page))
        except requests.RequestException as exc:
            answers.append(Answer(first, started, time.monotonic(), error=repr(exc)))


def result_store_health(base_url: str) -> tuple[float, int, bool]:
    """When /healthz answered, its status, and whether it reported the result store up."""
    response = requests.get(base_url + "/healthz", timeout=30)
    return time.monotonic(), response.status_code, response.json()["result_backend"]["up"]


def test_the_redis_primary_killed_under_load_is_followed_to_the_promoted_replica_with_no_restart(
    make_stack, redis_under_sentinel, record_property
):
    replicated = redis_under_sentinel
    stack = make_stack(
        CELERY_RESULT_BACKEND=replicated.url(0),
        CACHE_URL=replicated.url(1),
        REDIS_SENTINEL_MASTER=replicated.master_name,
        RESULT_TIMEOUT=str(RESULT_TIMEOUT),
        # /healthz checks again after a fifth of a second: it sees the window with no primary.
        HEALTH_CACHE_SECONDS="0.2",
        # A result only the dead primary held is found missing and its task sent again within the test.
        STALE_PENDING_SECONDS="3",
        COLLECT_INTERVAL="0.5",
        # On, and far above the load, so that every submission counts in the cache under Sentinel.
        SUBMISSIONS_RATE="100000/m",
    )
    worker = stack.start_worker()
    web = stack.start_web()
    collector = stack.start_collector()
    processes = (worker, web, collector)
    pids_before = {process.name: (process.popen.pid, process.pool_processes()) for process in processes}
    browser = HttpClient(stack.base_url)

    # 1. Before the fault, submissions are answered with their result.
    for number in range(3):
        first = f"before{number}"
        assert f"{first} es failover" in browser.submit(first, "failover").text
    assert result_store_health(stack.base_url)[2] is True

    # A result the primary alone will hold, that nobody waits for: its submission's page gave up (the worker
    # was paused), and the collector is paused until the primary is dead.
    worker.signal(signal.SIGSTOP)
    lost_page = browser.submit("lost", "failover")
    assert lost_page.status_code == 200 and "Pending" in lost_page.text
    lost_task_id = next(uuid.UUID(str(row["task_id"])) for row in stack.submissions() if row["first"] == "lost")
    lost_key = f"celery-task-meta-{lost_task_id}"
    collector.signal(signal.SIGSTOP)
    replicated.cut_replication()

    # 2. The primary SIGKILLed while clients submit.
    stop = threading.Event()
    answers: list[Answer] = []
    clients = [
        threading.Thread(target=submit_until, args=(stack.base_url, client, stop, answers)) for client in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    health = []
    try:
        worker.signal(signal.SIGCONT)
        with replicated.client(replicated.primary.port) as primary:
            wait_until(lambda: primary.exists(lost_key), timeout=30, what="the lost result stored on the primary")
        with replicated.client(replicated.replica.port) as replica:
            assert not replica.exists(lost_key), "the lost result is on the primary alone"
        wait_until(lambda: len([a for a in answers if a.with_result]) >= 4, timeout=30, what="the load answered")
        killed_at = time.monotonic()
        replicated.kill_primary()
        collector.signal(signal.SIGCONT)
        # /healthz, polled from the kill on, until it has said the result store is down and up again.
        deadline = killed_at + RECOVERY_TIMEOUT
        while time.monotonic() < deadline:
            health.append(result_store_health(stack.base_url))
            seen_down = any(not up for _, _, up in health)
            if seen_down and health[-1][2] and health[-1][1] == 200:
                break
            time.sleep(0.05)
        healthz_up_again_seconds = time.monotonic() - killed_at
        replicated.wait_for_promotion(timeout=RECOVERY_TIMEOUT)
        # The first submission made after the kill that is answered with its result.
        recovered = wait_until(
            lambda: min(
                (answer for answer in list(answers) if answer.started > killed_at and answer.with_result),
                key=lambda answer: answer.finished,
                default=None,
            ),
            timeout=max(deadline - time.monotonic(), 1),
            interval=0.1,
            what="a submission answered with its result after the kill",
        )
    finally:
        for paused in (worker, collector):
            paused.signal(signal.SIGCONT)
        stop.set()
        for client in clients:
            client.join(timeout=60)
    seconds_to_result = recovered.finished - killed_at
    print(f"\nRedis primary SIGKILLed: a submission answered with its result again after {seconds_to_result:.2f} s")
    record_property("seconds_to_a_result_after_the_primary_was_killed", round(seconds_to_result, 2))
    record_property("seconds_until_healthz_reported_the_result_store_up_again", round(healthz_up_again_seconds, 2))

    down = [moment - killed_at for moment, status, up in health if not up]
    assert down, f"/healthz reported the result store down at least once after the kill: {health}"
    assert all(status == 503 for _, status, up in health if not up)
    assert health[-1][1] == 200 and health[-1][2], "/healthz reports the result store up again after the promotion"
    assert seconds_to_result < RECOVERY_TIMEOUT

    # Clear pages meanwhile: a result, a pending page, or a 503 naming the result store; never a 500 or a hang.
    assert not [answer for answer in answers if answer.error], [answer.error for answer in answers if answer.error]
    pages = [answer.page for answer in answers if answer.page is not None]
    assert all(page.status_code in (200, 503) for page in pages), Counter(page.status_code for page in pages)
    assert all(BACKEND_UNAVAILABLE in page.text for page in pages if page.status_code == 503)
    assert all("Pending" in page.text or "es failover" in page.text for page in pages if page.status_code == 200)
    slowest = max(post_duration(page) for page in pages)
    record_property("slowest_answer_seconds", round(slowest, 2))
    assert slowest < RESULT_TIMEOUT + 10, "every answer within the deadline and the bounded reconnects, not a hang"

    # The rate limit's cache follows the primary too: a submission counts on the promoted replica.
    with replicated.client(replicated.replica.port, db=1) as cache:
        cache.flushdb()
        assert "after es failover" in browser.submit("after", "failover").text
        assert cache.dbsize() > 0, "the rate limit counted on the new primary"

    # 3. Once the collector has settled everything, each accepted submission is done and written once.
    stack.collect_all_results(timeout=60)
    rows = stack.submissions()
    lost = next(row for row in rows if row["first"] == "lost")
    assert lost["status"] == "done" and lost["resends"] >= 1, "the lost result's task was sent again and done"
    assert {row["status"] for row in rows} == {"done"}, Counter(row["status"] for row in rows)
    lines = stack.results_lines()
    assert Counter(lines).most_common(1)[0][1] == 1, "no line written twice"
    assert sorted(lines) == sorted(f"{row['first']} es {row['second']}" for row in rows)
    refused = {answer.first for answer in answers if answer.page is not None and answer.page.status_code == 503}
    assert not refused & {row["first"] for row in rows}, "nothing of a refused submission was kept"
    resent = sum(row["resends"] for row in rows)
    record_property("submissions_sent_again", resent)
    print(f"{len(rows)} submissions done, {len(refused)} refused with a 503, {resent} sent again after the failover")

    # No process was restarted: the same pids, the web's and the worker's children included.
    for process in processes:
        process.check_running()
    assert {process.name: (process.popen.pid, process.pool_processes()) for process in processes} == pids_before
