"""What the web app does with a submission: send it, wait for it, record it, and look after it.

Recording a result is the one place where the results file and the database
must agree. The database is the record of what was written: before a line is
appended, the offset where it will start is committed on its row, so that
after a crash at any point the next recorder can tell, under the same lock,
whether the line reached the file, and finish the job instead of appending
blindly.
"""

import contextlib
import functools
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from celery import states
from celery.backends.asynchronous import AsyncBackendMixin
from celery.backends.base import KeyValueStoreBackend
from celery.exceptions import TimeoutError as ResultTimeout
from celery.result import AsyncResult
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Field, Q
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from web_app.celery import app

from .locks import SubmissionsBusy, WriteLockTimeout, queued_file_lock, queued_writer, submission_slot
from .models import Submission

logger = logging.getLogger(__name__)

__all__ = [
    "BackendUnavailable",
    "BrokerUnavailable",
    "DatabaseUnwritable",
    "NotRecorded",
    "SubmissionsBusy",
    "WriteLockTimeout",
    "collect_pending",
    "discard",
    "record_outcome",
    "result_record",
    "submission_create",
    "wait_for_result",
]

# The whole contract with rabbitmq_celery: this name, called with two strings.
ADDING_TASK_NAME = "adding_taski"

# How often the filesystem result backend is polled; Redis needs no polling,
# its results arrive on a pub/sub channel.
POLL_INTERVAL = 0.05

# What a stopped or unreachable result backend raises.
BACKEND_ERRORS = (RedisError, OSError, OperationalError)

# The most pending submissions one collector sweep looks at, oldest first, so that a sweep is bounded.
COLLECT_BATCH_SIZE = 500

# Error messages are the task's words or a forged result's: keep what a page shows short.
MAX_ERROR_LENGTH = 500


def result_store() -> KeyValueStoreBackend:
    """The result backend, as the key-value store both of this project's backends are (Redis, files)."""
    return cast(KeyValueStoreBackend, app.backend)


def is_backend_unreachable(exc: BaseException) -> bool:
    """True for a backend error, also as the RuntimeError Celery's Redis result channel
    raises from one when its bounded reconnects give up (a later call reconnects)."""
    return isinstance(exc, BACKEND_ERRORS) or (
        isinstance(exc, RuntimeError) and isinstance(exc.__cause__, BACKEND_ERRORS)
    )


@functools.cache
def broker_errors() -> tuple[type[BaseException], ...]:
    """Every error the broker's client raises for a failed publish: unreachable, refused
    credentials, a missing vhost, no permission."""
    with app.connection_for_write() as connection:
        return (OperationalError, *connection.connection_errors, *connection.channel_errors)


class BrokerUnavailable(Exception):
    """The task could not be handed to the broker; nothing was queued."""


class BackendUnavailable(Exception):
    """The result backend could not be reached; nothing was queued."""


class DatabaseUnwritable(Exception):
    """The database refused a write (disk full, read-only); what was asked is not saved."""


class NotRecorded(Exception):
    """A result came but could not be written (the results file or the database refused it);
    the submission stays pending and the collector records it once writing works again."""


# --- sending ---------------------------------------------------------------


def submission_create(*, first: str, second: str) -> tuple[Submission, AsyncResult]:
    """Save the submission, then send its task, in one of the process's submission slots; when
    sending fails the submission is deleted again.

    The row is committed before the task is sent, so that every task the broker
    has belongs to a submission its result is recorded on, and so that the
    publish and its confirm (a few milliseconds, at times hundreds while
    RabbitMQ syncs its disk) do not hold SQLite's single write lock.
    """
    task_id = str(uuid.uuid4())
    with submission_slot():
        try:
            with queued_writer(), transaction.atomic():
                submission = Submission.objects.create(first=first, second=second, task_id=task_id)
        except DatabaseError as exc:
            logger.warning("Database unwritable, nothing sent: %s", exc)
            raise DatabaseUnwritable(str(exc)) from exc
        try:
            result = send(submission)
        except (BrokerUnavailable, BackendUnavailable):
            discard(submission)
            raise
    return submission, result


