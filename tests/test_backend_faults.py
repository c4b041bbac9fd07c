"""Redis, the result backend, stopped and started: clear pages meanwhile, recovery without restarts.

The machine's Redis serves others, so the test runs a redis-server of its own.
"""

import signal
import threading

import pytest
import redis

from harness.processes import HttpClient, PrivateRedis, post_duration, wait_until

BACKEND_UNAVAILABLE = "The result store is unavailable"


@pytest.fixture
def private_redis(tmp_path):
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


def test_a_redis_restart_gives_clear_pages_and_both_projects_recover_by_themselves(
    make_stack, private_redis, record_property
):
    stack = make_stack(RESULT_TIMEOUT="2", CELERY_RESULT_BACKEND=private_redis.url)
    worker = stack.start_worker()
    web = stack.start_web()
    browser = HttpClient(stack.base_url)
    before = browser.submit("before", "outage")
    assert "before es outage" in before.text

    private_redis.stop()
    during = browser.submit("during", "outage")
    detail = browser.get(browser.path_of(before))
    form = browser.get("/")

    record_property("seconds_to_answer_with_redis_down", round(post_duration(during), 2))
    # Celery's result drainer checks the deadline between waits of up to a second.
    assert post_duration(during) <= 2 + 2, "an answer within the deadline plus a second or two, not a hang"
    # Refused with nothing sent, or sent and pending (the web app's result channel was
    # already open): both are clear pages, and a pending one must complete later.
    if during.status_code == 503:
        assert BACKEND_UNAVAILABLE in during.text
        expected = ["before es outage", "after es restart"]
    else:
        assert during.status_code == 200 and "Pending" in during.text
        expected = ["before es outage", "during es outage", "after es restart"]
    assert detail.status_code == 200 and "before es outage" in detail.text, "recorded results stay readable"
    assert form.status_code == 200

    private_redis.start()
    after = wait_until(
        lambda: "after es restart" in (page := browser.submit("after", "restart")).text and page,
        timeout=30,
        interval=1,
        what="a submission done again after Redis came back",
    )
    if during.status_code == 200:
        # The worker kept retrying to store the result until Redis was back.
        assert "during es outage" in browser.wait_until_recorded(during, timeout=30)

    assert after.status_code == 200
    # A try of "after" answered while Redis was coming back may have been sent and left pending:
    # it completes like any other, once.
    stack.collect_all_results()
    rows = stack.submissions()
    assert {row["status"] for row in rows} == {"done"}
    assert sorted(stack.results_lines()) == sorted(f"{row['first']} es {row['second']}" for row in rows)
    assert set(expected) <= set(stack.results_lines())
    worker.check_running()
    web.check_running()


def test_redis_stopped_while_a_result_is_awaited_leaves_the_web_process_serving_results_once_it_is_back(
    make_stack, private_redis
):
    """Under gevent, Celery reads the result channel in a greenlet that ends for good when its reconnects
    give up while a result is awaited; the web process must not stay without results after Redis is back."""
    # One gevent process, so that every submission goes to the process whose reader ended; the workers'
    # state checked once, so that the paused worker is never found silent and a POST never skips its wait.
    stack = make_stack(
        RESULT_TIMEOUT="3", CELERY_RESULT_BACKEND=private_redis.url, GUNICORN_WORKERS="1", HEALTH_CACHE_SECONDS="600"
    )
    worker = stack.start_worker()
    web = stack.start_web()
    browser = HttpClient(stack.base_url)
    assert "before es outage" in browser.submit("before", "outage").text

    # A submission awaited on the result channel (the worker paused) when Redis stops.
    worker.signal(signal.SIGSTOP)
    visitor = HttpClient(stack.base_url)
    pages: list = []
    awaited = threading.Thread(target=lambda: pages.append(visitor.submit("awaited", "outage")))
    awaited.start()
    try:
        with redis.Redis.from_url(private_redis.url, socket_timeout=5) as client:
            wait_until(
                lambda: any(count for _, count in client.pubsub_numsub(*client.pubsub_channels())),
                timeout=10,
                interval=0.05,
                what="the awaited submission's result channel subscribed",
            )
        private_redis.stop()
        awaited.join(timeout=30)
        wait_until(
            lambda: "Retry limit exceeded" in web.log(), timeout=10, what="Celery's result channel reader giving up"
        )
    finally:
        worker.signal(signal.SIGCONT)
    assert not awaited.is_alive() and pages, "the awaited submission answered"
    assert pages[0].status_code == 200 and "Pending" in pages[0].text

    private_redis.start()
    # The worker stores the awaited result once Redis is back; its page reads it from Redis.
    assert "awaited es outage" in visitor.wait_until_recorded(pages[0], timeout=30)

    # The next submission's page must come from the web process's own wait on the result channel: the
    # worker, paused, answers only after that wait has begun, too late for the page to read it instead.
    worker.signal(signal.SIGSTOP)
    after_pages: list = []
    after = threading.Thread(target=lambda: after_pages.append(browser.submit("after", "restart")))
    after.start()
    try:
        after.join(timeout=1.5)
    finally:
        worker.signal(signal.SIGCONT)
    after.join(timeout=30)
    assert after_pages, "the submission after the restart answered"
    assert "after es restart" in after_pages[0].text, "answered with its result, by the same process"
    stack.collect_all_results()
    rows = stack.submissions()
    assert {row["status"] for row in rows} == {"done"}
    assert sorted(stack.results_lines()) == sorted(f"{row['first']} es {row['second']}" for row in rows)
    web.check_running()


