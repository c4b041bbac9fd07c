"""What the pages read about submissions: a page of the history, one submission."""

import functools
import math
from dataclasses import dataclass

from .models import Submission

HISTORY_PAGE_SIZE = 10

# What the form page shows of each submission in its history, and reads.
HISTORY_FIELDS = ("first", "second", "result", "status", "created_at", "finished_at")

# Larger page numbers would overflow SQLite's 64-bit integers as an OFFSET; no table reaches them.
MAX_PAGE_NUMBER = 2**62 // HISTORY_PAGE_SIZE


@dataclass(frozen=True)
class HistoryPage:
    """One page of the history, newest first, and whether older submissions follow it."""

    number: int
    submissions: list[Submission]
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def history_page(page_number) -> HistoryPage:
    """One page of the submissions, newest first; a missing or bad number gives the nearest page.

    Reads one row more than a page instead of counting the table (as Django's
    Paginator does on every page), so the form page costs the same with ten
    submissions or millions; only a number past the last page counts, to find it.
    """
    try:
        number = min(max(int(page_number), 1), MAX_PAGE_NUMBER)
    except (TypeError, ValueError):
        number = 1
    rows = submissions_from_page(number)
    if not rows and number > 1:
        number = max(math.ceil(Submission.objects.count() / HISTORY_PAGE_SIZE), 1)
        rows = submissions_from_page(number)
    return HistoryPage(number, rows[:HISTORY_PAGE_SIZE], has_next=len(rows) > HISTORY_PAGE_SIZE)


def submissions_from_page(number: int) -> list[Submission]:
    """The submissions of page `number` and the first of the next page, if there is one."""
    return list(Submission.objects.raw(*page_sql(number)))


# The ORM's compiling of a query costs more than SQLite's answer to it (the form page's history,
# a submission's page): these pages run SQL the ORM compiled once.
@functools.lru_cache(maxsize=64)
def page_sql(number: int) -> tuple[str, tuple]:
    start = (number - 1) * HISTORY_PAGE_SIZE
    # Only the columns the history shows: converting the others (dates, UUIDs) cost a third of reading them.
    rows = Submission.objects.only(*HISTORY_FIELDS)[start : start + HISTORY_PAGE_SIZE + 1]
    return rows.query.sql_with_params()


@functools.cache
def submission_by_id_sql() -> str:
    sql, _ = Submission.objects.filter(pk=0).query.sql_with_params()
    return sql


# The largest id (a BigAutoField): a larger number in a URL names no submission, and the database
# would refuse it as a parameter.
MAX_ID = 2**63 - 1


def submission_by_id(pk: int) -> Submission | None:
    if not 0 < pk <= MAX_ID:
        return None
    return next(iter(Submission.objects.raw(submission_by_id_sql(), [pk])), None)