def send(submission: Submission) -> AsyncResult:
    """Publish the submission's task under its own task id; BrokerUnavailable or BackendUnavailable."""
    try:
        return app.send_task(
            ADDING_TASK_NAME,
            args=(submission.first, submission.second),
            task_id=str(submission.task_id),
            # A broker that never confirms (a node cut off from its cluster) must not hold the request.
            confirm_timeout=settings.PUBLISH_CONFIRM_TIMEOUT,
        )
    except broker_errors() as exc:
        logger.warning("Broker unavailable, task %s not sent: %s", submission.task_id, exc)
        raise BrokerUnavailable(str(exc)) from exc
    except (RedisError, OSError, RuntimeError) as exc:
        if not is_backend_unreachable(exc):
            raise
        logger.warning("Result backend unavailable, task %s not sent: %s", submission.task_id, exc)
        raise BackendUnavailable(str(exc)) from exc


def discard(submission: Submission) -> None:
    """Delete a submission whose task was never sent.

    When even that fails, the row stays pending and the collector sends its
    task once it is stale: it is not lost.
    """
    try:
        with queued_writer(), transaction.atomic():
            submission.delete()
    except (DatabaseError, WriteLockTimeout) as exc:
        logger.warning("Could not delete unsent submission %s; the collector will send it: %s", submission.pk, exc)


# --- reading results ---------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of a task, as the web app records it."""

    status: str
    result: str = ""
    error: str = ""
    finished_at: datetime | None = None


def malformed(reason: str) -> Outcome:
    return Outcome(Submission.Status.FAILED, error=f"The result backend holds a result that cannot be used: {reason}")


def outcome_from_meta(meta) -> Outcome | None:
    """The outcome a task's stored meta-data says, None while the task has not finished.

    Reads only plain data: a failure is described from the names it carries,
    never rebuilt as an exception (a forged one could name any type), and
    anything that is not what rabbitmq_celery stores is a failure with a reason.
    """
    if not isinstance(meta, dict):
        return malformed(f"expected an object, found {type(meta).__name__}")
    status = meta.get("status")
    if status not in states.READY_STATES:
        return None
    finished_at = parse_date_done(meta.get("date_done"))
    result = meta.get("result")
    if status == states.SUCCESS:
        if not isinstance(result, str):
            return malformed(f"the task returned {type(result).__name__}, not text")
        return Outcome(Submission.Status.DONE, result=result, finished_at=finished_at)
    return Outcome(Submission.Status.FAILED, error=describe_failure(status, result), finished_at=finished_at)


def parse_date_done(value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)
    return None


def describe_failure(status: str, exception) -> str:
    """A failure in words, from the type name and message the worker stored (plain JSON, never an exception)."""
    if isinstance(exception, dict) and isinstance(exception.get("exc_type"), str):
        message = exception.get("exc_message", "")
        if isinstance(message, (list, tuple)):
            message = " ".join(str(part) for part in message)
        text = f"{exception['exc_type']}: {message}"
    else:
        text = f"The task ended in state {status}."
    return text[:MAX_ERROR_LENGTH]


def read_outcome(task_id) -> Outcome | None:
    """The task's outcome from the result backend, None while it has none; bad data is a failure.

    Raises the backend's own errors when it cannot be reached.
    """
    backend = result_store()
    payload = backend.get(backend.get_key_for_task(str(task_id)))
    return outcome_from_payload(payload)


def outcome_from_payload(payload) -> Outcome | None:
    if payload is None:
        return None
    try:
        meta = result_store().decode(payload)
    except Exception as exc:  # whatever a stored value holds, it must not break a page
        return malformed(f"it is not JSON ({type(exc).__name__})")
    return outcome_from_meta(meta)


def read_outcomes(task_ids: list[str]) -> dict[str, Outcome | None]:
    """Outcomes of many tasks in one round trip to the result backend."""
    backend = result_store()
    payloads = list(backend.mget([backend.get_key_for_task(task_id) for task_id in task_ids]))
    return {task_id: outcome_from_payload(payload) for task_id, payload in zip(task_ids, payloads, strict=False)}


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
            with contextlib.suppress(ResultTimeout, socket.timeout):
                if isinstance(result.backend, AsyncBackendMixin):
                    wait_for_message(result, remaining)
                else:
                    result.get(timeout=remaining, interval=POLL_INTERVAL, propagate=False)
        if result.ready():
            return True
        if remaining <= 0:
            # Stop listening for it; the collector records it when it comes.
            cast(KeyValueStoreBackend, result.backend).remove_pending_result(result)
            return False


