"""The collector's sweep: record every pending submission whose result has come, look after the stale ones."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..exceptions import NotRecorded
from ..models import Submission
from .lost_tasks import look_after_stale
from .outcomes import read_outcomes
from .recording import finish_interrupted_recordings, outcome_record

logger = logging.getLogger(__name__)

# The most pending submissions one collector sweep looks at, oldest first, so that a sweep is bounded.
COLLECT_BATCH_SIZE = 500


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
            claimed = outcome_record(submission, outcome)
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
