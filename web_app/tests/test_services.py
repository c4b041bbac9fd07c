import json
import threading
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from celery.exceptions import TimeoutError as ResultTimeout
from celery.result import AsyncResult
from celery.utils.collections import BufferMap
from django.conf import settings as django_settings
from django.utils import timezone

from submissions import services
from submissions.models import Submission
from web_app.celery import app


def store(task_id, result, state="SUCCESS"):
    """Store a result the way the worker does, in the test's (filesystem) result backend."""
    app.backend.store_result(task_id, result, state)


@pytest.fixture
def submission(db):
    return Submission.objects.create(first="cats", second="dogs", task_id=uuid.uuid4())


@pytest.fixture
def results_file(settings, tmp_path):
    settings.RESULTS_FILE = tmp_path / "results" / "results.txt"
    return settings.RESULTS_FILE


# --- results_line ------------------------------------------------------------


def test_results_line_is_the_result_and_one_line_break():
    assert services.results_line("cats es dogs") == b"cats es dogs\n"


@pytest.mark.parametrize("breaker", ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
def test_results_line_escapes_every_line_break(breaker):
    line = services.results_line(f"one{breaker}two").decode("utf-8")
    assert line.endswith("\n")
    assert len(line.splitlines()) == 1
    assert line.startswith("one\\") and line.rstrip("\n").endswith("two")


# --- wait_for_result ------------------------------------------------------


def test_wait_for_result_returns_as_soon_as_the_result_is_stored():
    task_id = str(uuid.uuid4())
    threading.Timer(0.2, store, args=(task_id, "cats es dogs")).start()
    result = app.AsyncResult(task_id)

    started = time.monotonic()
    assert services.wait_for_result(result, timeout=5) is True
    assert time.monotonic() - started < 5
    assert result.get() == "cats es dogs"


def test_wait_for_result_gives_up_at_its_deadline():
    result = app.AsyncResult(str(uuid.uuid4()))
    started = time.monotonic()
    assert services.wait_for_result(result, timeout=0.3) is False
    assert 0.3 <= time.monotonic() - started < 1.3


class NeverReadyResult:
    """A result whose get() blocks for its whole timeout, as a real one does when nothing comes."""

    def __init__(self):
        self.ready_calls = 0
        self.removed = False
        self.backend = self

    def get(self, timeout, **kwargs):
        time.sleep(timeout)
        raise ResultTimeout()

    def ready(self):
        self.ready_calls += 1
        return False

    def remove_pending_result(self, result):
        self.removed = True


def test_wait_for_result_blocks_between_checks_instead_of_spinning():
    result = NeverReadyResult()
    assert services.wait_for_result(cast(AsyncResult, result), timeout=0.5) is False
    assert result.ready_calls <= 2
    assert result.removed, "a result given up on stops being listened for"


# --- record_outcome and refresh ------------------------------------------------


def done(result):
    return services.Outcome(Submission.Status.DONE, result=result)


def test_refresh_records_a_success_and_writes_it_once(submission, results_file):
    store(str(submission.task_id), "cats es dogs")

    services.result_record(submission)
    services.result_record(Submission.objects.get(pk=submission.pk))
    services.record_outcome(Submission.objects.get(pk=submission.pk), done("cats es dogs"))

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
    services.record_outcome(first, done("a0 es b"))
    services.record_outcome(second, done("a1 es b"))
    assert (first.line_offset, second.line_offset) == (0, len(b"a0 es b\n"))


def test_record_outcome_on_a_stale_copy_returns_what_the_first_recorder_stored(submission, results_file):
    stale_copy = Submission.objects.get(pk=submission.pk)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    # Another process recorded it first, an hour ago.
    Submission.objects.filter(pk=submission.pk).update(
        status=Submission.Status.DONE, result="cats es dogs", finished_at=an_hour_ago, line_offset=0
    )

    again = services.record_outcome(stale_copy, done("cats es dogs"))

    assert (again.status, again.result, again.finished_at) == (Submission.Status.DONE, "cats es dogs", an_hour_ago)
    assert results_file.read_text() == ""


def test_refresh_records_a_failure_and_writes_nothing(submission, results_file):
    store(str(submission.task_id), ValueError("no strings today"), state="FAILURE")

    services.result_record(submission)

    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert "ValueError" in submission.error and "no strings today" in submission.error
    assert not results_file.exists()


def test_refresh_leaves_an_unfinished_submission_pending(submission, results_file):
    assert services.result_record(submission).status == Submission.Status.PENDING
    assert not results_file.exists()


def test_a_failed_write_leaves_the_submission_pending_and_the_file_whole(submission, results_file, monkeypatch):
    results_file.parent.mkdir(parents=True)
    results_file.write_text("earlier es line\n")
    store(str(submission.task_id), "cats es dogs")
    real_write = services.os.write

    def disk_full_halfway(fd, data):
        real_write(fd, data[:4])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(services.os, "write", disk_full_halfway)
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


# --- interrupted recordings ------------------------------------------------------


def claim_without_finishing(submission, results_file, line_written):
    """Leave the submission as a recorder killed after its claim leaves it, its line written or not."""
    results_file.parent.mkdir(parents=True, exist_ok=True)
    offset = results_file.stat().st_size if results_file.exists() else 0
    Submission.objects.filter(pk=submission.pk).update(result="cats es dogs", line_offset=offset)
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

    services.record_outcome(other, done("owls es bats"))

    assert results_file.read_text() == "cats es dogs\nowls es bats\n"
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.DONE


def test_an_interrupted_recording_is_finished_even_when_its_result_expired(submission, results_file):
    claim_without_finishing(submission, results_file, line_written=True)

    services.collect_pending()

    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.DONE
    assert results_file.read_text() == "cats es dogs\n"


# --- bad data in the result backend ------------------------------------------------


def store_raw(task_id, payload: bytes):
    backend = services.result_store()
    backend.set(backend.get_key_for_task(str(task_id)), payload)


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


def test_a_hostile_result_does_not_stop_the_collection_of_the_others(db, results_file):
    bad, good = (Submission.objects.create(first=f"a{n}", second="b", task_id=uuid.uuid4()) for n in range(2))
    store_raw(bad.task_id, b"\x80not json")
    store(str(good.task_id), "a1 es b")

    report = services.collect_pending()

    assert (report.done, report.failed) == (1, 1)
    assert results_file.read_text() == "a1 es b\n"


def test_a_result_with_line_breaks_is_written_as_one_line(submission, results_file):
    store(str(submission.task_id), "cats\nes\u2028dogs")

    services.result_record(submission)

    assert results_file.read_text(encoding="utf-8").splitlines() == ["cats\\nes\\u2028dogs"]


# --- collect_pending -------------------------------------------------------------


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
        services.record_outcome(Submission.objects.get(pk=submission.pk), done("cats es dogs"))
        return outcomes

    monkeypatch.setattr(services, "read_outcomes", another_collector_wins)
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


# --- stale submissions -----------------------------------------------------------


def make_stale(submission, resends=0):
    Submission.objects.filter(pk=submission.pk).update(
        last_sent_at=timezone.now() - timedelta(hours=1), resends=resends
    )


def purge_queue():
    with app.connection_for_write() as connection:
        cast(Any, connection.default_channel).queue_purge(app.conf.task_default_queue)


def test_a_stale_submission_whose_task_is_nowhere_is_sent_again_under_its_task_id(submission, results_file):
    purge_queue()
    make_stale(submission)

    report = services.collect_pending()

    submission.refresh_from_db()
    assert (report.resent, submission.resends, submission.status) == (1, 1, Submission.Status.PENDING)
    assert submission.last_sent_at > timezone.now() - timedelta(minutes=1)
    assert queued_task_ids() == [str(submission.task_id)]


def test_a_stale_submission_whose_task_may_still_be_queued_is_left_alone(submission, results_file):
    purge_queue()
    services.send(Submission.objects.create(first="x", second="y", task_id=uuid.uuid4()))
    make_stale(submission)

    report = services.collect_pending()

    submission.refresh_from_db()
    assert (report.resent, submission.resends) == (0, 0)


def test_a_submission_lost_after_every_resend_fails_with_its_reason(submission, results_file, settings):
    purge_queue()
    make_stale(submission, resends=settings.STALE_PENDING_MAX_RESENDS)

    report = services.collect_pending()

    submission.refresh_from_db()
    assert report.lost == 1
    assert submission.status == Submission.Status.FAILED
    assert submission.error == f"The result was lost; sent again {settings.STALE_PENDING_MAX_RESENDS} times."
    assert submission.is_lost


def test_a_result_that_comes_after_its_submission_was_given_up_still_counts(submission, results_file, settings):
    purge_queue()
    make_stale(submission, resends=settings.STALE_PENDING_MAX_RESENDS)
    services.collect_pending()
    store(str(submission.task_id), "cats es dogs")

    services.collect_pending()

    submission.refresh_from_db()
    assert (submission.status, submission.error, submission.lost_at) == (Submission.Status.DONE, "", None)
    assert results_file.read_text() == "cats es dogs\n"


def queued_task_ids() -> list[str]:
    """The task ids of the messages in the embedded broker's queue, without taking them."""
    folder = django_settings.EMBEDDED_BROKER_DIR / "queue"
    return [
        json.loads(path.read_text())["headers"]["id"] for path in folder.glob(f"*.{app.conf.task_default_queue}.msg")
    ]


def test_a_publish_waits_for_the_broker_s_confirm_for_a_bounded_time(submission, settings, monkeypatch):
    settings.PUBLISH_CONFIRM_TIMEOUT = 1.5
    sent = {}
    real_send_task = app.send_task

    def send_task(name, **options):
        sent.update(options)
        return real_send_task(name, **options)

    monkeypatch.setattr(app, "send_task", send_task)

    services.send(submission)

    assert sent["confirm_timeout"] == 1.5


def test_a_message_taken_from_celery_s_buffer_leaves_no_buffer_behind():
    buffers: BufferMap = BufferMap(8192)
    backend = SimpleNamespace(_pending_messages=buffers)
    buffers.put("came-early", {"status": "SUCCESS"})
    buffers.put("other", {"status": "SUCCESS"})
    buffers.take("came-early")  # what adding a pending result does with a message that came before it
    assert "came-early" in buffers, "Celery leaves the empty buffer, one a submission"

    services.forget_buffered_messages(backend, "came-early")
    services.forget_buffered_messages(backend, "never-buffered")

    assert list(buffers) == ["other"]
    assert buffers.total == 1
