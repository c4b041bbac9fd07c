"""No submission left behind: the collector records late results with nobody looking, sends lost
tasks again, finishes recordings a crash interrupted; a full disk is a 503 with a link."""

import json
import os
import shutil
import signal
import subprocess
import uuid

import pytest
import redis
import requests
from kombu import Connection

from harness.external_services import amqp_channel, unavailable
from harness.processes import RABBITMQ_URL, REDIS_URL, HttpClient, submit_concurrently, wait_until

# Short enough that a submission with no worker answers pending at once.
RESULT_TIMEOUT = "1"
FAST_COLLECTOR = {"COLLECT_INTERVAL": "0.3", "RESULT_TIMEOUT": RESULT_TIMEOUT}


def redis_client():
    return redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def result_key(task_id: str) -> str:
    """The Redis key of a task's result; the database keeps the id without its dashes."""
    return f"celery-task-meta-{uuid.UUID(str(task_id))}"


def purge(queue: str) -> int:
    with Connection(RABBITMQ_URL, connect_timeout=5) as connection:
        return amqp_channel(connection).queue_purge(queue) or 0


def only_row(stack):
    (row,) = stack.submissions()
    return row


def test_a_user_who_leaves_still_gets_the_line_without_any_page_being_visited(make_stack):
    stack = make_stack(**FAST_COLLECTOR)
    stack.start_web()
    collectors = [stack.start_collector(), stack.start_collector()]
    pairs = [(f"left{index}", "dogs") for index in range(8)]

    pages = submit_concurrently(stack.base_url, pairs, clients=4)
    assert all(page.status_code == 200 and "Pending" in page.text for page in pages)

    # Nobody looks at the pages again; the worker starts.
    stack.start_worker()
    # Each line is appended before its "done" is committed: wait for the rows.
    wait_until(
        lambda: [row["status"] for row in stack.submissions()] == ["done"] * len(pairs),
        timeout=60,
        what="every submission recorded",
    )

    assert sorted(stack.results_lines()) == sorted(f"{first} es {second}" for first, second in pairs)
    rows = stack.submissions()
    assert {row["status"] for row in rows} == {"done"}
    log = "".join(collector.log() for collector in collectors)
    assert log.count("written to the results file") == len(pairs), "one log line per recorded result"
    client = redis_client()
    assert not any(client.exists(result_key(row["task_id"])) for row in rows), "recorded results leave Redis"


def test_the_collector_stops_cleanly_on_sigterm(make_stack):
    stack = make_stack(**FAST_COLLECTOR)
    stack.start_web()
    collector = stack.start_collector()

    collector.signal(signal.SIGTERM)
    collector.popen.wait(timeout=10)

    assert collector.popen.returncode == 0
    assert "Collector stopped" in collector.log()


def test_a_result_gone_from_redis_before_it_was_recorded_is_sent_again_and_completes(make_stack):
    stack = make_stack(STALE_PENDING_SECONDS="2", **FAST_COLLECTOR)
    stack.start_web()
    page = HttpClient(stack.base_url).submit("cats", "dogs")
    assert "Pending" in page.text
    task_id = only_row(stack)["task_id"]
    worker = stack.start_worker()
    client = redis_client()
    wait_until(lambda: client.exists(result_key(task_id)), timeout=30, what="the result stored")

    # Redis restarted without persistence, or the key was evicted, before anyone recorded it.
    client.delete(result_key(task_id))
    collector = stack.start_collector()
    wait_until(lambda: only_row(stack)["status"] == "done", timeout=60, what="the result recorded")

    assert stack.results_lines() == ["cats es dogs"]
    row = only_row(stack)
    assert (row["status"], row["resends"]) == ("done", 1)
    assert "Sent submission" in collector.log()
    # The worker logs a success after it stored the result, so the log may lag the record.
    wait_until(lambda: worker.log().count(" succeeded in ") >= 2, timeout=30, what="the task ran again")
    assert worker.log().count(" succeeded in ") == 2, "the task ran again under its own id, once"


def test_a_task_lost_every_time_fails_with_its_reason_and_a_late_result_still_counts(make_stack):
    stack = make_stack(STALE_PENDING_SECONDS="1", STALE_PENDING_MAX_RESENDS="2", **FAST_COLLECTOR)
    stack.start_web()
    browser = HttpClient(stack.base_url)
    page = browser.submit("cats", "dogs")
    stack.start_collector()

    # No worker, and every message the queue gets is lost (a broker that keeps nothing, say).
    def given_up():
        purge(stack.queue)
        return only_row(stack)["status"] == "failed"

    wait_until(given_up, timeout=60, interval=0.2, what="the submission given up")
    row = only_row(stack)
    assert row["error"] == "The result was lost; sent again 2 times."
    detail = browser.get(browser.path_of(page))
    assert "The result was lost; sent again 2 times." in detail.text
    assert json.loads(browser.get(browser.path_of(page) + "status.json").text)["status"] == "failed"
    assert stack.results_lines() == []

    # One of the copies was running after all: its result comes late.
    meta = {
        "status": "SUCCESS",
        "result": "cats es dogs",
        "task_id": str(uuid.UUID(str(row["task_id"]))),
        "date_done": None,
    }
    redis_client().set(result_key(row["task_id"]), json.dumps(meta))
    # The line is appended before "done" is committed: wait for the row.
    wait_until(lambda: only_row(stack)["status"] == "done", timeout=30, what="the late result recorded")

    assert stack.results_lines() == ["cats es dogs"]
    assert (only_row(stack)["status"], only_row(stack)["error"]) == ("done", "")


