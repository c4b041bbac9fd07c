"""The collector's sweep over pending submissions."""

import uuid
from datetime import timedelta

from django.utils import timezone

from submissions import services
from submissions.models import Submission
from submissions.services import collecting

from .results import done, store, store_raw


def test_a_hostile_result_does_not_stop_the_collection_of_the_others(db, results_file):
    bad, good = (Submission.objects.create(first=f"a{n}", second="b", task_id=uuid.uuid4()) for n in range(2))
    store_raw(bad.task_id, b"\x80not json")
    store(str(good.task_id), "a1 es b")

    report = services.collect_pending()

    assert (report.done, report.failed) == (1, 1)
    assert results_file.read_text() == "a1 es b\n"


def test_collect_pending_records_late_results_and_counts_them(db, results_file):
    done_one, _waiting = (Submission.objects.create(first=f"a{n}", second="b", task_id=uuid.uuid4()) for n in range(2))
    store(str(done_one.task_id), "a0 es b")

    first = services.collect_pending()
    assert (first.done, first.failed, first.still_pending) == (1, 0, 1)
    assert results_file.read_text() == "a0 es b\n"
    second = services.collect_pending()
    assert (second.done, second.still_pending) == (0, 1)


def test_collect_pending_reports_only_what_it_recorded_itself(db, results_file, monkeypatch):
    submission = Submission.objects.create(first="cats", second="dogs", task_id=uuid.uuid4())
    store(str(submission.task_id), "cats es dogs")
    read_outcomes = services.read_outcomes

    def another_collector_wins(task_ids):
        outcomes = read_outcomes(task_ids)
        # Another collector records it between this sweep's read and its claim.
        services.outcome_record(Submission.objects.get(pk=submission.pk), done("cats es dogs"))
        return outcomes

    monkeypatch.setattr(collecting, "read_outcomes", another_collector_wins)
    reported: list[Submission] = []

    report = services.collect_pending(report_each=reported.append)

    assert (report.done, reported) == (0, [])
    assert results_file.read_text() == "cats es dogs\n"


def test_collect_pending_skips_the_recent_ones_when_asked(db, results_file):
    recent = Submission.objects.create(first="a", second="b", task_id=uuid.uuid4())
    store(str(recent.task_id), "a es b")
    assert services.collect_pending(older_than_seconds=60).done == 0
    Submission.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert services.collect_pending(older_than_seconds=60).done == 1
