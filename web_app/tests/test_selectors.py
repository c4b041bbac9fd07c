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
    assert (first_page.has_previous, first_page.has_next) == (False, True)
    assert (second_page.has_previous, second_page.has_next) == (True, False)


@pytest.mark.django_db
def test_a_full_last_page_has_no_next_page():
    make_submissions(selectors.HISTORY_PAGE_SIZE)

    page = selectors.history_page("1")

    assert len(page.submissions) == selectors.HISTORY_PAGE_SIZE
    assert not page.has_next


@pytest.mark.django_db
def test_a_history_page_is_one_query_however_long_the_history(django_assert_num_queries):
    make_submissions(3 * selectors.HISTORY_PAGE_SIZE)

    with django_assert_num_queries(1):
        page = selectors.history_page("2")

    assert page.has_previous and page.has_next


@pytest.mark.django_db
@pytest.mark.parametrize(
    "number, expected",
    [("junk", 1), (None, 1), ("", 1), ("0", 1), ("-3", 1), ("2.5", 1), ("99", 2), ("9" * 30, 2)],
)
def test_a_bad_page_number_gives_the_nearest_page(number, expected):
    made = make_submissions(selectors.HISTORY_PAGE_SIZE + 1)

    page = selectors.history_page(number)

    assert page.number == expected
    assert list(page) == made[::-1][(expected - 1) * selectors.HISTORY_PAGE_SIZE :][: selectors.HISTORY_PAGE_SIZE]


@pytest.mark.django_db
def test_an_empty_history_is_one_empty_page():
    page = selectors.history_page("3")

    assert (page.number, page.submissions, page.has_previous, page.has_next) == (1, [], False, False)


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
