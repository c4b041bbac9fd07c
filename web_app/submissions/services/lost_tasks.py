"""Submissions whose task is nowhere (not queued, not held by a worker, no result): sent again, or given up."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from web_app.celery import app

from ..broker import ready_messages_and_consumers
from ..exceptions import BackendUnavailable, BrokerUnavailable
from ..locks import WriteLockTimeout, queued_writer
from ..models import Submission
from ..result_backend import result_store
from .outcomes import read_outcomes
from .sending import send

logger = logging.getLogger(__name__)


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
            waiting_messages, consumers = ready_messages_and_consumers(connection, queue)
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
