"""Waiting for a result within a deadline, on the test settings' filesystem result backend."""

import threading
import time
import uuid
from types import SimpleNamespace
from typing import cast

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