def wait_for_message(result: AsyncResult, timeout: float) -> None:
    """Wait for the message that announces the result on its pub/sub channel, `timeout` at most.

    This is what result.get() does on the Redis backend, but for the read of the
    result's key it makes first: send_task subscribed to the channel before it
    published the task, so no announcement can come before the subscription. A
    message missed while the channel reconnected is found by the read of ready()
    at the deadline.
    """
    backend = cast(AsyncBackendMixin, result.backend)
    backend.add_pending_result(result)
    try:
        for _ in backend.result_consumer.drain_events_until(result.on_ready, timeout=timeout):  # type: ignore[attr-defined]
            pass
    finally:
        forget_buffered_messages(backend, result.id)


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


def outcome_of_waited(result: AsyncResult) -> Outcome | None:
    """The outcome of a result wait_for_result saw ready: a success from the message it received,
    anything else read again as plain data."""
    if result.state == states.SUCCESS:
        return outcome_from_meta({"status": states.SUCCESS, "result": result.result, "date_done": result.date_done})
    return read_outcome(result.id)


# --- recording ---------------------------------------------------------------


def results_line(result: str) -> bytes:
    """A result as exactly one line of the results file.

    A line break inside a result would make it several lines, so every character
    that str.splitlines() breaks at is written as a backslash escape (\\n, \\r,
    \\x0b, \\u2028, ...); results of the form never hold one, since the form
    refuses them.
    """
    escaped = "".join(escape_line_break(char) for char in result)
    return (escaped + "\n").encode("utf-8")


# The characters str.splitlines() breaks a line at.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def escape_line_break(char: str) -> str:
    if char not in LINE_BREAKS:
        return char
    return char.encode("unicode_escape").decode("ascii")


def record_outcome(submission: Submission, outcome: Outcome) -> Submission:
    """Store a finished task's outcome; a success's line goes to the results file exactly once.

    Raises NotRecorded (the submission stays pending) when the results file or
    the database cannot be written; writers that stay busy past WRITE_LOCK_TIMEOUT
    leave it pending too, for the collector, without an error.
    """
    outcome_claim(submission, outcome)
    return submission


def outcome_claim(submission: Submission, outcome: Outcome) -> bool:
    """record_outcome, telling whether this call stored the outcome (False when another recorder
    had it, or the writers stayed busy); `submission` is updated either way."""
    finished_at = outcome.finished_at or timezone.now()
    try:
        with submission_slot():
            if outcome.status == Submission.Status.DONE:
                offset = record_success(submission, outcome.result, finished_at)
                claimed = offset is not None
                stored = {"result": outcome.result, "line_offset": offset, "error": "", "lost_at": None}
            else:
                claimed = record_failure(submission, outcome.error, finished_at)
                stored = {"error": outcome.error}
    except WriteLockTimeout as exc:
        logger.warning("Writers busy, %s stays pending for the collector: %s", submission.task_id, exc)
        return False
    except OSError as exc:
        # The reason without the file's path, which the page shows to whoever submitted.
        raise NotRecorded(exc.strerror or type(exc).__name__) from exc
    except DatabaseError as exc:
        raise NotRecorded(str(exc)) from exc
    if claimed:
        # What this recorder stored, without reading the row back.
        for name, value in {"status": outcome.status, "finished_at": finished_at, **stored}.items():
            setattr(submission, name, value)
    else:
        # Another recorder had it (or finished it after a crash): show what it stored.
        submission.refresh_from_db()
    if not submission.is_pending:
        forget_result(submission.task_id)
    return claimed


def record_failure(submission: Submission, error: str, finished_at: datetime) -> bool:
    with queued_writer(), transaction.atomic():
        return bool(
            Submission.objects.filter(
                pk=submission.pk, status=Submission.Status.PENDING, line_offset__isnull=True
            ).update(status=Submission.Status.FAILED, error=error, finished_at=finished_at)
        )


def record_success(submission: Submission, result: str, finished_at: datetime) -> int | None:
    """Append the success's line and mark the submission done; where the line starts, or None when
    another recorder had it.

    Under the results file's lock: finish any line a crashed recorder left in
    doubt, commit where this line will start, append it, then mark it done.
    """
    with results_file_lock() as results_file:
        finish_lines_in_doubt(results_file)
        offset = os.fstat(results_file.fileno()).st_size
        with queued_writer(), transaction.atomic():
            claimed = update_submissions(
                RECORDABLE_WITHOUT_LINE,
                [submission.pk, Submission.Status.PENDING.value, Submission.Status.FAILED.value],
                result=result,
                line_offset=offset,
                finished_at=finished_at,
            )
        if not claimed:
            return None
        fault_point("before-append")
        append_line(results_file, results_line(result), offset)
        fault_point("after-append")
        mark_done(submission.pk)
        fault_point("after-commit")
    return offset


