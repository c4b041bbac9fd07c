"""What the pages read about submissions: a page of the history."""

import math
from dataclasses import dataclass

from .models import Submission

HISTORY_PAGE_SIZE = 10

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
    start = (number - 1) * HISTORY_PAGE_SIZE
    return list(Submission.objects.all()[start : start + HISTORY_PAGE_SIZE + 1])
