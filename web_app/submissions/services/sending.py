"""Saving a submission and sending its task, or nothing of either."""

import functools
import logging
import math
import threading
import time
import uuid
from typing import Any, cast

from amqp.exceptions import MessageNacked
from celery.result import AsyncResult
from django.conf import settings
from django.db import DatabaseError, transaction
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from web_app.celery import app

from ..exceptions import BackendUnavailable, BrokerUnavailable, DatabaseUnwritable, QueueFull
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


def submission_create(*, first: str, second: str, visitor: str = "") -> tuple[Submission, AsyncResult]:
    """Save the submission, then send its task, in one of the process's submission slots; when
    sending fails the submission is deleted again.

    The row is committed before the task is sent, so that every task the broker
    has belongs to a submission its result is recorded on, and so that the
    publish and its confirm (a few milliseconds, at times hundreds while
    RabbitMQ syncs its disk) do not hold SQLite's single write lock. Raises
    QueueFull, saving nothing, when SUBMISSIONS_MAX_QUEUED tasks wait already.
    """
    task_id = str(uuid.uuid4())
    with submission_slot(), app.producer_or_acquire() as producer:
        if queue_count.estimate(producer) >= settings.SUBMISSIONS_MAX_QUEUED:
            raise QueueFull(f"{settings.SUBMISSIONS_MAX_QUEUED} submissions are waiting for a worker")
        try:
            with queued_writer(), transaction.atomic():
                submission = Submission.objects.create(first=first, second=second, task_id=task_id, visitor=visitor)
        except DatabaseError as exc:
            logger.warning("Database unwritable, nothing sent: %s", exc)
            raise DatabaseUnwritable(str(exc)) from exc
        try:
            result = send(submission, producer=producer)
        except (BrokerUnavailable, BackendUnavailable):
            discard(submission)
            raise
        queue_count.sent_one()
    return submission, result


class QueueCount:
    """The tasks waiting in the task queue, as this process last read them plus those it sent since.

    Far from the bound (under half of SUBMISSIONS_MAX_QUEUED) the count is read from the
    broker at most once every READ_INTERVAL seconds; from half of it on, on every
    submission. The other processes' sends since the last read are not in the estimate,
    so with two processes it reaches the half before the queue reaches the bound, and the
    bound is kept exactly. Reading it on every submission cost a round trip to the broker
    and about 4 % of a submission's CPU, on the web and on RabbitMQ (bench.run, 16
    clients). RabbitMQ's own bound (the task-queue-bound policy) holds against what an
    estimate lets through.
    """

    READ_INTERVAL = 1.0

    def __init__(self):
        self.guard = threading.Lock()
        self.read_count = 0
        self.sent_since = 0
        self.read_at = -math.inf

    def estimate(self, producer) -> int:
        with self.guard:
            estimate = self.read_count + self.sent_since
            fresh = time.monotonic() - self.read_at < self.READ_INTERVAL
        if fresh and estimate < settings.SUBMISSIONS_MAX_QUEUED / 2:
            return estimate
        count = waiting_tasks(producer)
        with self.guard:
            self.read_count, self.sent_since, self.read_at = count, 0, time.monotonic()
        return count

    def sent_one(self) -> None:
        with self.guard:
            self.sent_since += 1


queue_count = QueueCount()


def waiting_tasks(producer) -> int:
    """The tasks ready in the task queue, which the queue's declare answers with; the queue is
    declared as Celery declares it, retried as a publish is."""
    queue = app.amqp.queues[app.conf.task_default_queue]

    def declare() -> int:
        # kombu's stubs give the answer as a string; it is the broker's queue_declare_ok_t.
        return cast(Any, queue(producer.channel).queue_declare()).message_count

    try:
        ensured = producer.connection.ensure(producer, declare, **app.conf.task_publish_retry_policy)
        return ensured()
    except broker_errors() as exc:
        logger.warning("Broker unavailable, nothing sent: %s", exc)
        raise BrokerUnavailable(str(exc)) from exc


def send(submission: Submission, producer=None) -> AsyncResult:
    """Publish the submission's task under its own task id; QueueFull, BrokerUnavailable or BackendUnavailable."""
    try:
        return app.send_task(
            ADDING_TASK_NAME,
            args=(submission.first, submission.second),
            task_id=str(submission.task_id),
            producer=producer,
            # A broker that never confirms (a node cut off from its cluster) must not hold the request.
            confirm_timeout=settings.PUBLISH_CONFIRM_TIMEOUT,
        )
    except broker_errors() as exc:
        if isinstance(exc.__cause__, MessageNacked):
            # RabbitMQ's own bound on the queue (a max-length policy with reject-publish) refused it;
            # kombu raises the refusal as an OperationalError.
            logger.warning("Broker refused task %s, its queue is full", submission.task_id)
            raise QueueFull("the broker's bound on the task queue is reached") from exc
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