# The submission (id, then the pending and failed statuses) a success may still claim a line for:
# pending, or given up as lost, and with no line claimed yet.
RECORDABLE_WITHOUT_LINE = "id = %s AND line_offset IS NULL AND (status = %s OR (status = %s AND lost_at IS NOT NULL))"


def mark_done(pk: int) -> None:
    with queued_writer(), transaction.atomic():
        update_submissions("id = %s", [pk], status=Submission.Status.DONE, error="", lost_at=None)


def update_submissions(where: str, where_params: list, **values) -> int:
    """Submission.objects.filter(...).update(**values) with the condition written in SQL; the rows updated.

    Every success makes two such updates, and the ORM's compiling of them took
    several times what the database takes to run them. The values are prepared
    by their fields, as the ORM prepares them.
    """
    meta = Submission._meta
    quote = connection.ops.quote_name
    fields = [cast(Field, meta.get_field(name)) for name in values]
    columns = ", ".join(f"{quote(cast(str, field.column))} = %s" for field in fields)
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    # The names come from the model and the condition from this module; the values go as parameters.
    sql = f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *where_params])
        return cursor.rowcount


def results_file_lock():
    path: Path = settings.RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return queued_file_lock(path, timeout=settings.WRITE_LOCK_TIMEOUT, mode="a+b")


def append_line(results_file, line: bytes, offset: int) -> None:
    """Append `line` at `offset`, the file's end, in one write, and sync it to disk; on any
    error cut the file back to `offset`, so that no part of a line stays behind."""
    try:
        written = os.write(results_file.fileno(), line)
        if written != len(line):
            raise OSError(f"only {written} of {len(line)} bytes written")
        os.fsync(results_file.fileno())
    except OSError:
        os.ftruncate(results_file.fileno(), offset)
        raise


@functools.cache
def line_in_doubt_sql() -> tuple[str, tuple]:
    """The SQL of the look for a line in doubt, compiled by the ORM once per process.

    Every success looks, and compiling the query (a negated condition, as the
    partial index has it) costs ten times what SQLite takes to answer it.
    """
    query = Submission.objects.filter(Submission.LINE_IN_DOUBT).order_by().values("pk")[:1].query
    return query.sql_with_params()


def any_line_in_doubt() -> bool:
    sql, params = line_in_doubt_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def finish_lines_in_doubt(results_file) -> None:
    """Finish the successes a recorder left between claiming a line and marking it done.

    Their line is in the file at the offset they committed, or nothing is
    there and it is appended now. Only a crash leaves such a row, so this
    is an indexed look that finds nothing.
    """
    if not any_line_in_doubt():
        return
    for submission in Submission.objects.filter(Submission.LINE_IN_DOUBT).order_by("line_offset"):
        line = results_line(submission.result)
        size = os.fstat(results_file.fileno()).st_size
        offset = cast(int, submission.line_offset)
        if os.pread(results_file.fileno(), len(line), offset) != line:
            if size != offset:
                # The file was cut or rotated under us: the line goes at the new end.
                with queued_writer(), transaction.atomic():
                    Submission.objects.filter(pk=submission.pk).update(line_offset=size)
            append_line(results_file, line, size)
            logger.info("Recovered submission %s: line appended after an interrupted recording", submission.pk)
        else:
            logger.info("Recovered submission %s: its line was already written", submission.pk)
        mark_done(submission.pk)


def forget_result(task_id) -> None:
    """Remove a recorded result from the result backend, which needs it no more; expiry does
    it later when the backend cannot be reached now."""
    try:
        result_store().forget(str(task_id))
    except Exception as exc:  # the result is recorded; leaving it to expire loses nothing
        logger.warning("Could not forget recorded result %s; it expires by itself: %s", task_id, exc)


