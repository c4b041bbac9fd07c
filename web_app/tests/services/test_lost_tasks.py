"""Stale submissions whose task is nowhere: sent again under the same task id, or given up."""

import json
import uuid
from datetime import timedelta
from typing import Any, cast

from django.conf import settings as django_settings
from django.utils import timezone

from submissions import services
from submissions.models import Submission
from web_app.celery import app

from .results import store


def make_stale(submission, resends=0):
    Submission.objects.filter(pk=submission.pk).update(
        last_sent_at=timezone.now() - timedelta(hours=1), resends=resends
    )


def purge_queue():
    with app.connection_for_write() as connection:
        cast(Any, connection.default_channel).queue_purge(app.conf.task_default_queue)


def queued_task_ids() -> list[str]:
    """The task ids of the messages in the embedded broker's queue, without taking them."""
    folder = django_settings.EMBEDDED_BROKER_DIR / "queue"
    return [
        json.loads(path.read_text())["headers"]["id"] for path in folder.glob(f"*.{app.conf.task_default_queue}.msg")
    ]


def test_a_stale_submission_whose_task_is_nowhere_is_sent_again_under_its_task_id(submission, results_file):
    purge_queue()
    make_stale(submission)

    report = services.collect_pending()

    submission.refresh_from_db()
    assert (report.resent, submission.resends, submission.status) == (1, 1, Submission.Status.PENDING)
    assert submission.last_sent_at > timezone.now() - timedelta(minutes=1)
    assert queued_task_ids() == [str(submission.task_id)]


def test_a_stale_submission_whose_task_may_still_be_queued_is_left_alone(submission, results_file):
    purge_queue()
    services.send(Submission.objects.create(first="x", second="y", task_id=uuid.uuid4()))
    make_stale(submission)

    report = services.collect_pending()

    submission.refresh_from_db()
    assert (report.resent, submission.resends) == (0, 0)


def test_a_submission_lost_after_every_resend_fails_with_its_reason(submission, results_file, settings):
    purge_queue()
    make_stale(submission, resends=settings.STALE_PENDING_MAX_RESENDS)

    report = services.collect_pending()

    submission.refresh_from_db()
    assert report.lost == 1
    assert submission.status == Submission.Status.FAILED
    assert submission.error == f"The result was lost; sent again {settings.STALE_PENDING_MAX_RESENDS} times."
    assert submission.is_lost


def test_a_result_that_comes_after_its_submission_was_given_up_still_counts(submission, results_file, settings):
    purge_queue()
    make_stale(submission, resends=settings.STALE_PENDING_MAX_RESENDS)
    services.collect_pending()
    store(str(submission.task_id), "cats es dogs")

    services.collect_pending()

    submission.refresh_from_db()
    assert (submission.status, submission.error, submission.lost_at) == (Submission.Status.DONE, "", None)
    assert results_file.read_text() == "cats es dogs\n"
