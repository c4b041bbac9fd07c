"""What the site keeps: finished submissions for SUBMISSIONS_KEEP_DAYS, then removed in small batches."""

import io
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..locks import queued_writer
from ..models import StaffLogin, Submission

logger = logging.getLogger(__name__)

# Rows removed per transaction: each holds SQLite's writer lock, or adds to PostgreSQL's WAL, only briefly.
PRUNE_BATCH_SIZE = 1000


@dataclass
class PruneReport:
    """What one pruning removed."""

    submissions: int = 0
    staff_logins: int = 0
    # Old submissions left for the next pruning, which max_batches stopped short of.
    more: bool = False


def prunable_submissions() -> QuerySet[Submission]:
    """Done and failed submissions made more than SUBMISSIONS_KEEP_DAYS ago, but never one the
    exactly-once recording still needs: pending, its line in doubt, or lost recently enough that
    its result may still come (within CELERY_RESULT_EXPIRES of being given up)."""
    now = timezone.now()
    # "Not pending" rather than "done or failed", which is the same: given the status as an IN list,
    # SQLite walks the status index through every finished row (200 ms a pruning at a million rows)
    # instead of the created_at index through the old ones alone (0.04 ms).
    return (
        Submission.objects.filter(created_at__lt=now - timedelta(days=settings.SUBMISSIONS_KEEP_DAYS))
        .exclude(status=Submission.Status.PENDING)
        .exclude(Submission.LINE_IN_DOUBT)
        .exclude(lost_at__gte=now - timedelta(seconds=settings.CELERY_RESULT_EXPIRES))
    )


def submissions_prune(batch_size: int = PRUNE_BATCH_SIZE, max_batches: int | None = None) -> PruneReport:
    """Remove what is kept no longer: old finished submissions, ended admin logins, and django-axes'
    login records older than SUBMISSIONS_KEEP_DAYS. Nothing when SUBMISSIONS_KEEP_DAYS is 0.

    Submissions go batch_size at a time, each batch its own transaction; after max_batches the
    rest is left (report.more) so that a caller with other work, the collector, is not held up.
    The results file is the record and is not touched.
    """
    report = PruneReport()
    if settings.SUBMISSIONS_KEEP_DAYS <= 0:
        return report
    batches = 0
    while True:
        with queued_writer(), transaction.atomic():
            batch = list(prunable_submissions().order_by("created_at").values_list("pk", flat=True)[:batch_size])
            if batch:
                report.submissions += Submission.objects.filter(pk__in=batch).delete()[0]
        batches += 1
        if len(batch) < batch_size:
            break
        if max_batches is not None and batches >= max_batches:
            report.more = True
            break
    with queued_writer(), transaction.atomic():
        report.staff_logins = StaffLogin.objects.filter(ends_at__lte=timezone.now()).delete()[0]
    with queued_writer():
        for command in ("axes_reset_logs", "axes_reset_failure_logs"):
            call_command(command, age=settings.SUBMISSIONS_KEEP_DAYS, stdout=io.StringIO())
    logger.info(
        "Pruned %d submissions older than %d days and %d ended admin logins",
        report.submissions,
        settings.SUBMISSIONS_KEEP_DAYS,
        report.staff_logins,
    )
    return report
