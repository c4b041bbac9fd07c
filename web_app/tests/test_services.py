import multiprocessing
import threading
import time
import uuid
from datetime import timedelta

import pytest
from celery.exceptions import TimeoutError as ResultTimeout
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


# --- append_result_line ---------------------------------------------------


def test_append_result_line_appends_and_never_truncates(tmp_path):
    path = tmp_path / "new" / "results.txt"
    services.append_result_line(path, "cats es dogs")
    services.append_result_line(path, "birds es fish")
    assert path.read_text() == "cats es dogs\nbirds es fish\n"


def append_many(path, tag, count):
    for number in range(count):
        services.append_result_line(path, f"{tag}-{number} es " + "x" * 3000)


def test_append_result_line_keeps_lines_whole_across_processes(tmp_path):
    path = tmp_path / "results.txt"
    writers = [
        multiprocessing.Process(target=append_many, args=(path, f"p{index}", 200)) for index in range(4)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 800
    assert len(set(lines)) == 800
    assert all(line.endswith(" es " + "x" * 3000) for line in lines)


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
    assert services.wait_for_result(result, timeout=0.5) is False
    assert result.ready_calls <= 2
    assert result.removed, "a result given up on stops being listened for"


# --- writer_lock ------------------------------------------------------------


def test_writer_lock_gives_up_at_its_timeout_while_another_process_holds_it(settings, lock_held_by_another_process):
    settings.WRITE_LOCK_TIMEOUT = 0.2
    path, _ = lock_held_by_another_process

    with pytest.raises(services.WriteLockTimeout):
        with services.writer_lock(path):
            pytest.fail("entered a lock that another process holds")


def test_writer_lock_is_taken_once_the_other_process_lets_go(settings, lock_held_by_another_process):
    settings.WRITE_LOCK_TIMEOUT = 10
    path, let_go = lock_held_by_another_process
    threading.Timer(0.2, let_go).start()
    entered = []

    with services.writer_lock(path):
        entered.append(True)

    assert entered


def test_writer_lock_gives_up_at_its_timeout_while_another_thread_holds_it(settings, tmp_path):
    settings.WRITE_LOCK_TIMEOUT = 0.2
    held, release = threading.Event(), threading.Event()

    def hold():
        with services.writer_lock(tmp_path / "writer-lock"):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with pytest.raises(services.WriteLockTimeout):
            with services.writer_lock(tmp_path / "writer-lock"):
                pytest.fail("entered a lock that another thread holds")
    finally:
        release.set()
        holder.join(10)


# --- record_outcome and refresh ------------------------------------------


def test_refresh_records_a_success_and_writes_it_once(submission, results_file):
    store(str(submission.task_id), "cats es dogs")

    services.refresh(submission)
    services.refresh(Submission.objects.get(pk=submission.pk))
    services.record_outcome(Submission.objects.get(pk=submission.pk), app.AsyncResult(str(submission.task_id)))

    submission.refresh_from_db()
    assert submission.status == Submission.Status.DONE
    assert submission.result == "cats es dogs"
    assert submission.finished_at is not None
    assert results_file.read_text() == "cats es dogs\n"


def test_record_outcome_returns_the_submission_as_stored(submission, results_file):
    store(str(submission.task_id), "cats es dogs")

    recorded = services.record_outcome(submission, app.AsyncResult(str(submission.task_id)))

    stored = Submission.objects.get(pk=submission.pk)
    assert (recorded.status, recorded.result, recorded.finished_at) == (
        Submission.Status.DONE, "cats es dogs", stored.finished_at
    )
    assert (stored.status, stored.result) == (Submission.Status.DONE, "cats es dogs")


def test_record_outcome_on_a_stale_copy_returns_what_the_first_recorder_stored(submission, results_file):
    stale_copy = Submission.objects.get(pk=submission.pk)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    # Another process recorded it first, an hour ago.
    Submission.objects.filter(pk=submission.pk).update(
        status=Submission.Status.DONE, result="cats es dogs", finished_at=an_hour_ago
    )
    store(str(submission.task_id), "cats es dogs")

    again = services.record_outcome(stale_copy, app.AsyncResult(str(submission.task_id)))

    assert (again.status, again.result, again.finished_at) == (Submission.Status.DONE, "cats es dogs", an_hour_ago)
    assert not results_file.exists()


def test_refresh_records_a_failure_and_writes_nothing(submission, results_file):
    store(str(submission.task_id), ValueError("no strings today"), state="FAILURE")

    services.refresh(submission)

    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert "ValueError" in submission.error and "no strings today" in submission.error
    assert not results_file.exists()


def test_refresh_leaves_an_unfinished_submission_pending(submission, results_file):
    assert services.refresh(submission).status == Submission.Status.PENDING
    assert not results_file.exists()


def test_a_failed_write_leaves_the_submission_pending_to_try_again(submission, results_file, monkeypatch):
    store(str(submission.task_id), "cats es dogs")

    def disk_full(path, line):
        raise OSError("No space left on device")

    monkeypatch.setattr(services, "append_result_line", disk_full)
    with pytest.raises(OSError):
        services.refresh(submission)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PENDING

    monkeypatch.undo()
    services.refresh(submission)
    assert results_file.read_text() == "cats es dogs\n"


def test_collect_pending_records_late_results_and_counts_them(db, results_file):
    done, waiting = (
        Submission.objects.create(first=f"a{n}", second="b", task_id=uuid.uuid4())
        for n in range(2)
    )
    store(str(done.task_id), "a0 es b")

    assert services.collect_pending() == {"pending": 1, "done": 1, "failed": 0}
    assert results_file.read_text() == "a0 es b\n"
    assert services.collect_pending() == {"pending": 1, "done": 0, "failed": 0}


def test_collect_pending_skips_the_recent_ones_when_asked(db, results_file):
    recent = Submission.objects.create(first="a", second="b", task_id=uuid.uuid4())
    store(str(recent.task_id), "a es b")
    assert services.collect_pending(older_than_seconds=60) == {"pending": 0, "done": 0, "failed": 0}
    Submission.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert services.collect_pending(older_than_seconds=60)["done"] == 1
