"""The health checks against the test settings' embedded broker and backend, with no worker running.

The states with a worker running, and with RabbitMQ or Redis unreachable, are
proven end to end in tests/test_health_e2e.py with real processes.
"""

import contextlib
import socket
import threading
import time

import pytest

from submissions import health


def closed_port_url() -> str:
    """An AMQP URL on a local port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"amqp://guest:guest@127.0.0.1:{port}//"


@pytest.fixture(autouse=True)
def fresh_health_checks(monkeypatch):
    """Each test starts with no answer in this process, nor a shared one."""
    monkeypatch.setattr(health, "health_checks", health.SingleFlight(health.check_and_share_parts))
    monkeypatch.setattr(health, "worker_checks", health.SingleFlight(health.known_workers_state))
    with contextlib.suppress(FileNotFoundError):
        health.result_store().delete(health.shared_workers_state_key())


def test_the_embedded_broker_is_up():
    state = health.check_broker()
    assert state.up, state.detail


def test_an_unreachable_broker_is_down_with_its_error(monkeypatch):
    monkeypatch.setattr(health.app.conf, "broker_write_url", closed_port_url())

    state = health.check_broker()

    assert not state.up
    assert "Connection refused" in state.detail


def test_the_embedded_result_backend_is_up():
    state = health.check_result_backend()
    assert state.up, state.detail


def test_no_worker_is_reported_when_none_consumes_the_queue():
    state = health.check_workers()

    assert not state.up
    assert state.workers == []
    assert repr(health.app.conf.task_default_queue) in state.detail


def test_workers_are_not_asked_without_a_broker(monkeypatch):
    def broadcast(*args, **kwargs):
        raise AssertionError("a broadcast was tried without a broker")

    monkeypatch.setattr(health.HealthControl, "broadcast", broadcast)

    state = health.check_workers(health.PartState(up=False, detail="down"))

    assert not state.up
    assert "broker is unavailable" in state.detail


def test_the_broadcast_takes_no_connection_from_celery_s_pool(monkeypatch):
    def acquire(*args, **kwargs):
        raise AssertionError("the health check took a connection or producer from Celery's pool")

    monkeypatch.setattr(health.app.pool, "acquire", acquire)
    monkeypatch.setattr(health.app.amqp.producer_pool, "acquire", acquire)

    state = health.check_workers()

    assert "no worker answered" in state.detail


def test_a_writable_results_folder_is_up(settings, tmp_path):
    settings.RESULTS_FILE = tmp_path / "not-yet" / "results.txt"

    state = health.check_results_file()

    assert state.up, state.detail
    assert not (tmp_path / "not-yet").exists(), "the check creates nothing"


def test_a_results_folder_that_is_a_file_is_down(settings, tmp_path):
    (tmp_path / "a-file").write_text("x")
    settings.RESULTS_FILE = tmp_path / "a-file" / "results" / "results.txt"

    state = health.check_results_file()

    assert not state.up
    assert "a-file is not a folder" in state.detail


def test_a_disk_under_the_floor_is_down(settings, tmp_path):
    settings.RESULTS_FILE = tmp_path / "results.txt"
    settings.RESULTS_MIN_FREE_MB = 2**40

    state = health.check_results_file()

    assert not state.up
    assert "MB free beside" in state.detail


class SlowCheck:
    """A check that counts its calls and runs until released."""

    def __init__(self):
        self.calls = 0
        self.release = threading.Event()

    def __call__(self):
        self.calls += 1
        assert self.release.wait(10), "the test never released the check"
        return {"workers": health.WorkersState(up=True, detail="1", workers=["celery@a"])}


def test_concurrent_callers_share_one_check():
    check = SlowCheck()
    flight = health.SingleFlight(check)
    reports = []
    callers = [threading.Thread(target=lambda: reports.append(flight.report(max_age=60, wait=10))) for _ in range(20)]
    for caller in callers:
        caller.start()
    while check.calls == 0:
        time.sleep(0.001)
    check.release.set()
    for caller in callers:
        caller.join(10)

    assert check.calls == 1
    assert len(reports) == 20 and all(report is reports[0] for report in reports)


def test_an_answer_is_reused_until_it_is_older_than_max_age():
    check = SlowCheck()
    check.release.set()
    flight = health.SingleFlight(check)

    first = flight.report(max_age=60, wait=1)
    assert flight.report(max_age=60, wait=1) is first
    assert flight.report(max_age=0, wait=1) is not first
    assert check.calls == 2


def test_a_caller_waits_for_the_check_in_flight_no_longer_than_it_is_told():
    check = SlowCheck()
    flight = health.SingleFlight(check)
    leader = threading.Thread(target=flight.report, kwargs={"max_age": 60, "wait": 10})
    leader.start()
    while check.calls == 0:
        time.sleep(0.001)

    report = flight.report(max_age=60, wait=0.05)

    assert report is None, "no answer yet, and the caller did not wait for one"
    check.release.set()
    leader.join(10)
    report = flight.report(max_age=60, wait=0)
    assert report is not None and report.parts["workers"].up


def test_background_refreshes_run_one_thread_at_a_time():
    check = SlowCheck()
    flight = health.SingleFlight(check)

    for _ in range(20):
        flight.refresh_in_background(max_age=0)
    running = [thread for thread in threading.enumerate() if thread.name == "health-check"]
    check.release.set()
    for thread in running:
        thread.join(10)

    assert len(running) == 1
    assert check.calls == 1


def test_healthz_is_503_with_each_part_when_no_worker_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "unavailable",
        "broker": {"up": True},
        "result_backend": {"up": True},
        "workers": {"up": False},
        "results_file": {"up": True},
    }


def test_healthz_is_200_when_every_part_is_up(client, monkeypatch):
    monkeypatch.setattr(
        health, "check_workers", lambda broker: health.WorkersState(up=True, detail="1", workers=["celery@a"])
    )

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["workers"] == {"up": True}


@pytest.fixture
def every_part_down_with_details(monkeypatch, settings, tmp_path):
    """The broker refusing at a port of 127.0.0.1, the results file under a file of a secret folder,
    and a worker of a secret host answering."""
    monkeypatch.setattr(health.app.conf, "broker_write_url", closed_port_url())
    blocker = tmp_path / "secret-folder" / "a-file"
    blocker.parent.mkdir()
    blocker.write_text("x")
    settings.RESULTS_FILE = blocker / "results.txt"
    monkeypatch.setattr(
        health,
        "check_workers",
        lambda broker: health.WorkersState(up=True, detail="answers", workers=["celery@secret-host.internal"]),
    )
    return ["Connection refused", "127.0.0.1", "secret-folder", str(tmp_path), "secret-host", "celery@"]


@pytest.mark.django_db
def test_the_public_healthz_says_up_or_down_and_logs_why(client, every_part_down_with_details, caplog):
    response = client.get("/healthz")

    body = response.content.decode()
    assert response.status_code == 503
    assert response.json()["broker"] == {"up": False} and response.json()["results_file"] == {"up": False}
    for secret in every_part_down_with_details:
        assert secret not in body
    logged = caplog.text
    assert "Health: broker down: " in logged and "Connection refused" in logged
    assert "Health: results_file down: " in logged and "secret-folder" in logged


@pytest.mark.django_db
def test_staff_see_why_each_part_is_down(admin_client, every_part_down_with_details):
    body = admin_client.get("/healthz").json()

    assert "Connection refused" in body["broker"]["detail"]
    assert "a-file is not a folder" in body["results_file"]["detail"]
    assert body["workers"]["workers"] == ["celery@secret-host.internal"]


def wait_for_worker_state(timeout=10):
    deadline = time.monotonic() + timeout
    while (state := health.worker_checks.last) is None:
        assert time.monotonic() < deadline, "the background check did not finish"
        time.sleep(0.01)
    return state.parts["workers"]


def test_healthz_s_answer_is_the_state_the_pages_read(client):
    client.get("/healthz")

    state = health.cached_worker_state()
    assert state is not None and state.up is False


@pytest.mark.django_db
def test_the_form_page_shows_a_banner_when_no_worker_answers(client):
    client.get("/healthz")

    page = client.get("/").content.decode()

    assert 'id="no-worker-banner"' in page
    assert "No worker is answering" in page


@pytest.mark.django_db
def test_the_form_page_has_no_banner_when_a_worker_answers(client, monkeypatch):
    monkeypatch.setattr(
        health, "check_workers", lambda broker: health.WorkersState(up=True, detail="1", workers=["celery@a"])
    )
    client.get("/healthz")

    page = client.get("/").content.decode()

    assert "no-worker-banner" not in page


@pytest.mark.django_db
def test_the_first_page_view_asks_in_the_background_and_shows_no_banner_meanwhile(client, monkeypatch):
    check = SlowCheck()
    monkeypatch.setattr(health, "worker_checks", health.SingleFlight(check))

    page = client.get("/").content.decode()

    assert "no-worker-banner" not in page, "unknown at first, without waiting"
    check.release.set()
    assert wait_for_worker_state().up
    assert check.calls == 1


@pytest.mark.django_db
def test_the_pages_check_the_workers_alone(client, monkeypatch):
    parts_checked = []
    monkeypatch.setattr(health, "check_result_backend", lambda: parts_checked.append("result_backend"))
    monkeypatch.setattr(health, "check_results_file", lambda: parts_checked.append("results_file"))

    client.get("/")

    assert wait_for_worker_state().up is False, "no worker runs in these tests"
    assert parts_checked == [], "a page's refresh reads neither the result backend nor the results file's disk"


@pytest.mark.django_db
def test_a_fresh_healthz_answer_spares_the_pages_a_check_of_their_own(client, monkeypatch):
    broadcasts = []

    def check_workers(broker=None):
        broadcasts.append(1)
        return NO_WORKER

    monkeypatch.setattr(health, "check_workers", check_workers)
    client.get("/healthz")

    client.get("/")

    assert wait_for_worker_state() == NO_WORKER
    assert broadcasts == [1], "the pages read the state /healthz shared, and asked the workers nothing"


NO_WORKER = health.WorkersState(up=False, detail="no worker answered", workers=[])
A_WORKER = health.WorkersState(up=True, detail="a worker answers", workers=["celery@a"])


def test_a_state_another_process_shared_is_taken_with_the_time_it_was_checked(settings, monkeypatch):
    monkeypatch.setattr(health, "check_workers", lambda broker=None: pytest.fail("the workers were asked again"))
    health.share_workers_state(health.HealthReport({"workers": NO_WORKER}, checked_at=time.monotonic() - 2))

    report = health.known_workers_state()

    assert report.parts["workers"] == NO_WORKER
    assert 2 <= report.age() < 3, "its age is the shared check's, not the time it was read"


def test_a_shared_state_older_than_the_cache_time_is_checked_again_and_shared(settings, monkeypatch):
    settings.HEALTH_CACHE_SECONDS = 5
    monkeypatch.setattr(health, "check_workers", lambda broker=None: A_WORKER)
    health.share_workers_state(health.HealthReport({"workers": NO_WORKER}, checked_at=time.monotonic() - 6))

    report = health.known_workers_state()

    assert report.parts["workers"] == A_WORKER and report.age() < 1
    shared = health.shared_workers_report()
    assert shared is not None and shared.parts["workers"] == A_WORKER


@pytest.mark.parametrize("payload", [b"not json", b'{"up": true}', b"[]", b""])
def test_an_unreadable_shared_state_is_no_state(payload):
    health.result_store().set(health.shared_workers_state_key(), payload)

    assert health.shared_workers_report() is None


def test_the_shared_state_of_another_queue_s_workers_is_not_this_one_s():
    health.share_workers_state(health.HealthReport({"workers": NO_WORKER}))
    with pytest.MonkeyPatch.context() as another_deployment:
        another_deployment.setitem(health.app.conf, "task_default_queue", "another-deployment")
        assert health.shared_workers_report() is None
        health.share_workers_state(health.HealthReport({"workers": A_WORKER}))
        with contextlib.suppress(FileNotFoundError):
            health.result_store().delete(health.shared_workers_state_key())

    shared = health.shared_workers_report()
    assert shared is not None and shared.parts["workers"] == NO_WORKER


def test_the_pages_read_the_shared_state_again_once_a_second_at_most(monkeypatch):
    reads = []

    def shared_workers_report():
        reads.append(1)

    monkeypatch.setattr(health, "shared_workers_report", shared_workers_report)
    monkeypatch.setattr(health, "check_workers", lambda broker=None: NO_WORKER)

    health.cached_worker_state()
    wait_for_worker_state()
    for _ in range(50):
        health.cached_worker_state()

    assert reads == [1], "one read, then none until SHARED_STATE_READ_INTERVAL has passed"


def test_a_post_waits_a_moment_for_the_state_another_process_shared(monkeypatch):
    shared = health.HealthReport({"workers": NO_WORKER})
    release = threading.Event()

    def slow_read():
        assert release.wait(10)
        return shared

    monkeypatch.setattr(health, "shared_workers_report", slow_read)
    threading.Timer(0.1, release.set).start()

    state = health.cached_worker_state(wait=5)

    assert state == NO_WORKER, "the caller waited for the read in flight"


def test_a_page_waits_for_no_read(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(health, "shared_workers_report", lambda: release.wait(10) and None)
    monkeypatch.setattr(health, "check_workers", lambda broker=None: NO_WORKER)

    assert health.cached_worker_state() is None, "unknown at first, without waiting"
    release.set()
