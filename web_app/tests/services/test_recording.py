"""Recording outcomes: each success's line once, failures without a line, crashes finished."""

import os
import uuid
from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from submissions import services
from submissions.models import Submission
from submissions.services import recording
from submissions.services.outcomes import MISMATCH_ERROR

from .results import done, store, store_raw


def test_result_record_records_a_success_and_writes_it_once(submission, results_file):
    store(str(submission.task_id), "cats es dogs")

    services.result_record(submission)
    services.result_record(Submission.objects.get(pk=submission.pk))
    services.outcome_record(Submission.objects.get(pk=submission.pk), done("cats es dogs"))

    submission.refresh_from_db()
    assert submission.status == Submission.Status.DONE
    assert submission.result == "cats es dogs"
    assert submission.finished_at is not None
    assert submission.line_offset == 0
    assert results_file.read_text() == "cats es dogs\n"


def test_a_recorded_result_is_removed_from_the_result_backend(submission, results_file):
    store(str(submission.task_id), "cats es dogs")

    services.result_record(submission)

    assert services.read_outcome(submission.task_id) is None


def test_each_line_remembers_where_it_starts(db, results_file):
    first, second = (Submission.objects.create(first=f"a{n}", second="b", task_id=uuid.uuid4()) for n in range(2))
    services.outcome_record(first, done("a0 es b"))
    services.outcome_record(second, done("a1 es b"))
    assert (first.line_offset, second.line_offset) == (0, len(b"a0 es b\n"))


def test_a_stale_copy_is_not_recorded_again_and_shows_what_the_first_recorder_stored(submission, results_file):
    stale_copy = Submission.objects.get(pk=submission.pk)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    # Another process recorded it first, an hour ago.
    Submission.objects.filter(pk=submission.pk).update(
        status=Submission.Status.DONE, result="cats es dogs", finished_at=an_hour_ago, line_offset=0
    )

    claimed = services.outcome_record(stale_copy, done("cats es dogs"))

    assert claimed is False
    again = stale_copy
    assert (again.status, again.result, again.finished_at) == (Submission.Status.DONE, "cats es dogs", an_hour_ago)
    assert results_file.read_text() == ""


def test_result_record_records_a_failure_and_writes_nothing(submission, results_file):
    store(str(submission.task_id), ValueError("no strings today"), state="FAILURE")

    services.result_record(submission)

    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert "ValueError" in submission.error and "no strings today" in submission.error
    assert not results_file.exists()


def test_result_record_leaves_an_unfinished_submission_pending(submission, results_file):
    assert services.result_record(submission).status == Submission.Status.PENDING
    assert not results_file.exists()


def test_a_failed_write_leaves_the_submission_pending_and_the_file_whole(submission, results_file, monkeypatch):
    results_file.parent.mkdir(parents=True)
    results_file.write_text("earlier es line\n")
    store(str(submission.task_id), "cats es dogs")
    real_write = os.write

    def disk_full_halfway(fd, data):
        real_write(fd, data[:4])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full_halfway)
    with pytest.raises(services.NotRecorded, match="No space left"):
        services.result_record(submission)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PENDING
    assert results_file.read_text() == "earlier es line\n"

    monkeypatch.undo()
    services.collect_pending()
    submission.refresh_from_db()
    assert submission.status == Submission.Status.DONE
    assert results_file.read_text() == "earlier es line\ncats es dogs\n"


def test_an_unwritable_results_file_is_not_recorded(submission, results_file):
    results_file.parent.mkdir(parents=True)
    results_file.mkdir()  # a folder where the file should be: opening it fails as a full or read-only disk does
    store(str(submission.task_id), "cats es dogs")

    with pytest.raises(services.NotRecorded):
        services.result_record(submission)
    submission.refresh_from_db()
    assert (submission.status, submission.line_offset) == (Submission.Status.PENDING, None)


def claim_without_finishing(submission, results_file, line_written, host=""):
    """Leave the submission as a recorder of `host` killed after its claim leaves it, its line written or not."""
    results_file.parent.mkdir(parents=True, exist_ok=True)
    offset = results_file.stat().st_size if results_file.exists() else 0
    Submission.objects.filter(pk=submission.pk).update(result="cats es dogs", line_offset=offset, line_host=host)
    if line_written:
        with open(results_file, "ab") as f:
            f.write(b"cats es dogs\n")


@pytest.mark.parametrize("line_written", [False, True], ids=["killed before the append", "killed after the append"])
def test_a_recording_interrupted_by_a_crash_is_finished_with_its_line_once(submission, results_file, line_written):
    claim_without_finishing(submission, results_file, line_written)
    store(str(submission.task_id), "cats es dogs")

    services.collect_pending()
    services.collect_pending()
    services.result_record(Submission.objects.get(pk=submission.pk))

    submission.refresh_from_db()
    assert submission.status == Submission.Status.DONE
    assert results_file.read_text() == "cats es dogs\n"


def test_an_interrupted_recording_is_finished_before_the_next_line_is_appended(db, submission, results_file):
    claim_without_finishing(submission, results_file, line_written=False)
    other = Submission.objects.create(first="owls", second="bats", task_id=uuid.uuid4())

    services.outcome_record(other, done("owls es bats"))

    assert results_file.read_text() == "cats es dogs\nowls es bats\n"
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.DONE