def fault_point(name: str) -> None:
    """Kill this process at the named point of recording when RECORD_FAULT_POINT names it.

    Lets the tests crash a recorder where a crash hurts most; the setting is
    empty, and this does nothing, unless a test sets it.
    """
    if name == settings.RECORD_FAULT_POINT:
        logger.warning("RECORD_FAULT_POINT=%s: killing this process", name)
        os.kill(os.getpid(), signal.SIGKILL)


def result_record(submission: Submission, *, timeout: float = 0, result: AsyncResult | None = None) -> Submission:
    """Record the submission's result if it is ready, waiting at most `timeout` seconds.

    A backend that cannot be reached leaves the submission pending, to be
    collected later: the result is not lost, only not yet known. Raises
    NotRecorded when the result came but could not be written.
    """
    if not submission.is_pending:
        return submission
    try:
        if timeout:
            result = result or app.AsyncResult(str(submission.task_id))
            outcome = waited_outcome(result, timeout)
        else:
            outcome = read_outcome(submission.task_id)
    except Exception as exc:
        if not is_backend_unreachable(exc):
            raise
        logger.warning("Result backend unavailable, %s stays pending: %s", submission.task_id, exc)
        return submission
    if outcome is None:
        return submission
    return record_outcome(submission, outcome)


# When a task's result last came to this process while a request waited for it: news of the
# workers newer than a health check made before it.
last_result_came_at: datetime | None = None


def result_came_since(moment: datetime) -> bool:
    return last_result_came_at is not None and last_result_came_at >= moment


def waited_outcome(result: AsyncResult, timeout: float) -> Outcome | None:
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
    return outcome_of_waited(result)


# --- looking after pending submissions ---------------------------------------


@dataclass
class CollectReport:
    """What one collector sweep did."""

    done: int = 0
    failed: int = 0
    resent: int = 0
    lost: int = 0
    still_pending: int = 0
    not_recorded: int = 0


def collect_pending(older_than_seconds: float = 0, report_each=None) -> CollectReport:
    """Record every pending submission whose result has come, then look after the stale ones.

    A sweep is bounded: at most COLLECT_BATCH_SIZE submissions, one round trip
    to the result backend for all of them, and bounded waits for each write.
    One bad row never stops the others. `report_each(submission)` is called for
    each submission this sweep recorded itself.
    """
    report = CollectReport()
    finish_interrupted_recordings()
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    watch_lost_since = timezone.now() - timedelta(seconds=settings.CELERY_RESULT_EXPIRES)
    candidates = list(
        Submission.objects.filter(
            Q(status=Submission.Status.PENDING) | Q(status=Submission.Status.FAILED, lost_at__gte=watch_lost_since),
            created_at__lte=cutoff,
        ).order_by("created_at")[:COLLECT_BATCH_SIZE]
    )
    if not candidates:
        return report
    outcomes = read_outcomes([str(submission.task_id) for submission in candidates])
    waiting = []
    for submission in candidates:
        outcome = outcomes[str(submission.task_id)]
        if outcome is None or (not submission.is_pending and outcome.status != Submission.Status.DONE):
            if submission.is_pending:
                waiting.append(submission)
            continue
        try:
            claimed = outcome_claim(submission, outcome)
        except NotRecorded as exc:
            logger.warning("Result of submission %s came but is not recorded yet: %s", submission.pk, exc)
            report.not_recorded += 1
            continue
        if not claimed:
            # Another recorder had it, and reports it.
            continue
        if submission.status == Submission.Status.DONE:
            report.done += 1
        elif submission.status == Submission.Status.FAILED:
            report.failed += 1
        if report_each:
            report_each(submission)
    resent, lost = look_after_stale(waiting, report_each)
    report.resent, report.lost = resent, lost
    report.still_pending = len(waiting) - lost
    return report


def finish_interrupted_recordings() -> None:
    """Finish recordings a crashed process left in doubt, whether or not any result is pending."""
    if any_line_in_doubt():
        try:
            with results_file_lock() as results_file:
                finish_lines_in_doubt(results_file)
        except (OSError, DatabaseError, WriteLockTimeout) as exc:
            logger.warning("Interrupted recordings not finished yet: %s", exc)


