"""The history pages of the form, and a submission's status as the pages read it."""
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from submissions import selectors
from submissions.models import Submission


def make_submissions(count):
    made = [
        Submission.objects.create(first=f"first{number}", second="x", task_id=uuid.uuid4())
        for number in range(count)
    ]
    return made


@pytest.mark.django_db
def test_the_history_is_newest_first_in_pages():
    made = make_submissions(selectors.HISTORY_PAGE_SIZE + 3)

    first_page = selectors.history_page(None)
    second_page = selectors.history_page("2")

    assert list(first_page) == made[::-1][: selectors.HISTORY_PAGE_SIZE]
    assert list(second_page) == made[::-1][selectors.HISTORY_PAGE_SIZE :]
    assert first_page.paginator.num_pages == 2


@pytest.mark.django_db
@pytest.mark.parametrize("number, expected", [("junk", 1), ("0", 2), ("99", 2), ("", 1)])
def test_a_bad_page_number_gives_the_nearest_page(number, expected):
    make_submissions(selectors.HISTORY_PAGE_SIZE + 1)

    assert selectors.history_page(number).number == expected


@pytest.mark.django_db
def test_a_finished_submission_reports_how_long_it_took():
    submission = Submission.objects.create(
        first="a", second="b", task_id=uuid.uuid4(), status=Submission.Status.DONE, result="a es b"
    )
    submission.finished_at = submission.created_at + timedelta(seconds=1.5)
    submission.save()

    status = selectors.submission_status(submission)

    assert status["duration_seconds"] == 1.5
    assert status["finished_at"] == submission.finished_at.isoformat()
    assert status["result"] == "a es b"
    assert status["written_to_results_file"] is True
    assert status["waiting_seconds"] is None


@pytest.mark.django_db
def test_a_pending_submission_reports_how_long_it_has_waited():
    submission = Submission.objects.create(first="a", second="b", task_id=uuid.uuid4())
    Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    submission.refresh_from_db()

    status = selectors.submission_status(submission)

    assert 30 <= status["waiting_seconds"] < 60
    assert status["duration_seconds"] is None
