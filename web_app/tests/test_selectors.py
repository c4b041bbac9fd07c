"""A visitor's history pages on the form, and a visitor's submission as its pages read it."""

import uuid

import pytest

from submissions import selectors
from submissions.models import Submission

VISITOR = "a" * 32


def make_submissions(count, visitor=VISITOR):
    return [
        Submission.objects.create(first=f"first{number}", second="x", task_id=uuid.uuid4(), visitor=visitor)
        for number in range(count)
    ]


@pytest.mark.django_db
def test_the_history_is_newest_first_in_pages():
    made = make_submissions(selectors.HISTORY_PAGE_SIZE + 3)

    first_page = selectors.history_page(VISITOR, None)
    second_page = selectors.history_page(VISITOR, "2")

    assert first_page.submissions == made[::-1][: selectors.HISTORY_PAGE_SIZE]
    assert second_page.submissions == made[::-1][selectors.HISTORY_PAGE_SIZE :]
    assert (first_page.has_previous, first_page.has_next) == (False, True)
    assert (second_page.has_previous, second_page.has_next) == (True, False)


@pytest.mark.django_db
def test_a_full_last_page_has_no_next_page():
    make_submissions(selectors.HISTORY_PAGE_SIZE)

    page = selectors.history_page(VISITOR, "1")

    assert len(page.submissions) == selectors.HISTORY_PAGE_SIZE
    assert not page.has_next


@pytest.mark.django_db
def test_a_history_page_is_one_query_however_long_the_history(django_assert_num_queries):
    make_submissions(3 * selectors.HISTORY_PAGE_SIZE)

    with django_assert_num_queries(1):
        page = selectors.history_page(VISITOR, "2")

    assert page.has_previous and page.has_next


@pytest.mark.django_db
@pytest.mark.parametrize(
    "number, expected",
    [("junk", 1), (None, 1), ("", 1), ("0", 1), ("-3", 1), ("2.5", 1), ("99", 2), ("9" * 30, 2)],
)
def test_a_bad_page_number_gives_the_nearest_page(number, expected):
    made = make_submissions(selectors.HISTORY_PAGE_SIZE + 1)

    page = selectors.history_page(VISITOR, number)

    assert page.number == expected
    assert page.submissions == made[::-1][(expected - 1) * selectors.HISTORY_PAGE_SIZE :][: selectors.HISTORY_PAGE_SIZE]


@pytest.mark.django_db
def test_an_empty_history_is_one_empty_page():
    page = selectors.history_page(VISITOR, "3")

    assert (page.number, page.submissions, page.has_previous, page.has_next) == (1, [], False, False)


@pytest.mark.django_db
def test_a_visitor_sees_only_their_own_submissions():
    own = make_submissions(3)
    make_submissions(4, visitor="b" * 32)
    make_submissions(2, visitor="")

    assert selectors.history_page(VISITOR, None).submissions == own[::-1]


@pytest.mark.django_db
def test_a_visitor_with_no_id_yet_has_an_empty_history_and_no_submission(django_assert_num_queries):
    made = make_submissions(2, visitor="")

    with django_assert_num_queries(0):
        assert selectors.history_page(None, "1").submissions == []
        assert selectors.visitor_submission(None, made[0].task_id) is None


@pytest.mark.django_db
def test_a_submission_answers_only_to_the_visitor_who_made_it():
    (own,) = make_submissions(1)
    (other,) = make_submissions(1, visitor="b" * 32)

    assert selectors.visitor_submission(VISITOR, own.task_id) == own
    assert selectors.visitor_submission(VISITOR, other.task_id) is None
    assert selectors.visitor_submission(VISITOR, uuid.uuid4()) is None


@pytest.mark.django_db
@pytest.mark.parametrize("number", [1, 2, 3])
def test_the_compiled_history_selects_what_the_orm_filter_selects(number):
    for visitor in (VISITOR, "b" * 32, ""):
        make_submissions(2 * selectors.HISTORY_PAGE_SIZE, visitor=visitor)
    start = (number - 1) * selectors.HISTORY_PAGE_SIZE

    compiled = selectors.submissions_from_page(VISITOR, number)
    orm = list(Submission.objects.filter(visitor=VISITOR)[start : start + selectors.HISTORY_PAGE_SIZE + 1])

    assert [row.pk for row in compiled] == [row.pk for row in orm]