class FullRedis:
    """Redis at its client limit: the limit lowered to one client, this one, every other cut off, so
    that each connection anyone makes is refused with "max number of clients reached"."""

    def __init__(self, url: str):
        self.url = url
        self.admin: redis.Redis | None = None

    def fill(self) -> None:
        # A connection of its own, made now: the one client the limit leaves.
        self.admin = redis.Redis.from_url(self.url, single_connection_client=True, socket_timeout=5)
        self.admin.config_set("maxclients", 1)
        own = self.admin.client_id()
        for client in self.admin.client_list():
            if int(client["id"]) != own:
                self.admin.client_kill_filter(_id=client["id"])

    def release(self) -> None:
        if self.admin is not None:
            self.admin.config_set("maxclients", 10000)
            self.admin.close()
            self.admin = None


def test_a_redis_that_refuses_connections_gives_clear_pages_and_the_site_recovers_by_itself(
    make_stack, private_redis, record_property
):
    stack = make_stack(RESULT_TIMEOUT="2", CELERY_RESULT_BACKEND=private_redis.url)
    worker = stack.start_worker()
    web = stack.start_web()
    browser = HttpClient(stack.base_url)
    assert "before es limit" in browser.submit("before", "limit").text
    full = FullRedis(private_redis.url)

    full.fill()
    try:
        during = [browser.submit(f"during{index}", "limit") for index in range(3)]
        form = browser.get("/")
    finally:
        full.release()

    record_property("seconds_to_answer_with_redis_full", max(round(post_duration(page), 2) for page in during))
    # As with a restart: refused with nothing sent, or (the first, on a channel that looked open) sent
    # and pending, to complete once Redis takes connections again.
    refused = [page for page in during if page.status_code == 503]
    assert refused, "a submission while Redis refuses connections is refused"
    assert all(BACKEND_UNAVAILABLE in page.text for page in refused)
    assert all("Pending" in page.text for page in during if page.status_code != 503)
    assert all(post_duration(page) <= 2 + 2 for page in during), "an answer within the deadline, not a hang"
    assert form.status_code == 200
    after = wait_until(
        lambda: "after es limit" in (page := browser.submit("after", "limit")).text and page,
        timeout=30,
        interval=1,
        what="a submission done again once Redis took connections again",
    )
    assert after.status_code == 200
    stack.collect_all_results()
    rows = stack.submissions()
    kept = [row for row in rows if row["first"].startswith("during")]
    assert len(kept) == len(during) - len(refused), "nothing of a refused submission was kept"
    assert {row["status"] for row in rows} == {"done"}
    assert sorted(stack.results_lines()) == sorted(f"{row['first']} es {row['second']}" for row in rows)
    worker.check_running()
    web.check_running()