def look_after_stale(waiting: list[Submission], report_each=None) -> tuple[int, int]:
    """Send again, under the same task id, the stale submissions whose task is nowhere; give up on
    those sent STALE_PENDING_MAX_RESENDS times already. Returns (sent again, given up).

    Nowhere means: not in the queue, not held by a worker, no result. When that
    cannot be known (the broker or a worker does not answer, or messages wait in
    the queue, ours perhaps among them), nothing is done this sweep.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.STALE_PENDING_SECONDS)
    stale = [submission for submission in waiting if submission.last_sent_at <= stale_before]
    if not stale:
        return 0, 0
    held = tasks_held_by_workers([str(submission.task_id) for submission in stale])
    if held is None:
        return 0, 0
    stale = [submission for submission in stale if str(submission.task_id) not in held]
    if not stale:
        return 0, 0
    # A task may have finished since the look at the results: look again before sending.
    outcomes = read_outcomes([str(submission.task_id) for submission in stale])
    resent = lost = 0
    for submission in stale:
        if outcomes[str(submission.task_id)] is not None:
            continue
        if submission.resends >= settings.STALE_PENDING_MAX_RESENDS:
            if give_up(submission):
                lost += 1
                if report_each:
                    report_each(Submission.objects.get(pk=submission.pk))
            continue
        try:
            resend(submission)
        except (BrokerUnavailable, BackendUnavailable, DatabaseError, WriteLockTimeout) as exc:
            logger.warning("Could not send submission %s again: %s", submission.pk, exc)
            continue
        resent += 1
    return resent, lost


def tasks_held_by_workers(task_ids: list[str]) -> set[str] | None:
    """Which of these tasks the workers hold (running, reserved or scheduled); None when that cannot
    be known, or when messages are waiting in the queue (where these may be)."""
    queue = app.conf.task_default_queue
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=settings.HEALTH_TIMEOUT)
            waiting_messages, consumers = queue_depth(connection, queue)
            if waiting_messages:
                logger.info("%d messages wait in queue %r; stale submissions are left alone", waiting_messages, queue)
                return None
            replies = (
                app.control.inspect(
                    timeout=settings.HEALTH_TIMEOUT, connection=connection, limit=consumers or None
                ).query_task(*task_ids)
                or {}
            )
    except Exception as exc:  # the broker or the workers do not answer: the tasks may be anywhere
        logger.warning("Cannot tell whether stale submissions are still queued: %s", exc)
        return None
    if len(replies) < consumers:
        logger.warning(
            "%d of %d consumers of %r answered; stale submissions are left alone", len(replies), consumers, queue
        )
        return None
    return {task_id for reply in replies.values() for task_id in (reply or {})}


def queue_depth(connection, queue: str) -> tuple[int, int]:
    """(messages ready, consumers) of the queue; (0, 0) when it does not exist."""
    channel = connection.channel()
    try:
        _, messages, consumers = channel.queue_declare(queue=queue, passive=True)
    except connection.channel_errors:
        # AMQP answers a passive declare of a missing queue with 404, closing the channel.
        return 0, 0
    finally:
        # The broker's 404 answer may have closed it already.
        with contextlib.suppress(*connection.channel_errors, *connection.connection_errors):
            channel.close()
    return messages, consumers


def resend(submission: Submission) -> None:
    """Send the submission's task again under the same task id (the task is idempotent)."""
    result = send(submission)
    # The collector does not wait for it; stop listening on the result channel.
    result_store().remove_pending_result(result)
    with queued_writer(), transaction.atomic():
        Submission.objects.filter(pk=submission.pk, status=Submission.Status.PENDING).update(
            resends=submission.resends + 1, last_sent_at=timezone.now()
        )
    logger.info(
        "Sent submission %s again (%d of %d): its task was neither queued, running nor finished",
        submission.pk,
        submission.resends + 1,
        settings.STALE_PENDING_MAX_RESENDS,
    )


def give_up(submission: Submission) -> bool:
    """Mark a submission whose task was lost after every resend as failed, with the reason."""
    times = {0: "it was not sent again", 1: "sent again once"}.get(
        submission.resends, f"sent again {submission.resends} times"
    )
    try:
        with queued_writer(), transaction.atomic():
            return bool(
                Submission.objects.filter(pk=submission.pk, status=Submission.Status.PENDING).update(
                    status=Submission.Status.FAILED,
                    error=f"The result was lost; {times}.",
                    finished_at=timezone.now(),
                    lost_at=timezone.now(),
                )
            )
    except (DatabaseError, WriteLockTimeout) as exc:
        logger.warning("Could not mark submission %s as lost: %s", submission.pk, exc)
        return False
