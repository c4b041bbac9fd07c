import threading

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
