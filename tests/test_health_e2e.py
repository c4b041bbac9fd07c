"""/healthz against real processes: each part reported up, and down when it is stopped or unreachable.

The public answer says up or down alone; why a part is down is in the web process's log.
"""

import socket
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from harness.processes import free_port, submit_concurrently


def health_of(stack) -> tuple[int, dict]:
    response = requests.get(stack.base_url + "/healthz", timeout=30)
    assert response.headers["Content-Type"] == "application/json"
    return response.status_code, response.json()


PARTS = ("broker", "result_backend", "workers", "results_file")


def up_and_down(body) -> dict:
    return {part: body[part]["up"] for part in PARTS}


def assert_public(body: dict, *secrets: str):
    """Each part says up or down and nothing else: none of the secrets, no host, no worker."""
    assert {part: set(body[part]) for part in PARTS} == {part: {"up"} for part in PARTS}, body
    for secret in (*secrets, socket.gethostname(), "celery@", "Error"):
        assert secret not in str(body), f"{secret!r} in the public answer"


@pytest.mark.parametrize("transport", ["rabbitmq", "embedded"])
def test_all_up_is_200_and_names_the_worker(make_stack, transport):
    stack = make_stack(transport)
    stack.start_worker()
    stack.start_web()

    status, body = health_of(stack)

    assert status == 200, body
    assert body["status"] == "ok"
    assert up_and_down(body) == {"broker": True, "result_backend": True, "workers": True, "results_file": True}, body
    assert_public(body, stack.queue, str(stack.root))


@pytest.mark.parametrize("transport", ["rabbitmq", "embedded"])
def test_a_stopped_worker_is_503_with_the_workers_down(make_stack, transport):
    stack = make_stack(transport, HEALTH_CACHE_SECONDS="0")
    worker = stack.start_worker()
    web = stack.start_web()
    assert health_of(stack)[0] == 200

    worker.stop()
    status, body = health_of(stack)

    assert status == 503, body
    assert body["status"] == "unavailable"
    assert up_and_down(body) == {"broker": True, "result_backend": True, "workers": False, "results_file": True}, body
    assert_public(body, stack.queue)
    web.wait_for_log(f"Health: workers down: no worker answered for queue {stack.queue!r}", what="why, logged")


def test_another_queue_s_worker_does_not_count(make_stack):
    ours = make_stack("rabbitmq")
    theirs = make_stack("rabbitmq")
    theirs.start_worker()
    ours.start_web()

    status, body = health_of(ours)

    assert status == 503, body
    assert body["workers"]["up"] is False


def test_an_unreachable_broker_is_503_with_the_broker_down(make_stack):
    stack = make_stack("rabbitmq", CELERY_BROKER_URL=f"amqp://django:django@127.0.0.1:{free_port()}/rabbit")
    web = stack.start_web()

    status, body = health_of(stack)

    assert status == 503, body
    assert up_and_down(body) == {"broker": False, "result_backend": True, "workers": False, "results_file": True}, body
    assert_public(body, "Connection refused", "127.0.0.1", "django:django")
    web.wait_for_log("Health: broker down: ", what="why, logged")
    assert "Connection refused" in web.log()
    assert "django:django" not in web.log(), "no credentials in the log"


def test_an_unreachable_result_backend_is_503_with_the_backend_down(make_stack):
    stack = make_stack("rabbitmq")
    stack.start_worker()
    web = stack.start_web(env={**stack.env, "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:{free_port()}/0"})

    status, body = health_of(stack)

    assert status == 503, body
    assert up_and_down(body) == {"broker": True, "result_backend": False, "workers": True, "results_file": True}, body
    assert_public(body, "Connection refused", "127.0.0.1")
    web.wait_for_log("Health: result_backend down: ", what="why, logged")
    assert "Connection refused" in web.log()


def test_the_form_page_stays_up_with_the_broker_unreachable(make_stack):
    stack = make_stack("rabbitmq", CELERY_BROKER_URL=f"amqp://django:django@127.0.0.1:{free_port()}/rabbit")
    stack.start_web()

    page = requests.get(stack.base_url + "/", timeout=30)

    assert page.status_code == 200
    assert 'name="first"' in page.text


def test_each_part_reports_only_whether_it_is_up(make_stack):
    stack = make_stack("embedded")
    stack.start_web()

    _, body = health_of(stack)

    assert_public(body, str(stack.root))


