"""Recording a finished task: its outcome on the submission, a success's line in the results file once.

Recording a result is the one place where the results file and the database
must agree. The database is the record of what was written: before a line is
appended, the offset where it will start is committed on its row, so that
after a crash at any point the next recorder can tell, under the same lock,
whether the line reached the file, and finish the job instead of appending
blindly.
"""

import functools
import logging
import os
from datetime import datetime
from typing import cast

from celery.result import AsyncResult
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Field
from django.utils import timezone

from web_app.celery import app

from ..exceptions import NotRecorded
from ..fault_points import fault_point
from ..locks import WriteLockTimeout, queued_writer, submission_slot
from ..models import Submission
from ..result_backend import is_backend_unreachable, result_store
from ..results_file import append_line, results_file_lock, results_line
from .outcomes import Outcome, checked_against_inputs, read_outcome
from .waiting import outcome_wait

logger = logging.getLogger(__name__)


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
            database_connection_released()
            outcome = outcome_wait(result, timeout)
        else:
            outcome = read_outcome(submission.task_id)
    except Exception as exc:
        if not is_backend_unreachable(exc):
            raise
        logger.warning("Result backend unavailable, %s stays pending: %s", submission.task_id, exc)
        return submission
    if outcome is None:
        return submission
    outcome_record(submission, outcome)
    return submission


def database_connection_released() -> None:
    """Give this request's connection to a database server back (to the pool) while it waits for
    its task: otherwise every waiting submission would hold one, past what the server takes.

    SQLite's connection is a file of this greenlet's own, which costs more to open again than
    to keep.
    """
    if connection.vendor != "sqlite" and not connection.in_atomic_block:
        connection.close()


def outcome_record(submission: Submission, outcome: Outcome) -> bool:
    """Store a finished task's outcome; a success's line goes to the results file exactly once.

    True when this call stored it, False when another recorder had it or the
    writers stayed busy past WRITE_LOCK_TIMEOUT (the submission stays pending for
    the collector); `submission` shows what is stored either way. Raises
    NotRecorded (the submission stays pending) when the results file or the
    database cannot be written. A success whose result is not what its inputs
    give is recorded as a failure, and nothing is written.
    """
    outcome = checked_against_inputs(outcome, submission.first, submission.second)
    finished_at = outcome.finished_at or timezone.now()
    try:
        # In a slot, as a submission's sending is: without one, a process's recordings ran beside
        # its two sends, and with 256 submissions waiting on a 0.5 s task the form page's p99
        # went from 112 ms to 212 and 267 ms (bench.run, one after the other).
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
        # Whole, path included: it goes to the log, and the page says only that the file refused it.
        raise NotRecorded(str(exc)) from exc
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

    Under the results file's lock: finish any line a crashed recorder of this
    host left in doubt, commit where (on which host, at which offset) this line
    will start, append it, then mark it done.
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
                line_host=settings.RESULTS_HOST,
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
    several times what the database takes to run them: with the ORM's updates
    (and its exists() for the lines in doubt) a POST took 0.78 ms more of its
    5.2 ms of web CPU on SQLite, 1.7 ms more of 7.5 ms on PostgreSQL
    (bench/costs.py, one request at a time). The values are prepared by their
    fields, as the ORM prepares them.
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


def lines_in_doubt(host: str):
    """The host's lines in doubt: only the host that claimed a line can look in its file for it."""
    return Submission.objects.filter(Submission.LINE_IN_DOUBT, line_host=host)


@functools.cache
def line_in_doubt_sql(host: str) -> tuple[str, tuple]:
    """The SQL of the look for a line in doubt of `host`, compiled by the ORM once per process.

    Every success looks, and compiling the query (a negated condition, as the
    partial index has it) costs ten times what SQLite takes to answer it.
    """
    query = lines_in_doubt(host).order_by().values("pk")[:1].query
    return query.sql_with_params()


def any_line_in_doubt() -> bool:
    sql, params = line_in_doubt_sql(settings.RESULTS_HOST)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def finish_lines_in_doubt(results_file) -> None:
    """Finish the successes a recorder of this host left between claiming a line and marking it done.

    Their line is in the file at the offset they committed, or nothing is
    there and it is appended now. Only a crash leaves such a row, so this
    is an indexed look that finds nothing.
    """
    if not any_line_in_doubt():
        return
    for submission in lines_in_doubt(settings.RESULTS_HOST).order_by("line_offset"):
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


def finish_interrupted_recordings() -> None:
    """Finish recordings a crashed process left in doubt, whether or not any result is pending."""
    if any_line_in_doubt():
        try:
            with results_file_lock() as results_file:
                finish_lines_in_doubt(results_file)
        except (OSError, DatabaseError, WriteLockTimeout) as exc:
            logger.warning("Interrupted recordings not finished yet: %s", exc)


def forget_result(task_id) -> None:
    """Remove a recorded result from the result backend, which needs it no more; expiry does
    it later when the backend cannot be reached now."""
    try:
        result_store().forget(str(task_id))
    except Exception as exc:  # the result is recorded; leaving it to expire loses nothing
        logger.warning("Could not forget recorded result %s; it expires by itself: %s", task_id, exc)
