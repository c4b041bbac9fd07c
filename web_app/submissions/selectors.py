"""What the pages read about submissions: a page of the history, one submission's status."""
from django.core.paginator import Page, Paginator
from django.utils import timezone

from .models import Submission

HISTORY_PAGE_SIZE = 10


def history_page(page_number) -> Page:
    """One page of the submissions, newest first; a missing or bad number gives the nearest page."""
    return Paginator(Submission.objects.all(), HISTORY_PAGE_SIZE).get_page(page_number)


def submission_status(submission: Submission) -> dict:
    """What a submission's page shows, as JSON for its status endpoint."""
    duration = submission.duration
    return {
        "id": submission.pk,
        "status": submission.status,
        "status_display": submission.get_status_display(),
        "first": submission.first,
        "second": submission.second,
        "result": submission.result if submission.status == Submission.Status.DONE else None,
        "error": submission.error if submission.status == Submission.Status.FAILED else None,
        # The result line is in the results file exactly when the submission is done.
        "written_to_results_file": submission.status == Submission.Status.DONE,
        "created_at": submission.created_at.isoformat(),
        "finished_at": submission.finished_at.isoformat() if submission.finished_at else None,
        "duration_seconds": duration.total_seconds() if duration is not None else None,
        "waiting_seconds": (
            (timezone.now() - submission.created_at).total_seconds() if submission.is_pending else None
        ),
    }
