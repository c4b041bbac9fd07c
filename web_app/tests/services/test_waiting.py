"""Waiting for a result within a deadline, on the test settings' filesystem result backend; and the
reader of Celery's Redis result channel under gevent, replaced when it has ended."""

import threading
import time
import uuid
from types import SimpleNamespace
from typing import cast

import gevent
import pytest
from celery.backends.asynchronous import geventDrainer  # type: ignore[attr-defined]
from celery.exceptions import TimeoutError as ResultTimeout
from celery.result import AsyncResult
from celery.utils.collections import BufferMap

from submissions import services
from submissions.services import waiting
from web_app.celery import app

from .results import store


def test_wait_for_result_returns_as_soon_as_the_result_is_stored():
    task_id = str(uuid.uuid4())
    threading.Timer(0.2, store, args=(task_id, "cats es dogs")).start()
    result = app.AsyncResult(task_id)

    started = time.monotonic()
    assert services.wait_for_result(result, timeout=5) is True
    assert time.monotonic() - started < 5
    assert result.get() == "cats es dogs"


def test_wait_for_result_gives_up_at_its_deadline():
    result = app.AsyncResult(str(uuid.uuid4()))
    started = time.monotonic()
    assert services.wait_for_result(result, timeout=0.3) is False
    assert 0.3 <= time.monotonic() - started < 1.3


class NeverReadyResult:
    """A result whose get() blocks for its whole timeout, as a real one does when nothing comes."""

    def __init__(self):
        self.ready_calls = 0
        self.removed = False
        self.backend = self

    def get(self, timeout, **kwargs):
        time.sleep(timeout)
        raise ResultTimeout()

    def ready(self):
        self.ready_calls += 1
        return False

    def remove_pending_result(self, result):
        self.removed = True


def test_wait_for_result_blocks_between_checks_instead_of_spinning():
    result = NeverReadyResult()
    assert services.wait_for_result(cast(AsyncResult, result), timeout=0.5) is False
    assert result.ready_calls <= 2
    assert result.removed, "a result given up on stops being listened for"


class UnreachableResult(NeverReadyResult):
    """A result whose backend cannot be reached, also when told to stop listening."""

    def get(self, timeout, **kwargs):
        raise ConnectionError("Connection refused")

    def remove_pending_result(self, result):
        super().remove_pending_result(result)
        raise ConnectionError("Connection refused")


def test_a_wait_the_backend_broke_off_stops_listening_and_raises_the_backend_s_error():
    result = UnreachableResult()
    with pytest.raises(ConnectionError):
        services.wait_for_result(cast(AsyncResult, result), timeout=0.5)
    assert result.removed, "nobody waits for it any more"


def test_a_message_taken_from_celery_s_buffer_leaves_no_buffer_behind():
    buffers: BufferMap = BufferMap(8192)
    backend = SimpleNamespace(_pending_messages=buffers)
    buffers.put("came-early", {"status": "SUCCESS"})
    buffers.put("other", {"status": "SUCCESS"})
    buffers.take("came-early")  # what adding a pending result does with a message that came before it
    assert "came-early" in buffers, "Celery leaves the empty buffer, one a submission"

    waiting.forget_buffered_messages(backend, "came-early")
    waiting.forget_buffered_messages(backend, "never-buffered")

    assert list(buffers) == ["other"]
    assert buffers.total == 1


class ResultChannel:
    """A result consumer as the drainer sees it: each drain either waits a moment or fails as Celery's
    does when its reconnects give up."""

    def __init__(self, gives_up: bool):
        self.gives_up = gives_up
        self.drainer = geventDrainer(self)

    def drain_events(self, timeout=None):
        if self.gives_up:
            raise RuntimeError("Retry limit exceeded while trying to reconnect to the Celery result store")
        gevent.sleep(0.01)


def test_a_result_channel_reader_that_ended_is_replaced_by_a_new_one():
    channel = ResultChannel(gives_up=True)
    ended = channel.drainer
    ended.start()
    gevent.sleep(0)
    with pytest.raises(RuntimeError, match="Retry limit exceeded"):
        ended.start()

    waiting.revive_ended_drainer(channel)

    assert channel.drainer is not ended
    assert isinstance(channel.drainer, geventDrainer)
    channel.gives_up = False
    channel.drainer.start()
    assert channel.drainer._g is not None and not channel.drainer._g.dead
    channel.drainer.stop()


def test_a_running_result_channel_reader_is_left_alone():
    channel = ResultChannel(gives_up=False)
    running = channel.drainer
    running.start()
    try:
        waiting.revive_ended_drainer(channel)
        assert channel.drainer is running
    finally:
        running.stop()
    waiting.revive_ended_drainer(channel)
    assert channel.drainer is running, "a reader stopped on purpose is not restarted"
