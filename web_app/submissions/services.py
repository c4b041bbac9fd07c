"""What the web app does with a submission: send it, wait for it, record it."""
import fcntl
import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

from celery.exceptions import TimeoutError as ResultTimeout
from celery.result import AsyncResult
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from web_app.celery import app

from .models import Submission

logger = logging.getLogger(__name__)

# The whole contract with rabbitmq_celery: this name, called with two strings.
ADDING_TASK_NAME = "adding_taski"

# How often the filesystem result backend is polled; Redis needs no polling,
# its results arrive on a pub/sub channel.
POLL_INTERVAL = 0.05

# What a stopped or unreachable result backend raises.
BACKEND_ERRORS = (RedisError, OSError, OperationalError)


def is_backend_unreachable(exc: BaseException) -> bool:
    """True for a backend error, also as the RuntimeError Celery's Redis result channel
    raises from one when its bounded reconnects give up (a later call reconnects)."""
    return isinstance(exc, BACKEND_ERRORS) or (
        isinstance(exc, RuntimeError) and isinstance(exc.__cause__, BACKEND_ERRORS)
    )


class BrokerUnavailable(Exception):
    """The task could not be handed to the broker; nothing was queued."""


class BackendUnavailable(Exception):
    """The result backend could not be reached; nothing was queued."""


class WriteLockTimeout(Exception):
    """A writer lock (the database's, the results file's) was not free within WRITE_LOCK_TIMEOUT;
    nothing was written."""


def submit(first: str, second: str) -> tuple[Submission, AsyncResult]:
    """Save the submission, then send its task; when sending fails the submission is deleted again.

    The row is committed before the task is sent, so that every task the broker
    has belongs to a submission its result is recorded on, and so that the
    publish and its confirm (a few milliseconds, at times hundreds while
    RabbitMQ syncs its disk) do not hold SQLite's single write lock.
    """
    task_id = str(uuid.uuid4())
    with queued_writer(), transaction.atomic():
        submission = Submission.objects.create(first=first, second=second, task_id=task_id)
    try:
        result = app.send_task(ADDING_TASK_NAME, args=(first, second), task_id=task_id)
    except OperationalError as exc:
        logger.warning("Broker unavailable, task not sent: %s", exc)
        discard(submission)
        raise BrokerUnavailable from exc
    except (RedisError, OSError, RuntimeError) as exc:
        if not is_backend_unreachable(exc):
            raise
        logger.warning("Result backend unavailable, task not sent: %s", exc)
        discard(submission)
        raise BackendUnavailable from exc
    return submission, result


def discard(submission: Submission) -> None:
    """Delete a submission whose task was never sent."""
    with queued_writer(), transaction.atomic():
        submission.delete()


def wait_for_result(result: AsyncResult, timeout: float) -> bool:
    """Wait until the task's result is ready, or the deadline passes; True when ready.

    Each turn blocks on the result (the Redis backend's pub/sub channel, or a
    sleeping poll of the filesystem backend) for at most the time left, then
    checks ready(): the loop never spins and never outlives its deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining > 0:
            with suppress(ResultTimeout):
                result.get(timeout=remaining, interval=POLL_INTERVAL, propagate=False)
        if result.ready():
            return True
        if remaining <= 0:
            # Stop listening for it; the submission's page and collect_results pick it up.
            result.backend.remove_pending_result(result)
            return False


def record_outcome(submission: Submission, result: AsyncResult) -> Submission:
    """Store a ready result, appending a success to the results file exactly once."""
    finished_at = result.date_done or timezone.now()
    if result.successful():
        outcome = {"status": Submission.Status.DONE, "result": str(result.result)}
    else:
        outcome = {"status": Submission.Status.FAILED, "error": describe_failure(result)}
    with queued_writer(), transaction.atomic():
        # Only the first to move it out of PENDING writes the line.
        claimed = Submission.objects.filter(
            pk=submission.pk, status=Submission.Status.PENDING
        ).update(finished_at=finished_at, **outcome)
        if claimed and outcome["status"] == Submission.Status.DONE:
            append_result_line(settings.RESULTS_FILE, outcome["result"])
    if not claimed:
        # Another request or process recorded it first: show what it stored.
        submission.refresh_from_db()
        return submission
    for name, value in {"finished_at": finished_at, **outcome}.items():
        setattr(submission, name, value)
    return submission


# Threads of one process queue here for the database's writer lock file.
process_writer_lock = threading.Lock()

# How often a process whose threads wait for the writer lock file tries it again.
LOCK_RETRY_INTERVAL = 0.001


def queued_writer():
    """Hold the database's writer lock for one write transaction (none for an in-memory database)."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return nullcontext()
    return writer_lock(Path(f"{connection.settings_dict['NAME']}-writer-lock"))


