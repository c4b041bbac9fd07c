"""Bounded exclusive locks shared by the threads and processes of one host.

SQLite lets one writer in at a time; the results file must be appended by one
process at a time. Both waits end at WRITE_LOCK_TIMEOUT, so that no request
or collector sweep can wait for ever behind a stuck writer.
"""

import fcntl
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from django.conf import settings
from django.db import connection


class WriteLockTimeout(Exception):
    """A writer lock (the database's, the results file's) was not free within WRITE_LOCK_TIMEOUT;
    nothing was written."""


# Threads of one process queue here for the database's writer lock file.
process_writer_lock = threading.Lock()

# How often a process whose threads wait for a lock file tries it again.
LOCK_RETRY_INTERVAL = 0.001


def queued_writer():
    """Hold the database's writer lock for one write transaction (none for an in-memory database,
    nor for a server database, whose own row locks queue the writers)."""
    # is_in_memory_db() belongs to the SQLite backend's wrapper, the only one asked.
    if connection.vendor != "sqlite" or connection.is_in_memory_db():  # type: ignore[attr-defined]
        return nullcontext()
    return writer_lock(Path(f"{connection.settings_dict['NAME']}-writer-lock"))


@contextmanager
def writer_lock(path: Path):
    """Hold the writer lock file `path`, waiting at most WRITE_LOCK_TIMEOUT seconds, then WriteLockTimeout.

    Threads of a process wait on a threading lock, which wakes the next one as
    soon as it is free, and the one thread in front tries the flock that
    processes share every millisecond; SQLite's own busy handler instead sleeps
    with back-offs of up to 100 ms, which under load turned waits of a few
    milliseconds into seconds.
    """
    timeout = settings.WRITE_LOCK_TIMEOUT
    deadline = time.monotonic() + timeout
    if not process_writer_lock.acquire(timeout=timeout):
        raise WriteLockTimeout(f"{path} was not free within {timeout:.1f} s")
    try:
        with file_lock(path, timeout=max(deadline - time.monotonic(), 0)):
            yield
    finally:
        process_writer_lock.release()


@contextmanager
def file_lock(path: Path, timeout: float, mode: str = "a"):
    """Open `path` (for appending, unless `mode` says otherwise; "a+b" also reads) and hold an exclusive flock on it.

    Tries again every LOCK_RETRY_INTERVAL; WriteLockTimeout when it is not free within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    with open(path, mode) as locked_file:
        while True:
            try:
                fcntl.flock(locked_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriteLockTimeout(f"{path} was not free within {timeout:.1f} s") from None
                time.sleep(LOCK_RETRY_INTERVAL)
        try:
            yield locked_file
        finally:
            fcntl.flock(locked_file, fcntl.LOCK_UN)
