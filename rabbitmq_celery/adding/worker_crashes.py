"""How often a task may take down the pool process running it before it is refused."""

# A pool process that dies running a task (killed for its memory, a crash in native code) makes the
# worker send the task again with its `retries` counted up (CELERY_TASK_RETRY_ON_WORKER_LOST). A task
# that does so every time would otherwise keep a pool process crashing for ever.
MAX_WORKER_CRASHES = 3


class CrashedItsWorker(Exception):
    """Every earlier run of the task took down the process running it."""


def refuse_after_worker_crashes(crashes: int) -> None:
    """Raise CrashedItsWorker, with the count, once the task has crashed its worker MAX_WORKER_CRASHES times."""
    if crashes >= MAX_WORKER_CRASHES:
        raise CrashedItsWorker(f"the task crashed its worker {crashes} times; it is not run again")
