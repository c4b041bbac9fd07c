"""RabbitMQ stopped and started under load, and the quorum queue type, against the local RabbitMQ."""

import threading
import time

import requests

from harness.external_services import existing_queue_depth, rabbitmq_stopped
from harness.processes import HttpClient, post_duration, wait_until

BROKER_UNAVAILABLE = "The message broker is unavailable"
# "Within a few seconds": the broker connection timeout is 2 s and the publish retries are bounded.
UNAVAILABLE_WITHIN = 5


class Load:
    """Clients that keep submitting through the form, each one after the other, and note every answer."""

    def __init__(self, base_url: str, clients: int = 3):
        self.base_url = base_url
        self.answers: list[tuple[str, int | str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(client,)) for client in range(clients)]

    def _run(self, client: int):
        browser = HttpClient(self.base_url)
        count = 0
        while not self._stop.is_set():
            first = f"load{client}x{count}"
            count += 1
            try:
                page = browser.submit(first, "cats")
            except requests.RequestException as exc:
                self.answers.append((first, f"{type(exc).__name__}: {exc}"))
                continue
            self.answers.append((first, page.status_code))
            time.sleep(0.1)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def statuses(self) -> set:
        return {status for _, status in self.answers}

    def accepted(self) -> list[str]:
        return [first for first, status in self.answers if status == 200]


def test_a_rabbitmq_restart_under_load_gives_503_then_recovers_and_loses_nothing(make_stack, record_property):
    stack = make_stack(RESULT_TIMEOUT="2")
    worker = stack.start_worker()
    stack.start_web()
    browser = HttpClient(stack.base_url)

    with Load(stack.base_url) as load:
        wait_until(lambda: len(load.accepted()) >= 3, timeout=30, what="submissions before the outage")
        with rabbitmq_stopped():
            refused = browser.submit("while", "down")
            refused_within = post_duration(refused)
            wait_until(lambda: 503 in load.statuses(), timeout=20, what="the load seeing the outage")
        accepted_before = len(load.accepted())
        after = wait_until(
            lambda: (page := browser.submit("after", "restart")).status_code == 200 and page,
            timeout=60,
            interval=1,
            what="a submission accepted after the restart",
        )
        wait_until(lambda: len(load.accepted()) > accepted_before, timeout=30, what="the load going on")

    record_property("seconds_to_503", round(refused_within, 2))
    assert refused.status_code == 503
    assert BROKER_UNAVAILABLE in refused.text
    assert refused_within < UNAVAILABLE_WITHIN, f"503 after {refused_within:.1f} s"
    assert load.statuses() <= {200, 503}, f"only done/pending pages and 503s: {load.statuses()}"
    assert "after es restart" in browser.wait_until_recorded(after, timeout=30)

    # Every accepted submission completes, each written once; nothing refused was sent.
    collected = stack.collect_all_results()
    assert "failed: 0" in collected
    rows = stack.submissions()
    saved = sorted(row["first"] for row in rows)
    assert saved == sorted([*load.accepted(), "after"])
    assert sorted(stack.results_lines()) == sorted(f"{first} es {second}" for first, second, *_ in rows)
    assert "while es down" not in worker.log()
    worker.check_running()


def test_the_quorum_queue_setting_declares_a_quorum_queue_and_the_flow_works(make_stack):
    stack = make_stack(CELERY_TASK_DEFAULT_QUEUE_TYPE="quorum")
    worker = stack.start_worker()
    stack.start_web()

    page = HttpClient(stack.base_url).submit("quorum", "cats")

    assert "quorum es cats" in page.text
    assert stack.results_lines() == ["quorum es cats"]
    queue = existing_queue_depth(stack.queue)
    assert queue.type == "quorum"
    assert '{"x-queue-type","quorum"}' in queue.arguments
    # Quorum queues have no global QoS; Celery detects the queue type and uses per-consumer prefetch.
    assert "Global QoS is disabled" in worker.log()
