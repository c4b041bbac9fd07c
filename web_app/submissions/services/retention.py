"""What the site keeps: finished submissions for SUBMISSIONS_KEEP_DAYS, then removed in small batches;
admin logins until they end."""

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
    """What one pruning of submissions removed."""

    submissions: int = 0
    # Old submissions left for the next pruning, which max_batches stopped short of.
    more: bool = False


def prunable_submissions() -> QuerySet[Submission]:
    """Done and failed submissions made more than SUBMISSIONS_KEEP_DAYS ago, but never one the
    exactly-once recording still needs: pending, its line in doubt, or lost recently enough that
    its result may still come (within CELERY_RESULT_EXPIRES of being given up)."""
    now = timezone.now()
    # "Not pending" rather than "done or failed", which is the same: given the status as an IN list,
    # SQLite walks the status index through every finished row instead of the created_at index
    # through the old ones alone (a pruning with nothing to remove, at a million rows: 190 ms, 2 ms).
    return (
        Submission.objects.filter(created_at__lt=now - timedelta(days=settings.SUBMISSIONS_KEEP_DAYS))
        .exclude(status=Submission.Status.PENDING)
        .exclude(Submission.LINE_IN_DOUBT)
        .exclude(lost_at__gte=now - timedelta(seconds=settings.CELERY_RESULT_EXPIRES))
    )


def submissions_prune(batch_size: int = PRUNE_BATCH_SIZE, max_batches: int | None = None) -> PruneReport:
    """Remove the old finished submissions (prunable_submissions), oldest first, batch_size to a
    transaction; after max_batches the rest is left (report.more), so that a caller with other
    work, the collector, is not held up. Nothing when SUBMISSIONS_KEEP_DAYS is 0.

    The results file is the record and is not touched.
    """
    report = PruneReport()
    if settings.SUBMISSIONS_KEEP_DAYS <= 0:
        return report
    batches = 0
    while True:
        oldest = prunable_submissions().order_by("created_at").values("pk")[:batch_size]
        with queued_writer(), transaction.atomic():
            # One statement, whose conditions PostgreSQL checks again on a row another process
            # changed meanwhile (a lost submission whose result came and whose line it claims).
            removed = prunable_submissions().filter(pk__in=oldest).delete()[0]
        report.submissions += removed
        batches += 1
        if removed < batch_size:
            break
        if max_batches is not None and batches >= max_batches:
            report.more = True
            break
    logger.info("Pruned %d submissions older than %d days", report.submissions, settings.SUBMISSIONS_KEEP_DAYS)
    return report


def logins_prune() -> int:
    """Remove the rows of ended admin logins, and django-axes' login records older than
    SUBMISSIONS_KEEP_DAYS (unless that is 0); how many admin logins went."""
    with queued_writer(), transaction.atomic():
        ended = StaffLogin.objects.filter(ends_at__lte=timezone.now()).delete()[0]
    if settings.SUBMISSIONS_KEEP_DAYS > 0:
        with queued_writer():
            # axes' own management commands: its public interface for this.
            for command in ("axes_reset_logs", "axes_reset_failure_logs"):
                call_command(command, age=settings.SUBMISSIONS_KEEP_DAYS, stdout=io.StringIO())
    return ended
