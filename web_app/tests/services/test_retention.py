import uuid
from datetime import timedelta

import pytest
from axes.models import AccessLog
from django.utils import timezone

from submissions.models import StaffLogin, Submission
from submissions.services import logins_prune, submissions_prune

DONE, FAILED, PENDING = Submission.Status.DONE, Submission.Status.FAILED, Submission.Status.PENDING


def made(days_ago: float, status=DONE, **fields) -> Submission:
    """A submission made `days_ago` days ago (created_at is set on insert, so it is moved back after)."""
    submission = Submission.objects.create(first="cats", second="dogs", task_id=uuid.uuid4(), status=status, **fields)
    Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return submission


def left() -> set[int]:
    return set(Submission.objects.values_list("pk", flat=True))


@pytest.fixture
def keep_30_days(settings, db):
    settings.SUBMISSIONS_KEEP_DAYS = 30
    settings.CELERY_RESULT_EXPIRES = 3600


def test_old_done_and_failed_submissions_go_and_every_other_stays(keep_30_days):
    old_done, old_failed = made(31), made(40, FAILED)
    kept = {
        made(29).pk,
        made(29, FAILED).pk,
        made(100, PENDING).pk,
        # A line claimed and not yet marked done: the recording a crash interrupted needs its row.
        made(100, PENDING, line_offset=0).pk,
        made(100, FAILED, line_offset=12).pk,
        # Given up as lost an hour ago less a minute: its result may still come.
        made(100, FAILED, lost_at=timezone.now() - timedelta(seconds=3540)).pk,
    }
    lost_long_ago = made(100, FAILED, lost_at=timezone.now() - timedelta(days=90))

    report = submissions_prune()

    assert report.submissions == 3
    assert not report.more
    assert left() == kept
    assert not Submission.objects.filter(pk__in=(old_done.pk, old_failed.pk, lost_long_ago.pk)).exists()


def test_submissions_go_in_batches_and_max_batches_leaves_the_rest(keep_30_days):
    old = [made(31).pk for _ in range(7)]
    new = made(1).pk

    first = submissions_prune(batch_size=3, max_batches=2)
    assert (first.submissions, first.more) == (6, True)
    second = submissions_prune(batch_size=3, max_batches=2)
    assert (second.submissions, second.more) == (1, False)
    assert left() == {new}
    assert not set(old) & left()


def test_keep_days_0_keeps_everything(settings, db):
    settings.SUBMISSIONS_KEEP_DAYS = 0
    made(10_000)

    assert submissions_prune().submissions == 0
    assert Submission.objects.count() == 1


def test_ended_admin_logins_and_old_login_records_go(keep_30_days, admin_user):
    now = timezone.now()
    StaffLogin.objects.create(key_digest="a" * 64, user=admin_user, started_at=now, ends_at=now - timedelta(seconds=1))
    running = StaffLogin.objects.create(
        key_digest="b" * 64, user=admin_user, started_at=now, ends_at=now + timedelta(hours=1)
    )
    for days_ago in (31, 1):
        log = AccessLog.objects.create(username="admin", ip_address="203.0.113.1", user_agent="test")
        AccessLog.objects.filter(pk=log.pk).update(attempt_time=now - timedelta(days=days_ago))

    assert logins_prune() == 1
    assert list(StaffLogin.objects.all()) == [running]
    assert AccessLog.objects.count() == 1
    assert AccessLog.objects.get().attempt_time > now - timedelta(days=2)


def test_ended_admin_logins_go_with_keep_days_0_too(settings, admin_user):
    settings.SUBMISSIONS_KEEP_DAYS = 0
    now = timezone.now()
    StaffLogin.objects.create(key_digest="a" * 64, user=admin_user, started_at=now, ends_at=now - timedelta(seconds=1))

    assert logins_prune() == 1
    assert not StaffLogin.objects.exists()


def test_each_batch_of_a_thousand_goes_in_one_statement(keep_30_days, django_assert_max_num_queries):
    Submission.objects.bulk_create(
        Submission(first="cats", second="dogs", task_id=uuid.uuid4(), status=DONE) for _ in range(1001)
    )
    Submission.objects.update(created_at=timezone.now() - timedelta(days=31))

    # Two batches, each one DELETE inside its savepoint (the test runs in a transaction).
    with django_assert_max_num_queries(2 * 3):
        report = submissions_prune()

    assert report.submissions == 1001
    assert not Submission.objects.exists()
