"""Waiting for a task's result on Celery's result channel, within a deadline."""

import contextlib
import logging
import socket
import time
from datetime import datetime
from typing import cast

from celery import states
from celery.backends.asynchronous import AsyncBackendMixin, greenletDrainer  # type: ignore[attr-defined]
from celery.backends.base import KeyValueStoreBackend
from celery.exceptions import TimeoutError as ResultTimeout
from celery.result import AsyncResult
from django.utils import timezone

from ..result_backend import is_backend_unreachable
from .outcomes import Outcome, outcome_from_meta, read_outcome

logger = logging.getLogger(__name__)

# How often the filesystem result backend is polled; Redis needs no polling,
# its results arrive on a pub/sub channel.
POLL_INTERVAL = 0.05


def wait_for_result(result: AsyncResult, timeout: float) -> bool:
    """Wait until the task's result is ready, or the deadline passes; True when ready.

    Each turn blocks on the result (the Redis backend's pub/sub channel, or a
    sleeping poll of the filesystem backend) for at most the time left, then
    checks ready(): the loop never spins and never outlives its deadline.
    """
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining > 0:
                with contextlib.suppress(ResultTimeout, socket.timeout):
                    if isinstance(result.backend, AsyncBackendMixin):
                        wait_for_message(result, remaining)
                    else:
                        result.get(timeout=remaining, interval=POLL_INTERVAL, propagate=False)
            if result.ready():
                return True
            if remaining <= 0:
                stop_listening(result)
                return False
    except Exception:
        stop_listening(result)
        raise


def stop_listening(result: AsyncResult) -> None:
    """Stop listening for a result nobody waits for any more; the collector records it when it comes.

    Errors are left to the wait's own outcome: the backend may be what failed.
    """
    with contextlib.suppress(Exception):
        cast(KeyValueStoreBackend, result.backend).remove_pending_result(result)


def wait_for_message(result: AsyncResult, timeout: float) -> None:
    """Wait for the message that announces the result on its pub/sub channel, `timeout` at most.

    This is what result.get() does on the Redis backend, but for the read of the
    result's key it makes first: send_task subscribed to the channel before it
    published the task, so no announcement can come before the subscription. A
    message missed while the channel reconnected is found by the read of ready()
    at the deadline.
    """
    backend = cast(AsyncBackendMixin, result.backend)
    consumer = backend.result_consumer  # type: ignore[attr-defined]
    revive_ended_drainer(consumer)
    backend.add_pending_result(result)
    try:
        for _ in consumer.drain_events_until(result.on_ready, timeout=timeout):
            pass
    finally:
        forget_buffered_messages(backend, result.id)


def revive_ended_drainer(consumer) -> None:
    """Give the result channel a new reader in place of one whose greenlet has ended.

    Under gevent, Celery reads the channel in a greenlet of its own, which ends for good when its
    bounded reconnects give up (Redis stopped or failing over while results are awaited); every
    later wait then raises the same error, "The Celery application must be restarted", long after
    Redis is back. A new drainer starts a new greenlet, and the channel reconnects on the next
    subscription.
    """
    drainer = consumer.drainer
    if isinstance(drainer, greenletDrainer) and drainer._shutdown.is_set() and not drainer._stopped.is_set():
        # Replaced before logging, which may switch greenlets: another wait must not replace it too.
        consumer.drainer = type(drainer)(consumer)
        logger.warning("The result channel's reader ended (%s); starting a new one", str(drainer._exc).strip())


def forget_buffered_messages(backend, task_id: str) -> None:
    """Drop the buffer Celery keeps for a task's messages that came before anyone waited for it.

    A message with no waiter is buffered under its task id, and taking it leaves an
    empty buffer behind for good: about a kilobyte a submission. result.get() drops it
    after its wait (the Redis result consumer's on_wait_for_pending); this wait must too.
    """
    buffers = backend._pending_messages
    buffer = buffers.pop(task_id, None)
    if buffer is not None:
        buffers.total -= len(buffer)


def ready_outcome(result: AsyncResult) -> Outcome | None:
    """The outcome of a result wait_for_result saw ready: a success from the message it received,
    anything else read again as plain data."""
    if result.state == states.SUCCESS:
        return outcome_from_meta({"status": states.SUCCESS, "result": result.result, "date_done": result.date_done})
    return read_outcome(result.id)


# When a task's result last came to this process while a request waited for it: news of the
# workers newer than a health check made before it.
last_result_came_at: datetime | None = None


def result_came_since(moment: datetime) -> bool:
    return last_result_came_at is not None and last_result_came_at >= moment


def outcome_wait(result: AsyncResult, timeout: float) -> Outcome | None:
    global last_result_came_at
    try:
        ready = wait_for_result(result, timeout)
    except Exception as exc:
        if is_backend_unreachable(exc):
            raise
        # Celery could not use what it received (a forged failure, say): read it as plain data.
        logger.warning("Result of %s unreadable by Celery, reading it as data: %s", result.id, exc)
        return read_outcome(result.id)
    if not ready:
        return None
    last_result_came_at = timezone.now()
    return ready_outcome(result)
