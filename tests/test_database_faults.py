"""The database's writer lock held by someone else: a clear page within WRITE_LOCK_TIMEOUT, nothing half done."""

import fcntl
from contextlib import contextmanager

from harness.external_services import existing_queue_depth
from harness.processes import HttpClient, post_duration

DATABASE_BUSY = "The database is too busy right now, so nothing was sent."
WRITE_LOCK_TIMEOUT = 0.5


@contextmanager
def writer_lock_held(stack):
    """Hold the web app's writer lock file, as a stuck writer in another process would."""
    with open(stack.root / "web.sqlite3-writer-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def test_a_stuck_writer_gives_clear_pages_and_no_submission_is_lost_or_written_twice(make_stack, record_property):
    stack = make_stack(WRITE_LOCK_TIMEOUT=str(WRITE_LOCK_TIMEOUT), RESULT_TIMEOUT="5")
    stack.start_worker()
    stack.start_web()
    browser = HttpClient(stack.base_url)
    before = browser.submit("before", "lock")
    assert "before es lock" in before.text

    with writer_lock_held(stack):
        refused = browser.submit("while", "locked")
        form = browser.get("/")

    record_property("seconds_to_refuse_with_the_writer_lock_held", round(post_duration(refused), 2))
    assert refused.status_code == 503 and DATABASE_BUSY in refused.text
    assert post_duration(refused) <= WRITE_LOCK_TIMEOUT + 2, "refused at the lock's deadline, not a hang"
    assert form.status_code == 200, "reading needs no writer lock"
    assert [row["first"] for row in stack.submissions()] == ["before"], "nothing saved"
    assert existing_queue_depth(stack.queue).ready == 0, "nothing sent"

    after = browser.submit("after", "lock")
    assert "after es lock" in after.text
    assert stack.results_lines() == ["before es lock", "after es lock"]
