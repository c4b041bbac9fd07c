import threading
import time

import pytest

from submissions import locks

# --- writer_lock ------------------------------------------------------------


def test_writer_lock_gives_up_at_its_timeout_while_another_process_holds_it(settings, lock_held_by_another_process):
    settings.WRITE_LOCK_TIMEOUT = 0.2
    path, _ = lock_held_by_another_process

    with pytest.raises(locks.WriteLockTimeout), locks.writer_lock(path):
        pytest.fail("entered a lock that another process holds")


def test_writer_lock_is_taken_once_the_other_process_lets_go(settings, lock_held_by_another_process):
    settings.WRITE_LOCK_TIMEOUT = 10
    path, let_go = lock_held_by_another_process
    threading.Timer(0.2, let_go).start()
    entered = []

    with locks.writer_lock(path):
        entered.append(True)

    assert entered


def test_writer_lock_gives_up_at_its_timeout_while_another_thread_holds_it(settings, tmp_path):
    settings.WRITE_LOCK_TIMEOUT = 0.2
    held, release = threading.Event(), threading.Event()

    def hold():
        with locks.writer_lock(tmp_path / "writer-lock"):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with pytest.raises(locks.WriteLockTimeout), locks.writer_lock(tmp_path / "writer-lock"):
            pytest.fail("entered a lock that another thread holds")
    finally:
        release.set()
        holder.join(10)


# --- submission_slot ----------------------------------------------------------


@pytest.fixture
def two_slots(settings, monkeypatch):
    settings.SUBMISSION_SLOTS = 2
    settings.SUBMISSION_SLOT_TIMEOUT = 0.2
    # The slots are made when the first submission comes, with the settings then in force.
    monkeypatch.setattr(locks, "submission_slots", None)


def test_a_submission_beyond_the_slots_waits_its_timeout_then_is_told_busy(two_slots):
    with locks.submission_slot(), locks.submission_slot(), pytest.raises(locks.SubmissionsBusy):
        locks.submission_slot().__enter__()
    # Both were given back.
    with locks.submission_slot(), locks.submission_slot():
        pass


def test_a_waiting_submission_takes_the_slot_another_lets_go(two_slots, settings):
    settings.SUBMISSION_SLOT_TIMEOUT = 10
    taken = []
    with locks.submission_slot(), locks.submission_slot():
        waiter = threading.Thread(target=lambda: taken.append(locks.submission_slot().__enter__()))
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive(), "it waits while both slots are held"
    waiter.join(10)
    assert not waiter.is_alive()
    assert len(taken) == 1


def start_waiter(slots, order: list, name) -> threading.Thread:
    """A thread that waits for a slot, notes `name` in `order` once it has it, and gives it back."""

    def wait_then_note():
        assert slots.acquire(timeout=10)
        order.append(name)
        slots.release()

    waiter = threading.Thread(target=wait_then_note)
    waiter.start()
    return waiter


def test_a_released_slot_goes_to_the_longest_waiter_not_to_a_newcomer():
    slots = locks.FairSlots(1)
    assert slots.acquire(timeout=0)
    order: list = []

    first = start_waiter(slots, order, "first waiter")
    wait_until_waiting(slots, 1)
    slots.release()
    # The slot is the first waiter's now, even before it runs: a newcomer waits behind it.
    assert not slots.acquire(timeout=0)
    first.join(10)
    assert order == ["first waiter"]
    assert slots.acquire(timeout=0)


def test_waiters_are_served_in_the_order_they_came():
    slots = locks.FairSlots(1)
    assert slots.acquire(timeout=0)
    order: list = []

    waiters = []
    for number in range(5):
        waiters.append(start_waiter(slots, order, number))
        wait_until_waiting(slots, number + 1)
    slots.release()
    for waiter in waiters:
        waiter.join(10)

    assert order == [0, 1, 2, 3, 4]


def test_a_waiter_that_gives_up_leaves_the_line():
    slots = locks.FairSlots(1)
    assert slots.acquire(timeout=0)

    assert not slots.acquire(timeout=0.05)

    assert not slots.waiters
    slots.release()
    assert slots.acquire(timeout=0)


def wait_until_waiting(slots, count):
    deadline = time.monotonic() + 10
    while len(slots.waiters) < count:
        assert time.monotonic() < deadline, f"{count} waiters in line"
        time.sleep(0.001)
