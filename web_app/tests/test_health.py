"""The health checks against the test settings' embedded broker and backend, with no worker running.

The states with a worker running, and with RabbitMQ or Redis unreachable, are
proven end to end in tests/test_health_e2e.py with real processes.
"""
import socket
import time

import pytest
from django.core.cache import cache

from submissions import health


def closed_port_url() -> str:
    """An AMQP URL on a local port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"amqp://guest:guest@127.0.0.1:{port}//"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


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

    monkeypatch.setattr(health.app.control, "inspect", broadcast)

    state = health.check_workers(health.PartState(up=False, detail="down"))

    assert not state.up
    assert "broker is unavailable" in state.detail


def count_worker_checks(monkeypatch, up=True):
    """Replace the worker ping with a counted, instant answer, to test the caching around it."""
    calls = []

    def check_workers(broker=None):
        calls.append(1)
        return health.PartState(up=up, detail="answer", workers=["celery@test"] if up else [])

    monkeypatch.setattr(health, "check_workers", check_workers)
    return calls


def wait_for_worker_state(timeout=10):
    deadline = time.monotonic() + timeout
    while (state := cache.get(health.WORKERS_CACHE_KEY)) is None:
        assert time.monotonic() < deadline, "the background worker check did not finish"
        time.sleep(0.01)
    return state


def test_the_first_page_view_asks_the_workers_in_the_background(monkeypatch):
    calls = count_worker_checks(monkeypatch)

    assert health.cached_worker_state() is None, "unknown at first, without waiting"

    assert wait_for_worker_state().workers == ["celery@test"]
    assert health.cached_worker_state().up
    assert len(calls) == 1


def test_the_worker_state_is_kept_for_a_few_seconds(monkeypatch, settings):
    settings.HEALTH_CACHE_SECONDS = 60
    calls = count_worker_checks(monkeypatch)
    health.refresh_worker_state()

    for _ in range(5):
        assert health.cached_worker_state().up

    assert len(calls) == 1


def test_a_stale_state_is_shown_while_it_is_asked_again(monkeypatch, settings):
    settings.HEALTH_CACHE_SECONDS = 60
    count_worker_checks(monkeypatch, up=True)
    health.refresh_worker_state()
    cache.delete(health.WORKERS_FRESH_KEY)
    calls = count_worker_checks(monkeypatch, up=False)

    assert health.cached_worker_state().up, "the last state, until the new answer"

    deadline = time.monotonic() + 10
    while health.cached_worker_state().up:
        assert time.monotonic() < deadline, "the stale state was never refreshed"
        time.sleep(0.01)
    assert len(calls) == 1


def test_healthz_is_503_with_each_part_when_no_worker_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["broker"]["up"] is True
    assert body["result_backend"]["up"] is True
    assert body["workers"] == {"up": False, "detail": body["workers"]["detail"], "workers": []}


def test_healthz_is_200_when_every_part_is_up(client, monkeypatch):
    monkeypatch.setattr(
        health, "check_workers", lambda broker: health.PartState(up=True, detail="1", workers=["celery@a"])
    )

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["workers"]["workers"] == ["celery@a"]


def test_healthz_refreshes_the_state_the_pages_read(client, db):
    client.get("/healthz")

    assert cache.get(health.WORKERS_CACHE_KEY).up is False


@pytest.mark.django_db
def test_the_form_page_shows_a_banner_when_no_worker_answers(client):
    health.refresh_worker_state()

    page = client.get("/").content.decode()
    assert 'id="no-worker-banner"' in page
    assert "No worker is answering" in page


@pytest.mark.django_db
def test_the_form_page_has_no_banner_when_a_worker_answers(client, monkeypatch):
    count_worker_checks(monkeypatch, up=True)
    health.refresh_worker_state()

    page = client.get("/").content.decode()

    assert "no-worker-banner" not in page


class NeverStartedThread:
    """A thread that never runs: the workers' first answer has not come yet."""

    def __init__(self, **kwargs):
        pass

    def start(self):
        pass


@pytest.mark.django_db
def test_the_form_page_has_no_banner_before_the_workers_have_answered(client, monkeypatch):
    count_worker_checks(monkeypatch, up=False)
    monkeypatch.setattr(health.threading, "Thread", NeverStartedThread)

    page = client.get("/").content.decode()

    assert "no-worker-banner" not in page
