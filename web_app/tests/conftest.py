import fcntl
import multiprocessing

import pytest


def hold_flock(path, held, release):
    with open(path, "a") as locked_file:
        fcntl.flock(locked_file, fcntl.LOCK_EX)
        held.set()
        release.wait(30)


@pytest.fixture
def lock_held_by_another_process(tmp_path):
    """A lock file that another process holds a flock on, and a function that makes it let go."""
    path = tmp_path / "writer-lock"
    held, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=hold_flock, args=(path, held, release))
    holder.start()
    assert held.wait(10), "the other process took the lock"

    def let_go():
        release.set()
        holder.join(10)

    yield path, let_go
    let_go()