def test_a_healthy_answer_does_not_wait_out_the_broadcast_timeout(make_stack):
    # With a long HEALTH_TIMEOUT a broadcast that waited for it would take 20 s; the first
    # reply of a worker of our queue ends it.
    stack = make_stack("rabbitmq", HEALTH_TIMEOUT="20", HEALTH_CACHE_SECONDS="0")
    stack.start_worker()
    stack.start_web()

    response = requests.get(stack.base_url + "/healthz", timeout=60)

    assert response.status_code == 200, response.text
    assert response.elapsed.total_seconds() < 20


def test_a_results_folder_that_cannot_be_made_is_503_with_the_results_file_down(make_stack):
    stack = make_stack("embedded")
    blocker = stack.root / "a-file"
    blocker.write_text("not a folder")
    stack.start_worker()
    web = stack.start_web(env={**stack.env, "RESULTS_DIR": str(blocker / "results")})

    status, body = health_of(stack)

    assert status == 503, body
    assert up_and_down(body) == {"broker": True, "result_backend": True, "workers": True, "results_file": False}
    assert_public(body, str(stack.root), "a-file")
    web.wait_for_log(f"Health: results_file down: {blocker} is not a folder", what="why, logged")


def test_a_disk_under_the_free_space_floor_is_503_with_the_results_file_down(make_stack):
    stack = make_stack("embedded", RESULTS_MIN_FREE_MB=str(2**40))
    stack.start_worker()
    web = stack.start_web()

    status, body = health_of(stack)

    assert status == 503, body
    assert body["results_file"]["up"] is False
    assert_public(body, str(stack.root))
    web.wait_for_log("MB free beside", what="why, logged")


BURSTS = 5
BURST_SIZE = 40
SUBMISSIONS = 12


def gunicorn_thread_counts(web) -> dict[int, int]:
    """Threads of each gunicorn worker process, by process id."""
    return {child.pid: child.num_threads() for child in psutil.Process(web.popen.pid).children()}


@pytest.mark.parametrize("worker_class", ["gevent", "gthread"])
def test_bursts_of_concurrent_healthz_leave_submissions_completing_and_threads_flat(make_stack, worker_class):
    # HEALTH_CACHE_SECONDS=0: every call wants a fresh answer, the most a caller can ask of the checks.
    # With gthread, one process of 16 threads, fewer than a burst, so that its thread pool is full
    # and any thread beyond it is one the checks started (with two processes, one may take too few
    # of a burst's connections to fill its pool, which then grows later).
    threads_per_process = 16
    stack = make_stack(
        "rabbitmq",
        HEALTH_CACHE_SECONDS="0",
        RESULT_TIMEOUT="10",
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS=str(threads_per_process),
        GUNICORN_WORKER_CLASS=worker_class,
    )
    stack.start_worker()
    web = stack.start_web()

    def burst():
        with ThreadPoolExecutor(BURST_SIZE) as pool:
            return list(
                pool.map(lambda _: requests.get(stack.base_url + "/healthz", timeout=30).status_code, range(BURST_SIZE))
            )

    pairs = [(f"burst{index}", "dogs") for index in range(SUBMISSIONS)]
    first_statuses = burst()
    with ThreadPoolExecutor(2) as pool:
        submitting = pool.submit(submit_concurrently, stack.base_url, pairs, 4)
        statuses = [status for _ in range(BURSTS) for status in burst()]
        pages = submitting.result(timeout=120)
    after_bursts = gunicorn_thread_counts(web)
    more_statuses = burst()
    after_more = gunicorn_thread_counts(web)

    assert set(first_statuses + statuses + more_statuses) == {200}, "every /healthz answered, the worker up"
    assert [getattr(page, "status_code", page) for page in pages] == [200] * SUBMISSIONS
    assert all("es dogs" in page.text for page in pages), "each submission completed within its wait"
    assert sorted(stack.results_lines()) == sorted(f"{first} es dogs" for first, _ in pairs)
    for pid, count in after_more.items():
        # The request threads, the main thread, and one health check's thread at most.
        assert count <= threads_per_process + 2, f"process {pid} has {count} threads"
        assert count <= after_bursts[pid] + 1, f"process {pid} went from {after_bursts[pid]} to {count} threads"
