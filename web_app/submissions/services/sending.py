"""Saving a submission and sending its task, or nothing of either."""

import functools
import logging
import uuid

from celery.result import AsyncResult
from django.conf import settings
from django.db import DatabaseError, transaction
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from web_app.celery import app

from ..exceptions import BackendUnavailable, BrokerUnavailable, DatabaseUnwritable
from ..locks import WriteLockTimeout, queued_writer, submission_slot
from ..models import Submission
from ..result_backend import is_backend_unreachable

logger = logging.getLogger(__name__)

# The whole contract with rabbitmq_celery: this name, called with two strings.
ADDING_TASK_NAME = "adding_taski"


@functools.cache
def broker_errors() -> tuple[type[BaseException], ...]:
    """Every error the broker's client raises for a failed publish: unreachable, refused
    credentials, a missing vhost, no permission."""
    with app.connection_for_write() as connection:
        return (OperationalError, *connection.connection_errors, *connection.channel_errors)


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
