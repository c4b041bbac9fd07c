"""The history pages of the form, and a submission's status as the pages read it."""

import uuid

import pytest

from submissions import selectors
from submissions.models import Submission


def make_submissions(count):
    made = [
        Submission.objects.create(first=f"first{number}", second="x", task_id=uuid.uuid4()) for number in range(count)
    ]
    return made


@pytest.mark.django_db
def test_the_history_is_newest_first_in_pages():
    made = make_submissions(selectors.HISTORY_PAGE_SIZE + 3)

    first_page = selectors.history_page(None)
    second_page = selectors.history_page("2")

    assert first_page.submissions == made[::-1][: selectors.HISTORY_PAGE_SIZE]
    assert second_page.submissions == made[::-1][selectors.HISTORY_PAGE_SIZE :]
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
    assert page.submissions == made[::-1][(expected - 1) * selectors.HISTORY_PAGE_SIZE :][: selectors.HISTORY_PAGE_SIZE]


@pytest.mark.django_db
def test_an_empty_history_is_one_empty_page():
    page = selectors.history_page("3")

    assert (page.number, page.submissions, page.has_previous, page.has_next) == (1, [], False, False)
