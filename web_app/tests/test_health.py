"""The health checks against the test settings' embedded broker and backend, with no worker running.

The states with a worker running, and with RabbitMQ or Redis unreachable, are
proven end to end in tests/test_health_e2e.py with real processes.
"""
import socket

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


def test_the_worker_state_is_kept_for_a_few_seconds(monkeypatch, settings):
    settings.HEALTH_CACHE_SECONDS = 60
    calls = []

    def check_workers():
        calls.append(1)
        return health.PartState(up=True, detail="1 answering", workers=["celery@test"])

    monkeypatch.setattr(health, "check_workers", check_workers)

    assert health.cached_worker_state().up
    assert health.cached_worker_state().workers == ["celery@test"]
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
    page = client.get("/").content.decode()
    assert 'id="no-worker-banner"' in page
    assert "No worker is answering" in page


@pytest.mark.django_db
def test_the_form_page_has_no_banner_when_a_worker_answers(client, monkeypatch):
    monkeypatch.setattr(health, "check_workers", lambda: health.PartState(up=True, detail="1"))

    page = client.get("/").content.decode()

    assert "no-worker-banner" not in page
