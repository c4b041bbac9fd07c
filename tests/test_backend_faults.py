"""Redis, the result backend, stopped and started: clear pages meanwhile, recovery without restarts.

The machine's Redis serves others, so the test runs a redis-server of its own.
"""

import pytest

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
