"""Bounded exclusive locks shared by the threads and processes of one host.

SQLite lets one writer in at a time; the results file must be appended by one
process at a time. Both waits end at WRITE_LOCK_TIMEOUT, so that no request
or collector sweep can wait for ever behind a stuck writer.
"""

import fcntl
import threading
import time
from collections import deque
from contextlib import contextmanager, nullcontext
from pathlib import Path

from django.conf import settings
from django.db import connection


class WriteLockTimeout(Exception):
    """A writer lock (the database's, the results file's) was not free within WRITE_LOCK_TIMEOUT;
    nothing was written."""


class SubmissionsBusy(WriteLockTimeout):
    """No submission slot of this process came free within SUBMISSION_SLOT_TIMEOUT; nothing was written."""


class FairSlots:
    """A semaphore that hands a released slot to the longest waiter, first come, first served.

    threading's semaphore (gevent's, once patched) lets a newcomer take a slot that was
    just released before the waiter it woke runs: under load some waiters lost that race
    again and again, and waited several times as long as the rest.
    """

    def __init__(self, size: int):
        self.free = size
        self.waiters: deque[threading.Event] = deque()
        self.guard = threading.Lock()

    def acquire(self, timeout: float) -> bool:
        with self.guard:
            if self.free and not self.waiters:
                self.free -= 1
                return True
            granted = threading.Event()
            self.waiters.append(granted)
        if granted.wait(timeout):
            return True
        with self.guard:
            if granted.is_set():  # handed over as the wait ran out
                return True
            self.waiters.remove(granted)
            return False

    def release(self) -> None:
        with self.guard:
            if self.waiters:
                self.waiters.popleft().set()
            else:
                self.free += 1


# Held by the submissions this process saves and sends, or records; the size is read when the first one
# comes, from the settings then in force.
submission_slots: FairSlots | None = None
submission_slots_guard = threading.Lock()


@contextmanager
def submission_slot():
    """Hold one of the SUBMISSION_SLOTS of this process, waiting SUBMISSION_SLOT_TIMEOUT at most.

    Under a load larger than the processor can serve, every request that has
    work to do takes its turn on it, and a page asked for behind a hundred
    submissions would wait for all of them; the submissions beyond the slots
    wait here instead, asleep, in the order they came, so that pages (and new
    connections) are served at once. Waiting for a task's result holds no slot.
    """
    global submission_slots
    with submission_slots_guard:
        if submission_slots is None:
            submission_slots = FairSlots(settings.SUBMISSION_SLOTS)
        slots = submission_slots
    timeout = settings.SUBMISSION_SLOT_TIMEOUT
    if not slots.acquire(timeout=timeout):
        raise SubmissionsBusy(f"no submission slot came free within {timeout:g} s")
    try:
        yield
    finally:
        slots.release()


# How often a process whose threads wait for a lock file tries it again.
LOCK_RETRY_INTERVAL = 0.001


def queued_writer():
    """Hold the database's writer lock for one write transaction (none for an in-memory database,
    nor for a server database, whose own row locks queue the writers)."""
    # is_in_memory_db() belongs to the SQLite backend's wrapper, the only one asked.
    if connection.vendor != "sqlite" or connection.is_in_memory_db():  # type: ignore[attr-defined]
        return nullcontext()
    return writer_lock(Path(f"{connection.settings_dict['NAME']}-writer-lock"))


def writer_lock(path: Path):
    """Hold the writer lock file `path`, waiting at most WRITE_LOCK_TIMEOUT seconds, then WriteLockTimeout.

    SQLite's own busy handler sleeps with back-offs of up to 100 ms, which under
    load turned waits of a few milliseconds into seconds.
    """
    return queued_file_lock(path, timeout=settings.WRITE_LOCK_TIMEOUT)


# The lock each lock file's threads of this process queue on, by path.
process_locks: dict[str, threading.Lock] = {}
process_locks_guard = threading.Lock()


def process_lock(path: Path) -> threading.Lock:
    with process_locks_guard:
        return process_locks.setdefault(str(path), threading.Lock())


@contextmanager
def queued_file_lock(path: Path, timeout: float, mode: str = "a"):
    """file_lock, with the threads of this process in line for it first.

    They wait on a threading lock, which wakes the next one as soon as it is
    free, and only the one in front tries the flock that processes share: a
    hundred waiting requests are not a hundred pollers.
    """
    deadline = time.monotonic() + timeout
    in_line = process_lock(path)
    if not in_line.acquire(timeout=timeout):
        raise WriteLockTimeout(f"{path} was not free within {timeout:.1f} s")
    try:
        with file_lock(path, timeout=max(deadline - time.monotonic(), 0), mode=mode) as locked_file:
            yield locked_file
    finally:
        in_line.release()


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
