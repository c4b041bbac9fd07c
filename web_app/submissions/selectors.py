"""What the pages read about submissions: a page of a visitor's history, one of their submissions."""

import functools
import math
import uuid
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from .models import Submission

HISTORY_PAGE_SIZE = 10

# What the form page shows of each submission in its history (the task id for its link), and reads.
HISTORY_FIELDS = ("task_id", "first", "second", "result", "status", "created_at", "finished_at")

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


def history_page(visitor: str | None, page_number) -> HistoryPage:
    """One page of the visitor's submissions, newest first; a missing or bad number gives the nearest page.

    Reads one row more than a page instead of counting the rows (as Django's
    Paginator does on every page), so the form page costs the same with ten
    submissions or millions; only a number past the last page counts, to find it.
    A visitor with no id yet has made no submission.
    """
    try:
        number = min(max(int(page_number), 1), MAX_PAGE_NUMBER)
    except (TypeError, ValueError):
        number = 1
    if visitor is None:
        return HistoryPage(1, [], has_next=False)
    rows = submissions_from_page(visitor, number)
    if not rows and number > 1:
        number = max(math.ceil(Submission.objects.filter(visitor=visitor).count() / HISTORY_PAGE_SIZE), 1)
        rows = submissions_from_page(visitor, number)
    return HistoryPage(number, rows[:HISTORY_PAGE_SIZE], has_next=len(rows) > HISTORY_PAGE_SIZE)


# The ORM's compiling of a query costs more than SQLite's answer to it. These pages run SQL the
# ORM compiled once a process, with the values as its parameters: 0.20 ms of the form page's 2.0 ms
# of web CPU, and 0.38 ms of a submission page's 1.6 ms on SQLite; 0.37 ms of a submission page's
# 1.9 ms on PostgreSQL (bench/costs.py, one request at a time).
# What stands in for the values while compiling.
VISITOR_STAND_IN = "visitor-stand-in"
TASK_ID_STAND_IN = uuid.UUID(int=0)
TASK_ID_FIELD = Submission._meta.get_field("task_id")


def compiled_sql(rows: QuerySet, stand_ins: tuple) -> str:
    """The SQL of `rows`, whose parameters must be `stand_ins`, in that order, for the values to
    take their places."""
    sql, params = rows.query.sql_with_params()
    if params != stand_ins:
        raise RuntimeError(f"The compiled query takes {params!r}, not {stand_ins!r}")
    return sql


def submissions_from_page(visitor: str, number: int) -> list[Submission]:
    """The visitor's submissions of page `number` and the first of the next page, if there is one."""
    return list(Submission.objects.raw(history_sql(number), [visitor]))


@functools.lru_cache(maxsize=64)
def history_sql(number: int) -> str:
    start = (number - 1) * HISTORY_PAGE_SIZE
    # Only the columns the history shows: converting the others cost a third of reading them.
    rows = Submission.objects.filter(visitor=VISITOR_STAND_IN).only(*HISTORY_FIELDS)
    return compiled_sql(rows[start : start + HISTORY_PAGE_SIZE + 1], (VISITOR_STAND_IN,))


def visitor_submission(visitor: str | None, task_id: uuid.UUID) -> Submission | None:
    """The submission of that task id if the visitor made it; None for anyone else's."""
    if visitor is None:
        return None
    task_id_param = TASK_ID_FIELD.get_db_prep_value(task_id, connection)
    return next(iter(Submission.objects.raw(visitor_submission_sql(), [task_id_param, visitor])), None)


@functools.cache
def visitor_submission_sql() -> str:
    rows = Submission.objects.filter(task_id=TASK_ID_STAND_IN).filter(visitor=VISITOR_STAND_IN)
    task_id_param = TASK_ID_FIELD.get_db_prep_value(TASK_ID_STAND_IN, connection)
    return compiled_sql(rows, (task_id_param, VISITOR_STAND_IN))