def test_each_line_remembers_the_host_whose_results_file_holds_it(submission, results_file, settings):
    settings.RESULTS_HOST = "web-2"

    services.outcome_record(submission, done("cats es dogs"))

    assert Submission.objects.get(pk=submission.pk).line_host == "web-2"
    assert results_file.read_text() == "cats es dogs\n"


def test_only_the_host_that_claimed_a_line_finishes_it(submission, results_file, settings, tmp_path):
    """Each host has a results file of its own: another host cannot tell whether the line reached it."""
    results_file.parent.mkdir(parents=True)
    results_file.touch()
    claim_without_finishing(submission, results_file, line_written=False, host="web-1")
    store(str(submission.task_id), "cats es dogs")
    settings.RESULTS_HOST = "web-2"
    settings.RESULTS_FILE = other_hosts_file = tmp_path / "web-2" / "results.txt"

    services.collect_pending()
    services.outcome_record(Submission.objects.get(pk=submission.pk), done("cats es dogs"))

    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.PENDING
    assert other_hosts_file.read_bytes() == b""
    assert results_file.read_bytes() == b""

    settings.RESULTS_HOST = "web-1"
    settings.RESULTS_FILE = results_file
    services.finish_interrupted_recordings()

    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.DONE
    assert results_file.read_text() == "cats es dogs\n"
    assert other_hosts_file.read_bytes() == b""


def test_an_interrupted_recording_is_finished_even_when_its_result_expired(submission, results_file):
    claim_without_finishing(submission, results_file, line_written=True)

    services.collect_pending()

    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.DONE
    assert results_file.read_text() == "cats es dogs\n"


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"\x80not json", "not JSON"),
        (b'"just a string"', "expected an object"),
        (b'{"status": "SUCCESS", "result": {"a": 1}}', "returned dict, not text"),
        (
            b'{"status": "FAILURE", "result": {"exc_type": "system", "exc_module": "os", "exc_message": ["rm -rf /"]}}',
            "system: rm -rf /",
        ),
    ],
)
def test_a_hostile_result_fails_its_submission_with_a_reason(submission, results_file, payload, reason):
    store_raw(submission.task_id, payload)

    services.result_record(submission)

    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert reason in submission.error
    assert not results_file.exists()


def test_a_result_with_line_breaks_is_written_as_one_line(db, results_file):
    # Inputs the form refuses, which a submission made some other way may still hold.
    submission = Submission.objects.create(first="cats\nx", second="\u2028dogs", task_id=uuid.uuid4())
    store(str(submission.task_id), "cats\nx es \u2028dogs")

    services.result_record(submission)

    assert results_file.read_text(encoding="utf-8").splitlines() == ["cats\\nx es \\u2028dogs"]


@pytest.mark.parametrize(
    "forged",
    ["owls es bats", "cats es dogs ", "\x1b[2J\x1b]0;pwned\x07", "x" * 100_000, ""],
    ids=["another join", "one more space", "terminal escapes", "100 KB", "empty"],
)
def test_a_result_that_is_not_the_join_of_its_inputs_fails_and_writes_nothing(submission, results_file, forged):
    store(str(submission.task_id), forged)

    services.result_record(submission)

    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert submission.error == MISMATCH_ERROR
    assert "not match its inputs" in submission.error
    assert submission.result == "" and submission.line_offset is None
    assert not results_file.exists()


def test_a_mismatched_result_fails_its_submission_through_every_recorder(db, results_file):
    collected, handed = (Submission.objects.create(first="a", second=f"b{n}", task_id=uuid.uuid4()) for n in range(2))
    store(str(collected.task_id), "a es b1")

    services.collect_pending()
    services.outcome_record(handed, done("a es b0"))

    for submission in (collected, handed):
        submission.refresh_from_db()
        assert (submission.status, submission.error) == (Submission.Status.FAILED, MISMATCH_ERROR)
    assert not results_file.exists()


def test_the_expected_result_is_the_workers_join():
    assert services.expected_result("cats", "dogs") == "cats es dogs"


@pytest.mark.django_db
def test_the_sql_of_a_recordable_row_selects_what_its_orm_filter_selects():
    """RECORDABLE_WITHOUT_LINE, written in SQL for speed, against the ORM filter it stands for."""
    rows = [
        Submission.objects.create(
            first="x", second="y", task_id=uuid.uuid4(), status=status, lost_at=lost_at, line_offset=line_offset
        )
        for status in Submission.Status.values
        for lost_at in (None, timezone.now())
        for line_offset in (None, 0, 7)
    ]
    orm_filter = Q(line_offset__isnull=True) & (
        Q(status=Submission.Status.PENDING) | Q(status=Submission.Status.FAILED, lost_at__isnull=False)
    )
    statuses = [Submission.Status.PENDING.value, Submission.Status.FAILED.value]

    # The condition is the module's own constant; extra() is how the ORM runs a WHERE written in SQL.
    matches = Submission.objects.extra
    by_sql = [
        row.pk
        for row in rows
        if matches(where=[recording.RECORDABLE_WITHOUT_LINE], params=[row.pk, *statuses]).exists()
    ]

    assert by_sql == list(Submission.objects.filter(orm_filter).order_by("pk").values_list("pk", flat=True))
    assert 0 < len(by_sql) < len(rows)