@contextmanager
def writer_lock(path: Path):
    """Hold the writer lock file `path`, waiting at most WRITE_LOCK_TIMEOUT seconds, then WriteLockTimeout.

    Threads of a process wait on a threading lock, which wakes the next one as
    soon as it is free, and the one thread in front tries the flock that
    processes share every millisecond; SQLite's own busy handler instead sleeps
    with back-offs of up to 100 ms, which under load turned waits of a few
    milliseconds into seconds.
    """
    timeout = settings.WRITE_LOCK_TIMEOUT
    deadline = time.monotonic() + timeout
    if not process_writer_lock.acquire(timeout=timeout):
        raise WriteLockTimeout(f"{path} was not free within {timeout:.1f} s")
    try:
        with file_lock(path, timeout=max(deadline - time.monotonic(), 0)):
            yield
    finally:
        process_writer_lock.release()


@contextmanager
def file_lock(path: Path, timeout: float):
    """Open `path` for appending and hold an exclusive flock on it, shared by threads and processes.

    Tries again every LOCK_RETRY_INTERVAL; WriteLockTimeout when it is not free within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    with open(path, "a", encoding="utf-8") as locked_file:
        while True:
            try:
                fcntl.flock(locked_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriteLockTimeout(f"{path} was not free within {timeout:.1f} s") from None
                time.sleep(LOCK_RETRY_INTERVAL)
        try:
            yield locked_file
        finally:
            fcntl.flock(locked_file, fcntl.LOCK_UN)


def describe_failure(result: AsyncResult) -> str:
    exc = result.result
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    return f"The task ended in state {result.state}."


def refresh(
    submission: Submission, timeout: float = 0, result: AsyncResult | None = None
) -> Submission:
    """Record the submission's result if it is ready, waiting at most `timeout` seconds.

    A backend that cannot be reached leaves the submission pending, to be
    collected later: the result is not lost, only not yet known.
    """
    if not submission.is_pending:
        return submission
    if result is None:
        result = app.AsyncResult(str(submission.task_id))
    try:
        ready = wait_for_result(result, timeout) if timeout else result.ready()
    except (*BACKEND_ERRORS, RuntimeError) as exc:
        if not is_backend_unreachable(exc):
            raise
        logger.warning("Result backend unavailable, %s stays pending: %s", submission.task_id, exc)
        return submission
    if ready:
        try:
            return record_outcome(submission, result)
        except WriteLockTimeout as exc:
            logger.warning("Writers busy, %s stays pending: %s", submission.task_id, exc)
    return submission


def collect_pending(older_than_seconds: float = 0) -> dict[str, int]:
    """Record every pending submission whose result has come; count what became of them."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    counts = {status: 0 for status in Submission.Status.values}
    for submission in Submission.objects.filter(status=Submission.Status.PENDING, created_at__lte=cutoff):
        counts[refresh(submission).status] += 1
    return counts


def append_result_line(path: Path, line: str) -> None:
    """Append one whole line to the results file, safely beside other processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path, timeout=settings.WRITE_LOCK_TIMEOUT) as results_file:
        results_file.write(line + "\n")
        results_file.flush()
        os.fsync(results_file.fileno())