@pytest.mark.parametrize("fault_point", ["before-append", "after-append", "after-commit"])
def test_a_recorder_killed_at_any_point_leaves_the_line_written_once(make_stack, fault_point):
    stack = make_stack(RESULT_TIMEOUT=RESULT_TIMEOUT)
    stack.start_web()
    assert "Pending" in HttpClient(stack.base_url).submit("cats", "dogs").text
    task_id = only_row(stack)["task_id"]
    stack.start_worker()
    wait_until(lambda: redis_client().exists(result_key(task_id)), timeout=30, what="the result stored")

    killed = stack.manage("collect_results", env={**stack.env, "RECORD_FAULT_POINT": fault_point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    again = stack.manage("collect_results")
    assert again.returncode == 0, again.stderr
    stack.manage("collect_results")

    assert stack.results_lines() == ["cats es dogs"]
    assert only_row(stack)["status"] == "done"


@pytest.mark.parametrize("fault_point", ["before-append", "after-append"])
def test_on_hosts_of_their_own_a_web_server_killed_mid_recording_finishes_its_line_in_its_own_file(
    make_stack, fault_point
):
    """Each host (RESULTS_HOST) writes a results file of its own: a line in doubt is finished by the
    host that claimed it, when its process is restarted, and never written on another host."""
    stack = make_stack(RESULTS_HOST="web-a", GUNICORN_WORKERS="1")
    web_a_file = stack.results_file
    stack.start_worker()
    web = stack.start_web(env={**stack.env, "RECORD_FAULT_POINT": fault_point})

    with pytest.raises(requests.ConnectionError):
        HttpClient(stack.base_url).submit("cats", "dogs")
    web.wait_for_log(f"RECORD_FAULT_POINT={fault_point}: killing this process", what="the recorder killed")
    # gunicorn starts another process, which finishes what the killed one left before it serves.
    wait_until(lambda: only_row(stack)["status"] == "done", timeout=30, what="the line in doubt finished")
    other_host = {**stack.env, "RESULTS_HOST": "collector", "RESULTS_DIR": str(stack.root / "collector-results")}
    swept = stack.manage("collect_results", env=other_host)

    assert swept.returncode == 0, swept.stderr
    assert web_a_file.read_text() == "cats es dogs\n"
    assert not (stack.root / "collector-results" / "results.txt").exists()
    web.check_running()


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs, and a way to fill it up and free it again (root only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        unavailable("root", "the full disk is a tmpfs mounted for the test")
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)], check=True, timeout=30)
    filler = mount_point / "filler"

    class Disk:
        path = mount_point

        def fill(self):
            with open(filler, "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError:
                    pass

        def free(self):
            filler.unlink()

    yield Disk()
    subprocess.run(["umount", "-l", str(mount_point)], check=False, timeout=30)


def test_a_full_disk_is_a_503_with_a_link_and_every_line_is_written_once_after_space_is_freed(make_stack, small_disk):
    # One web process, so that the worker state /healthz finds is the one every POST reads.
    stack = make_stack(RESULTS_DIR=str(small_disk.path / "results"), GUNICORN_WORKERS="1", **FAST_COLLECTOR)
    (small_disk.path / "results").mkdir()
    # A line that fills its page of the tmpfs exactly, so that the next byte needs a page of its own.
    earlier = "earlier es " + "x" * (4096 - len("earlier es ") - 1)
    (small_disk.path / "results" / "results.txt").write_text(earlier + "\n")
    stack.start_web()
    stack.start_worker()
    stack.start_collector()
    # Once the web app knows a worker answers, a POST waits for its result and records it itself.
    client = HttpClient(stack.base_url)
    wait_until(lambda: client.get("/healthz").json()["workers"]["up"], timeout=30, what="a worker known")
    small_disk.fill()

    pages = submit_concurrently(stack.base_url, [(f"full{index}", "disk") for index in range(4)], clients=4)

    for page in pages:
        assert page.status_code == 503
        assert "could not be written to the results file" in page.text
        assert 'href="/submissions/' in page.text
    assert {row["status"] for row in stack.submissions()} == {"pending"}
    assert (small_disk.path / "results" / "results.txt").read_text() == earlier + "\n", "no part of a line"

    small_disk.free()
    # Each line is appended before its "done" is committed: wait for the rows.
    wait_until(
        lambda: {row["status"] for row in stack.submissions()} == {"done"},
        timeout=30,
        what="every submission recorded once there is room",
    )
    assert sorted(stack.results_lines()) == sorted([earlier] + [f"full{index} es disk" for index in range(4)])
    assert {row["status"] for row in stack.submissions()} == {"done"}


def test_every_page_answers_head(make_stack):
    stack = make_stack(RESULT_TIMEOUT="5")
    stack.start_worker()
    stack.start_web()
    browser = HttpClient(stack.base_url)
    page = browser.submit("cats", "dogs")
    detail = browser.path_of(page)

    for path in ["/", detail, detail + "status.json", "/healthz", "/admin/login/"]:
        response = browser.session.head(stack.base_url + path, timeout=30)
        assert response.status_code == 200, path
        assert response.content == b"", path
